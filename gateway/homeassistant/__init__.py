"""Home Assistant MQTT discovery: the gateway, its sensors' metrics and rules as entities."""

from gateway.homeassistant.discovery import Discovery, discovery_configs

__all__ = ["Discovery", "discovery_configs"]
