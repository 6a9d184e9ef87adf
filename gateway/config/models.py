"""The root config model: one YAML file, validated whole before anything starts."""

from __future__ import annotations

from collections import Counter
from typing import Protocol, Self

from pydantic import Field, field_validator, model_validator

from gateway.config.base import Section
from gateway.config.cloud import CloudSection
from gateway.config.costs import CostsSection
from gateway.config.homeassistant import HomeAssistantSection
from gateway.config.mqtt import MqttConfig
from gateway.config.sections import GatewaySection, LoggingSection, StatsSection
from gateway.config.sensors import SensorConfig
from gateway.config.vision import CameraConfig, ModelConfig


class _HasId(Protocol):
    @property
    def id(self) -> str: ...


def _duplicates(ids: list[str]) -> list[str]:
    return sorted(i for i, n in Counter(ids).items() if n > 1)


class GatewayConfig(Section):
    """An edgegw gateway: `gateway.id` and `mqtt` are all a minimal file needs."""

    gateway: GatewaySection = Field(description="Who this gateway is: its id names every topic.")
    mqtt: MqttConfig = Field(default_factory=MqttConfig, description="MQTT broker connection.")
    logging: LoggingSection = Field(default_factory=LoggingSection, description="Logging.")
    stats: StatsSection = Field(default_factory=StatsSection, description="Stats and health.")
    sensors: list[SensorConfig] = Field(default_factory=list, description="Sensor streams.")
    cameras: list[CameraConfig] = Field(default_factory=list, description="Cameras.")
    models: list[ModelConfig] = Field(default_factory=list, description="TFLite models.")
    cloud: CloudSection = Field(default_factory=CloudSection, description="Cloud bridge.")
    homeassistant: HomeAssistantSection = Field(
        default_factory=HomeAssistantSection, description="Home Assistant MQTT discovery."
    )
    costs: CostsSection = Field(
        default_factory=CostsSection,
        description="Energy and money estimates: board, radio, cloud, coefficients.",
    )

    @field_validator("sensors", "cameras", "models")
    @classmethod
    def _unique_ids(cls, items: list[_HasId]) -> list[_HasId]:
        dup = _duplicates([item.id for item in items])
        if dup:
            msg = f"duplicate id(s): {', '.join(dup)}"
            raise ValueError(msg)
        return items

    @model_validator(mode="after")
    def _camera_models_exist(self) -> Self:
        known = {m.id for m in self.models}
        missing = sorted({c.model for c in self.cameras if c.model and c.model not in known})
        if missing:
            listed = ", ".join(sorted(known)) or "none"
            msg = f"cameras name model(s) not in `models:`: {', '.join(missing)} (known: {listed})"
            raise ValueError(msg)
        return self

    @property
    def topic_prefix(self) -> str:
        """Prefix of every gateway topic."""
        return self.mqtt.topic_prefix or f"edgegw/{self.gateway.id}"

    @property
    def client_id(self) -> str:
        """MQTT client id."""
        return self.mqtt.client_id or f"edgegw-{self.gateway.id}"
