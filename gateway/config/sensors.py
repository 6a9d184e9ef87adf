"""The `sensors:` section: sensor streams, decoders, windows, rules."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.config.base import Section
from gateway.config.sections import ID_PATTERN


class SensorConfig(Section):
    """A sensor stream: which topics carry it and how its payloads are decoded."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique sensor id.")
    topic: str = Field(..., min_length=1, description="MQTT topic filter (wildcards allowed).")
    decoder: Literal["plain", "json", "tasmota", "zigbee2mqtt", "shelly"] = Field(
        "json", description="Payload decoder for this topic."
    )
