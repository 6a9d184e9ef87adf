"""The `mqtt:` section: broker address, credentials, TLS, session and queueing."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from gateway.config.backoff import BackoffConfig
from gateway.config.base import OptionalSecret, Section
from gateway.config.paths import ConfigPath
from gateway.config.topics import PublishTopic


class TlsConfig(Section):
    """TLS to the broker. Verification is on unless explicitly turned off."""

    enabled: bool = Field(False, description="Connect over TLS.")
    ca_file: ConfigPath | None = Field(
        None,
        description="PEM file of the CA(s) that signed the broker's certificate; "
        "the system trust store when unset.",
    )
    cert_file: ConfigPath | None = Field(
        None, description="Client certificate (PEM) for mutual TLS."
    )
    key_file: ConfigPath | None = Field(
        None, description="Client private key (PEM) for mutual TLS."
    )
    verify: bool = Field(
        True,
        description="Verify the broker's certificate and host name. Turning this off is "
        "insecure and logged as a warning at every start; there is never a plain-text fallback.",
    )

    @model_validator(mode="after")
    def _cert_and_key_together(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            msg = "cert_file and key_file must be given together"
            raise ValueError(msg)
        return self


class MqttConfig(Section):
    """Connection to the MQTT broker the gateway lives on."""

    broker: Literal["external", "embedded"] = Field(
        "external",
        description="`external`: connect to host:port (Mosquitto in production). `embedded`: "
        "start an in-process amqtt broker on 127.0.0.1:port for trying edgegw out.",
    )
    host: str = Field("127.0.0.1", min_length=1, description="Broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="Broker TCP port.")
    protocol: Literal["3.1.1", "5"] = Field("3.1.1", description="MQTT protocol version.")
    client_id: str | None = Field(
        None, max_length=128, description="MQTT client id; `edgegw-<gateway id>` when unset."
    )
    keepalive_s: int = Field(30, ge=5, le=65535, description="MQTT keepalive interval.")
    username: str | None = Field(None, description="Username for broker authentication.")
    password: OptionalSecret = Field(
        None,
        description="Password; prefer `${ENV_VAR}` or `password_file`. Empty (an unset "
        "`${VAR:-}`): none.",
    )
    password_file: ConfigPath | None = Field(
        None, description="File whose content (stripped) is the password (Docker/K8s secrets)."
    )
    tls: TlsConfig = Field(default_factory=TlsConfig, description="TLS settings.")
    topic_prefix: PublishTopic | None = Field(
        None,
        description="Prefix of every gateway topic; `edgegw/<gateway id>` when unset. "
        "Published to: no wildcards.",
    )
    reconnect: BackoffConfig = Field(
        default_factory=lambda: BackoffConfig(min_delay_s=0.5, max_delay_s=30.0),
        description="Reconnect backoff.",
    )
    max_queued_messages: int = Field(
        10_000,
        ge=1,
        le=10_000_000,
        description="Bound on messages waiting to be sent while the broker is away; past it "
        "the oldest are dropped and counted (`mqtt_dropped`).",
    )
    max_inflight: int = Field(
        20, ge=1, le=65535, description="QoS 1 publishes awaiting PUBACK at once."
    )
    connect_timeout_s: float = Field(10.0, gt=0, le=300, description="Connect timeout.")

    @model_validator(mode="after")
    def _one_password_source(self) -> MqttConfig:
        if self.password is not None and self.password_file is not None:
            msg = "give either password or password_file, not both"
            raise ValueError(msg)
        return self
