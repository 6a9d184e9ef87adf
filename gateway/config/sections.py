"""Top-level sections other than `mqtt:`.

`sensors`, `cameras`, `models` and `cloud` hold what the runtime needs today; the
sensor, vision and cloud-bridge pipelines extend them (see the issues that track them).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr

from gateway.config.base import Section
from gateway.config.paths import ConfigPath

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class GatewaySection(Section):
    """Identity of this gateway."""

    id: str = Field(
        ...,
        pattern=ID_PATTERN,
        description="Unique id of this gateway; part of every topic (`edgegw/<id>/...`).",
    )
    name: str | None = Field(None, description="Human name shown in Home Assistant.")


class LoggingSection(Section):
    """Log output."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["text", "json"] = Field(
        "text", description="`text` for people, `json` (one object per line) for collectors."
    )
    rate_limit_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Hot-path warnings with the same key are logged at most once per this "
        "many seconds; suppressed ones are counted and reported with the next line.",
    )


class StatsSection(Section):
    """Periodic stats on MQTT and the optional local HTTP endpoint."""

    interval_s: float = Field(
        30.0, ge=1, le=86_400, description="Seconds between `<prefix>/stats` publications."
    )
    http_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve `/metrics` (Prometheus) and `/healthz` on this port; off when unset.",
    )
    http_host: str = Field("127.0.0.1", description="Address the HTTP endpoint binds to.")


class SensorConfig(Section):
    """A sensor stream: which topics carry it and how its payloads are decoded."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique sensor id.")
    topic: str = Field(..., min_length=1, description="MQTT topic filter (wildcards allowed).")
    decoder: Literal["plain", "json", "tasmota", "zigbee2mqtt", "shelly"] = Field(
        "json", description="Payload decoder for this topic."
    )


class CameraConfig(Section):
    """A camera: where frames come from."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique camera id.")
    source: str = Field(
        ...,
        min_length=1,
        description="`mqtt:<topic>` for JPEG frames over MQTT, or an OpenCV source: a file "
        "path, an rtsp:// or http:// URL, or a USB index.",
    )
    model: str | None = Field(None, description="Id of the entry in `models:` to run.")


class ModelConfig(Section):
    """A TFLite model: from the model store by name, or a user's file by path."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique model id, used by cameras.")
    name: str | None = Field(None, description="Model store name (see `edgegw models list`).")
    path: str | None = Field(None, description="Path of the user's own .tflite file.")
    num_threads: int = Field(2, ge=1, le=64, description="Interpreter threads.")


class CloudSection(Section):
    """The cloud side: event sink and Open Inference Protocol model server."""

    enabled: bool = Field(False, description="Forward events and hard cases to the cloud.")
    url: str | None = Field(None, description="Base URL of the cloud (event sink and OIP).")
    token: SecretStr | None = Field(None, description="Bearer token; prefer `${ENV_VAR}`.")
    token_file: ConfigPath | None = Field(
        None, description="File whose content is the bearer token."
    )
