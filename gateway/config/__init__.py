"""Config: one YAML file validated by pydantic models before anything starts."""

from gateway.config.cloud import CloudSection
from gateway.config.loader import format_path, load_config, parse_config
from gateway.config.models import GatewayConfig
from gateway.config.mqtt import MqttConfig, ReconnectConfig, TlsConfig
from gateway.config.sections import GatewaySection, LoggingSection, StatsSection
from gateway.config.sensors import SensorConfig
from gateway.config.vision import CameraConfig, ModelConfig

__all__ = [
    "CameraConfig",
    "CloudSection",
    "GatewayConfig",
    "GatewaySection",
    "LoggingSection",
    "ModelConfig",
    "MqttConfig",
    "ReconnectConfig",
    "SensorConfig",
    "StatsSection",
    "TlsConfig",
    "format_path",
    "load_config",
    "parse_config",
]
