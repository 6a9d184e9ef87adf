"""The `homeassistant:` section: MQTT discovery of the gateway, its sensors and cameras."""

from __future__ import annotations

from pydantic import Field

from gateway.config.base import Section
from gateway.config.topics import PublishTopic


class HomeAssistantSection(Section):
    """Home Assistant MQTT discovery (on by default)."""

    discovery: bool = Field(
        True,
        description="Announce the gateway, each configured sensor metric and each rule, and "
        "each camera's snapshot and per-label occupancy and count to Home Assistant; remove "
        "entities no longer configured.",
    )
    discovery_prefix: PublishTopic = Field(
        "homeassistant",
        description="Home Assistant's discovery prefix; its birth message is `<prefix>/status`.",
    )
