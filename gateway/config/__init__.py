"""Config: one YAML file validated by pydantic models before anything starts."""

from gateway.config.backoff import BackoffConfig
from gateway.config.cloud import CloudSection
from gateway.config.loader import format_path, load_config, parse_config
from gateway.config.models import GatewayConfig
from gateway.config.mqtt import MqttConfig, TlsConfig
from gateway.config.sections import GatewaySection, LoggingSection, StatsSection
from gateway.config.sensors import SensorConfig
from gateway.config.vision import CameraConfig, ModelConfig

__all__ = [
    "BackoffConfig",
    "CameraConfig",
    "CloudSection",
    "GatewayConfig",
    "GatewaySection",
    "LoggingSection",
    "ModelConfig",
    "MqttConfig",
    "SensorConfig",
    "StatsSection",
    "TlsConfig",
    "format_path",
    "load_config",
    "parse_config",
]
