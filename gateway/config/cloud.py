"""The `cloud:` section: event sink (HTTP or a cloud MQTT broker), Open Inference Protocol
model, outbox, retries, budgets."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, field_validator, model_validator

from gateway.config.base import OptionalSecret, Section
from gateway.config.mqtt import TlsConfig
from gateway.config.paths import ConfigPath
from gateway.config.sections import is_loopback
from gateway.kinds import Kind, kinds_matching

_MB = 1_000_000


def _names_a_kind(pattern: str) -> str:
    if not kinds_matching(pattern):
        known = ", ".join(k.value for k in Kind)
        msg = f"{pattern!r} matches no event kind edgegw emits ({known})"
        raise ValueError(msg)
    return pattern


KindPattern = Annotated[str, AfterValidator(_names_a_kind)]
"""A shell pattern (`*`, `sensor.*`, `vision.hard_case`) that names at least one `Kind`."""


class OutboxClassSection(Section):
    """Bounds of one outbox class."""

    max_bytes: int = Field(
        50 * _MB,
        ge=1_000,
        le=100_000 * _MB,
        description="Bytes stored at most; past it the lowest-priority, oldest items are "
        "evicted (and counted).",
    )
    ttl_s: float = Field(
        86_400.0, gt=0, le=365 * 86_400, description="Items older than this are dropped."
    )


class OutboxSection(Section):
    """The durable outbox (SQLite, WAL) where items wait for the cloud's acknowledgement."""

    path: ConfigPath | None = Field(
        None,
        description="Database file; default `<data dir>/outbox/<gateway id>.db` "
        "(`$EDGEGW_DATA_DIR` or the user cache dir).",
    )
    events: OutboxClassSection = Field(
        default_factory=OutboxClassSection, description="Summaries, alerts, detections."
    )
    hard_cases: OutboxClassSection = Field(
        default_factory=lambda: OutboxClassSection(max_bytes=200 * _MB, ttl_s=3_600.0),
        description="Hard cases waiting for the cloud model (JPEG crops).",
    )
    handoff_max_items: int = Field(
        10_000,
        ge=10,
        le=1_000_000,
        description="Events waiting in memory for the outbox writer; past it new ones are "
        "dropped and counted (only when the disk stalls).",
    )


class RetrySection(Section):
    """Exponential backoff with full jitter between failed attempts."""

    base_s: float = Field(0.5, gt=0, le=60, description="Delay ceiling of the first retry.")
    cap_s: float = Field(60.0, gt=0, le=3_600, description="Largest delay ceiling.")
    max_retry_after_s: float = Field(
        300.0, ge=0, le=86_400, description="A server's `Retry-After` is honoured up to this."
    )

    @model_validator(mode="after")
    def _base_below_cap(self) -> RetrySection:
        if self.base_s > self.cap_s:
            raise ValueError(f"base_s ({self.base_s}) must not exceed cap_s ({self.cap_s})")
        return self


class BreakerSection(Section):
    """Circuit breaker: stop calling a dead endpoint for a while."""

    failure_threshold: int = Field(
        5, ge=1, le=1_000, description="Consecutive failures that open the circuit."
    )
    open_s: float = Field(
        15.0, gt=0, le=3_600, description="Seconds open before one probe; doubles per failed probe."
    )
    max_open_s: float = Field(120.0, gt=0, le=86_400, description="Longest open period.")


class BudgetSection(Section):
    """Limits on hard cases sent to the cloud model; past them items wait (most uncertain first)."""

    calls_per_min: int | None = Field(
        60, ge=1, le=1_000_000, description="Cloud model calls per minute; null: unlimited."
    )
    bytes_per_hour: int | None = Field(
        50 * _MB, ge=1_000, le=10**12, description="Hard-case bytes per hour; null: unlimited."
    )


_TOPIC_FIELDS = ("{gateway_id}", "{kind}")


def _topic_template(template: str) -> str:
    rest = template
    for field in _TOPIC_FIELDS:
        rest = rest.replace(field, "x")
    if any(c in rest for c in "+#{}\0") or not rest or rest.startswith("$"):
        msg = (
            f"{template!r}: a topic to publish to takes no wildcards (+ #), no leading $, "
            f"and only the fields {', '.join(_TOPIC_FIELDS)}"
        )
        raise ValueError(msg)
    return template


TopicTemplate = Annotated[str, AfterValidator(_topic_template)]
"""A publish topic with `{gateway_id}` and `{kind}` filled in per event."""


class CloudMqttSection(Section):
    """The cloud broker events are published to (AWS IoT Core, EMQX, HiveMQ, Mosquitto).

    Defaults follow AWS IoT Core's quotas: 128 KB payloads, 100 publishes/s per
    connection, topics of at most 8 levels.
    """

    host: str = Field(..., min_length=1, description="Broker host name, e.g. "
                      "`abc123-ats.iot.eu-west-1.amazonaws.com`.")  # fmt: skip
    port: int = Field(8883, ge=1, le=65535, description="Broker port (8883: MQTT over TLS).")
    protocol: Literal["5", "3.1.1"] = Field(
        "5",
        description="MQTT version. 5 tells a refused publish (ACL) by its PUBACK reason "
        "code; under 3.1.1 a broker acknowledges or disconnects, and Mosquitto drops a "
        "refused publish silently.",
    )
    client_id: str | None = Field(
        None, min_length=1, max_length=128,
        description="MQTT client id (AWS IoT: the thing name); `edgegw-<gateway id>` when unset.",
    )  # fmt: skip
    tls: TlsConfig = Field(
        default_factory=lambda: TlsConfig(enabled=True),
        description="TLS: the CA of the broker and this gateway's client certificate and key.",
    )
    topic: TopicTemplate = Field(
        "fleet/{gateway_id}/events/{kind}",
        description="Topic each event is published to; `{gateway_id}` and `{kind}` are filled in.",
    )
    verdicts_topic: TopicTemplate | None = Field(
        None,
        description="Subscribe here (e.g. `fleet/{gateway_id}/verdicts`) for hard-case "
        "verdicts the cloud publishes; null: verdicts come only from the OIP answer.",
    )
    keepalive_s: int = Field(60, ge=5, le=1_200, description="MQTT keepalive (AWS: <= 1200).")
    connect_timeout_s: float = Field(10.0, gt=0, le=300, description="TCP+TLS+CONNACK timeout.")
    ack_timeout_s: float = Field(
        10.0, gt=0, le=600, description="PUBACKs of one round must come within this."
    )
    max_payload_bytes: int = Field(
        128_000, ge=256, le=268_435_455,
        description="Largest publish payload; a bigger event is dropped and counted "
        "(`cloud_dropped{reason=oversize}`). A smaller broker Maximum Packet Size wins.",
    )  # fmt: skip
    max_publishes_per_s: float | None = Field(
        100.0, gt=0, le=1_000_000, description="Publish rate cap; null: none."
    )
    max_topic_levels: int = Field(
        8, ge=1, le=1_000, description="Most topic levels the broker takes (AWS: 8)."
    )
    events_per_publish: int = Field(
        1, ge=1, le=10_000,
        description="1: one JSON event per publish; more: up to this many events of one "
        "kind as one JSON array per publish (fewer, larger messages).",
    )  # fmt: skip
    max_inflight: int = Field(20, ge=1, le=65_535, description="Publishes awaiting PUBACK.")

    @field_validator("tls", mode="before")
    @classmethod
    def _tls_on_unless_said(cls, value: object) -> object:
        # A cloud broker speaks TLS: a `tls:` block with files but no `enabled` means on.
        if isinstance(value, dict) and "enabled" not in value:
            return {**value, "enabled": True}
        return value

    @model_validator(mode="after")
    def _levels(self) -> CloudMqttSection:
        for topic in (self.topic, self.verdicts_topic):
            if topic is not None and topic.count("/") + 1 > self.max_topic_levels:
                msg = f"topic {topic!r} has more than max_topic_levels ({self.max_topic_levels})"
                raise ValueError(msg)
        return self


class EventsUplinkSection(Section):
    """How events go upstream: `http` (POST to the event sink) or `mqtt` (a cloud broker)."""

    transport: Literal["http", "mqtt"] = Field(
        "http",
        description="`http`: POST gzip JSON batches to `url` + `events_path`. `mqtt`: "
        "publish each event (QoS 1) to the broker in `mqtt`. Hard cases go to OIP over "
        "HTTP either way.",
    )
    mqtt: CloudMqttSection | None = Field(None, description="The cloud broker (transport mqtt).")

    @model_validator(mode="after")
    def _broker_when_mqtt(self) -> EventsUplinkSection:
        if self.transport == "mqtt" and self.mqtt is None:
            raise ValueError("cloud.events.mqtt (host, tls, ...) is required with transport mqtt")
        return self


class CloudSection(Section):
    """The cloud side: two endpoints, the event sink and the Open Inference Protocol server.

    `events_url` takes event batches (edgegw's own cloud, `edgegw cloud serve`, has one);
    `oip_url` judges hard cases (KServe, MLServer, Triton, or edgegw's own cloud). `url`
    is the shorthand for edgegw's own cloud, which serves both.
    """

    enabled: bool = Field(False, description="Forward events and hard cases to the cloud.")
    url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="Base URL of edgegw's own cloud (`edgegw cloud serve`), which serves "
        "both endpoints: the default of `events_url` (url + events_path) and `oip_url`. "
        "With events.transport mqtt and no url or oip_url, hard cases are not judged.",
    )
    events_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The event sink: full URL that takes event batches, e.g. "
        "https://cloud:8080/v1/events; default `url` + `events_path`. OIP servers "
        "(KServe, MLServer) have none. Unused with events.transport mqtt.",
    )
    token: OptionalSecret = Field(
        None, description="Bearer token; prefer `${ENV_VAR}`. Empty (an unset `${VAR:-}`): none."
    )
    token_file: ConfigPath | None = Field(
        None, description="File whose content is the bearer token."
    )
    ca_file: ConfigPath | None = Field(
        None, description="PEM CA bundle to verify the cloud's TLS certificate (else system)."
    )
    allow_insecure: bool = Field(
        False,
        description="Allow a plain `http://` url, events_url or oip_url together with a token "
        "(it then travels in clear text; warned at every start). Loopback hosts never need it.",
    )
    events_path: str = Field(
        "/v1/events", pattern=r"^/", description="Path of the event sink under `url`."
    )
    oip_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The OIP server: base URL of the model server that judges hard cases "
        "(`/v2/...` under it), e.g. http://kserve:8080; default `url`.",
    )
    model: str = Field("person", min_length=1, description="OIP model name judging hard cases.")
    model_version: str | None = Field(None, description="OIP model version; null: the default.")
    unknown_model: str = Field(
        "objects",
        min_length=1,
        description="OIP model name naming unknown objects (hard cases of kind `unknown`, "
        "`objects.unknown`); `edgegw cloud serve` hosts `objects` (EfficientNet-Lite0).",
    )
    image_encoding: Literal["jpeg", "uint8"] = Field(
        "jpeg", description="`jpeg`: a BYTES tensor holding the JPEG; `uint8`: an HxWx3 tensor."
    )
    binary_data: Literal["auto", "always", "never"] = Field(
        "auto",
        description="OIP binary tensor data extension for the image (raw bytes after the "
        "JSON; else JSON, a JPEG as base64 text): `auto` when the server lists "
        "`binary_tensor_data` in `GET /v2` (edgegw's cloud, Triton), `always`, `never`.",
    )
    verdict_min_score: float = Field(
        0.5, ge=0, le=1, description="The cloud must score the edge's label this high to confirm."
    )
    verdict_reject_score: float = Field(
        0.7,
        ge=0,
        le=1,
        description="The cloud must be this sure of a no to retract a track: its negative "
        "label scored this high, or the edge's label at most 1 minus this; a weaker no is "
        "`unsure` and the edge's event stands (0: every no retracts). On vtest.avi's 334 "
        "labelled crops the reference judge's noes retract 7 of 162 people at 0.7 instead "
        "of 17, and 169 of 172 non-people instead of 171 (`python -m bench.judge_accuracy`).",
    )
    forward_kinds: list[KindPattern] = Field(
        default_factory=lambda: ["*"],
        description="Event kinds sent upstream (shell patterns); `cloud.verdict` never is.",
    )
    drop_kinds: list[KindPattern] = Field(
        default_factory=list,
        description="Event kinds never sent upstream, even if forwarded (shell patterns, e.g. "
        "`sensor.summary` to keep summaries local).",
    )
    events: EventsUplinkSection = Field(
        default_factory=EventsUplinkSection, description="Event transport (http or mqtt)."
    )
    outbox: OutboxSection = Field(default_factory=OutboxSection, description="Durable outbox.")
    retry: RetrySection = Field(default_factory=RetrySection, description="Retry backoff.")
    breaker: BreakerSection = Field(default_factory=BreakerSection, description="Breaker.")
    budget: BudgetSection = Field(default_factory=BudgetSection, description="Hard-case budget.")
    request_timeout_s: float = Field(
        10.0, gt=0, le=600, description="Whole-request timeout of an event batch POST."
    )
    infer_timeout_s: float = Field(
        20.0, gt=0, le=600, description="Whole-request timeout of one hard-case inference."
    )
    batch_max_events: int = Field(100, ge=1, le=10_000, description="Events per POST at most.")
    batch_max_bytes: int = Field(
        256_000, ge=1_000, le=100 * _MB, description="Uncompressed bytes per POST at most."
    )
    idle_poll_s: float = Field(
        5.0, gt=0, le=3_600, description="Look at the outbox this often when nothing new came."
    )

    @model_validator(mode="after")
    def _url_when_enabled(self) -> CloudSection:
        mqtt = self.events.transport == "mqtt"
        if self.enabled and self.oip_base_url() is None and not mqtt:
            raise ValueError(
                "the OIP server is not set: give cloud.oip_url (or cloud.url for edgegw's "
                "own cloud) when cloud.enabled is true (with events.transport: mqtt it may "
                "be left out: hard cases are then not judged)"
            )
        if self.enabled and self.event_sink_url() is None and self.forwards_events() and not mqtt:
            raise ValueError(
                "the event sink is not set: give cloud.events_url (or cloud.url), or forward "
                "only hard cases (forward_kinds: [vision.hard_case]) to an OIP-only cloud, "
                "or send events to a cloud broker (events.transport: mqtt)"
            )
        if self.insecure_urls() and not self.allow_insecure:
            listed = ", ".join(self.insecure_urls())
            msg = (
                f"a token would be sent in clear text to {listed}: use https://, "
                "or set allow_insecure: true"
            )
            raise ValueError(msg)
        return self

    def event_sink_url(self) -> str | None:
        """The event sink's URL: `events_url`, else `url` + `events_path`, else None."""
        if self.events_url is not None:
            return self.events_url
        return self.url.rstrip("/") + self.events_path if self.url is not None else None

    def oip_base_url(self) -> str | None:
        """The OIP server's base URL: `oip_url`, else `url`, else None."""
        return self.oip_url or self.url

    def forwards_events(self) -> bool:
        """Whether any kind other than hard cases goes upstream (those need the sink)."""
        kinds = {k for pattern in self.forward_kinds for k in kinds_matching(pattern)}
        dropped = {k for pattern in self.drop_kinds for k in kinds_matching(pattern)}
        return bool(kinds - dropped - {Kind.VISION_HARD_CASE, Kind.CLOUD_VERDICT})

    def insecure_urls(self) -> list[str]:
        """Plain-HTTP, non-loopback endpoints a token would be sent to (with passwords masked)."""
        if self.token is None and self.token_file is None:
            return []
        return [
            f"{parts.scheme}://{parts.hostname}"
            for url in (self.url, self.events_url, self.oip_url)
            if url is not None
            and (parts := urlsplit(url)).scheme == "http"
            and not (parts.hostname is not None and is_loopback(parts.hostname))
        ]
