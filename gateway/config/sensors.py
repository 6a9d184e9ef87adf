"""The `sensors:` section: sensor streams, decoders, windows, report by exception, rules.

A sensor is one `sensors:` entry: the MQTT topic filter its devices publish on, the
decoder that reads them, the metrics it keeps (with their Home Assistant metadata), the
window it summarises over, and the rules that raise `sensor.alert` events. Rules are a
discriminated union on `type` (`threshold`, `rate_of_change`, `anomaly`).

Decoder options are checked by building the decoder here, so a bad option is reported
with its file, line and key before anything starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from devices.decoders import DECODERS, DecoderConfigError, make_decoder
from gateway.config.base import Section
from gateway.config.ha_classes import (
    BINARY_SENSOR_DEVICE_CLASSES,
    SENSOR_DEVICE_CLASSES,
    SENSOR_NOT_NUMERIC,
    SENSOR_UNITS,
    STATE_CLASSES,
    default_state_class,
    unit_accepted,
)
from gateway.config.sections import ID_PATTERN
from gateway.config.topics import SubscribeFilter

METRIC_PATTERN = r"^[a-z0-9][a-z0-9_]{0,63}$"
"""Metric names as the decoders produce them: lower case, digits and `_`."""

Statistic = Literal["mean", "last", "min", "max"]
MetricName = Annotated[str, StringConstraints(pattern=METRIC_PATTERN)]

if TYPE_CHECKING:
    DecoderName = str
else:  # the registry's keys as a Literal: pydantic checks it, the JSON schema lists it
    DecoderName = Literal[tuple(DECODERS)]


class MetricConfig(Section):
    """One metric of a sensor: what is reported for it and how Home Assistant shows it.

    Home Assistant's metadata is checked against its documented lists (`ha_classes`):
    the device class must be one Home Assistant knows for the entity's component, the
    unit one it accepts for that class, the state class one it allows with it. A metric
    with a device class and no `unit` takes the unit its decoder reports (announced to
    Home Assistant once that is known).
    """

    name: str | None = Field(None, description="Display name in Home Assistant; the key if unset.")
    statistic: Statistic = Field(
        "mean",
        description="The window statistic that is the metric's `value`: compared with the "
        "deadband and shown by Home Assistant.",
    )
    deadband: float | None = Field(
        None,
        ge=0,
        description="Report by exception: a window summary is published only when `value` "
        "moved more than this since the last published one (or the heartbeat is due). "
        "Unset: every window is published.",
    )
    unit: str | None = Field(
        None, max_length=32, description="Unit of measurement; the decoder's unit if unset."
    )
    component: Literal["sensor", "binary_sensor"] | None = Field(
        None,
        description="Home Assistant entity type. Unset: `binary_sensor` for a binary device "
        "class (`occupancy`, `door`, ...) or a metric the decoders give as 1.0/0.0 "
        "(`occupancy`, `contact`, `water_leak`, ...), else `sensor`. A binary_sensor is on "
        "when the window's last reading is >= 0.5.",
    )
    device_class: str | None = Field(
        None,
        pattern=r"^[a-z0-9_]{1,64}$",
        description="Home Assistant device class of the component (sensor: `temperature`, "
        "`humidity`, ...; binary_sensor: `occupancy`, `door`, ...), from its documented lists.",
    )
    state_class: Literal["measurement", "total", "total_increasing"] | None = Field(
        "measurement",
        description="Home Assistant state class; null for none. Unset with a device class "
        "that does not allow `measurement` (energy, gas, volume, water): `total_increasing`.",
    )
    inverted: bool = Field(
        False,
        description="binary_sensor: on when the reading is 0 (Zigbee2MQTT `contact`: true "
        "means closed, a door is on when open). Unset for `contact`: true.",
    )
    entity_category: Literal["diagnostic"] | None = Field(
        None, description="`diagnostic` puts the entity under the device's diagnostics."
    )
    icon: str | None = Field(
        None, pattern=r"^mdi:[a-z0-9-]{1,64}$", description="Material Design icon (`mdi:...`)."
    )
    display_precision: int | None = Field(
        None, ge=0, le=6, description="Decimals Home Assistant shows (suggested_display_precision)."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_state_class(cls, data: Any) -> Any:
        if isinstance(data, dict) and "state_class" not in data:
            device_class = data.get("device_class")
            if isinstance(device_class, str) and device_class in STATE_CLASSES:
                return {**data, "state_class": default_state_class(device_class)}
        return data

    @model_validator(mode="after")
    def _check_ha(self) -> MetricConfig:
        cls = self.device_class
        if self.component == "binary_sensor" or (
            self.component is None and cls in BINARY_SENSOR_DEVICE_CLASSES - SENSOR_DEVICE_CLASSES
        ):
            if cls is not None and cls not in BINARY_SENSOR_DEVICE_CLASSES:
                known = ", ".join(sorted(BINARY_SENSOR_DEVICE_CLASSES))
                msg = f"device_class {cls!r} is not a Home Assistant binary_sensor class ({known})"
                raise ValueError(msg)
            if self.unit is not None:
                msg = "a binary_sensor has no unit"
                raise ValueError(msg)
            return self
        if cls is None:
            return self
        if cls not in SENSOR_DEVICE_CLASSES:
            known = ", ".join(sorted(SENSOR_DEVICE_CLASSES | BINARY_SENSOR_DEVICE_CLASSES))
            msg = f"device_class {cls!r} is not a Home Assistant device class ({known})"
            raise ValueError(msg)
        if cls in SENSOR_NOT_NUMERIC:
            msg = f"device_class {cls!r} is for text or dates; metrics are numbers"
            raise ValueError(msg)
        if self.unit is not None and not unit_accepted(cls, self.unit):
            units = ", ".join(sorted(u or "no unit" for u in SENSOR_UNITS.get(cls, ())))
            msg = f"unit {self.unit!r} is not one Home Assistant accepts for {cls} ({units})"
            raise ValueError(msg)
        allowed = STATE_CLASSES.get(cls, frozenset())
        if self.state_class is not None and self.state_class not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            msg = f"state_class {self.state_class!r} is not allowed with {cls} ({known})"
            raise ValueError(msg)
        return self


class _RuleBase(Section):
    id: str = Field(..., pattern=ID_PATTERN, description="Rule id, unique within the sensor.")
    metric: str = Field(..., pattern=METRIC_PATTERN, description="Metric the rule watches.")
    device: str | None = Field(
        None, description="Only readings of this device; every device of the sensor if unset."
    )


class ThresholdRule(_RuleBase):
    """Alert while the value is above `above` (or below `below`); clear with hysteresis."""

    type: Literal["threshold"] = Field(description="Threshold with hysteresis.")
    above: float | None = Field(None, description="Alert when the value goes above this.")
    below: float | None = Field(None, description="Alert when the value goes below this.")
    hysteresis: float = Field(
        0.0,
        ge=0,
        description="Clear only once the value is back this far inside the limit, so a "
        "value hovering at the limit does not flap.",
    )

    @model_validator(mode="after")
    def _one_limit_at_least(self) -> ThresholdRule:
        if self.above is None and self.below is None:
            msg = "give above, below, or both"
            raise ValueError(msg)
        if self.above is not None and self.below is not None and self.below >= self.above:
            msg = "below must be less than above"
            raise ValueError(msg)
        return self


class RateOfChangeRule(_RuleBase):
    """Alert when the value changes more than `max_delta` within `period_s`."""

    type: Literal["rate_of_change"] = Field(description="Rate of change.")
    max_delta: float = Field(..., gt=0, description="Largest allowed change within period_s.")
    period_s: float = Field(
        60.0, gt=0, le=86_400, description="Look-back period of the change, in seconds."
    )
    direction: Literal["rise", "fall", "both"] = Field(
        "both", description="Which changes count: rises, falls, or both."
    )


class AnomalyRule(_RuleBase):
    """Alert when a value is `z` standard deviations off its EWMA mean."""

    type: Literal["anomaly"] = Field(description="EWMA z-score anomaly.")
    alpha: float = Field(
        0.05, gt=0, lt=1, description="EWMA smoothing factor (weight of the newest reading)."
    )
    z: float = Field(4.0, gt=0, le=100, description="Alert at |value - mean| / std above this.")
    clear_z: float | None = Field(
        None, gt=0, description="Clear below this z-score; half of `z` if unset."
    )
    warmup: int = Field(
        30, ge=2, le=100_000, description="Readings learned before the rule may alert."
    )
    min_std: float = Field(
        1e-6, gt=0, description="Floor of the standard deviation (a flat signal is not noise-free)."
    )


RuleConfig = Annotated[ThresholdRule | RateOfChangeRule | AnomalyRule, Field(discriminator="type")]
"""One rule, picked by its `type`."""


class SensorConfig(Section):
    """A sensor stream: its topics, decoder, metrics, window and rules."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique sensor id.")
    name: str | None = Field(None, description="Display name in Home Assistant; the id if unset.")
    topic: SubscribeFilter = Field(
        ..., description="MQTT topic filter (`+` a whole level, `#` alone in the last level)."
    )
    decoder: DecoderName = Field("json", description="Payload decoder for this topic.")
    decoder_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Keyword options of the decoder (e.g. json: `fields`, `units`, "
        "`device_from_topic`; plain: `device`, `metric`, `unit`). Checked at load. The "
        "json decoder without `fields` reads each metric from the top-level key of its name.",
    )
    max_bytes: int = Field(
        4096,
        ge=16,
        le=16 * 1024 * 1024,
        description="Payloads larger than this are rejected (`too_large`) before parsing.",
    )
    device: str | None = Field(
        None, description="Only readings of this device; every device on the topic if unset."
    )
    metrics: dict[MetricName, MetricConfig] = Field(
        default_factory=dict,
        description="Metrics kept, by name as the decoder gives them; others are ignored. "
        "Empty: every metric is kept (and none is announced to Home Assistant).",
    )
    window_s: float = Field(
        60.0, gt=0, le=86_400, description="Tumbling window length: one summary per window."
    )
    heartbeat_s: float = Field(
        600.0,
        gt=0,
        le=7 * 86_400,
        description="Publish a summary at least this often, even inside the deadband.",
    )
    expected_interval_s: float | None = Field(
        None,
        gt=0,
        le=7 * 86_400,
        description="A device silent for longer than this is `device.offline` until it "
        "reports again (`device.online`). Unset: no liveness check.",
    )
    rules: list[RuleConfig] = Field(default_factory=list, description="Alert rules.")

    def decoder_kwargs(self) -> dict[str, Any]:
        """Keyword options for `make_decoder`: `decoder_options` plus `max_bytes`.

        The json decoder without `fields` reads each configured metric from the
        top-level key of the same name.
        """
        options = {**self.decoder_options, "max_bytes": self.max_bytes}
        if self.decoder == "json" and "fields" not in options and self.metrics:
            options["fields"] = {name: name for name in self.metrics}
        return options

    @model_validator(mode="after")
    def _check(self) -> SensorConfig:
        if "max_bytes" in self.decoder_options:
            msg = "set max_bytes on the sensor, not in decoder_options"
            raise ValueError(msg)
        try:
            make_decoder(self.decoder, **self.decoder_kwargs())
        except (DecoderConfigError, TypeError, AttributeError) as exc:
            # TypeError/AttributeError: an option of the wrong shape (`fields: 3`).
            # A bare `{id, topic}` entry is a placeholder that validates (the runtime
            # refuses to start it, with this same message); given options must be right.
            if self.decoder_options or self.metrics:
                msg = f"decoder_options: {exc}"
                raise ValueError(msg) from None
        ids = [r.id for r in self.rules]
        if dup := sorted({i for i in ids if ids.count(i) > 1}):
            msg = f"duplicate rule id(s): {', '.join(dup)}"
            raise ValueError(msg)
        if self.metrics:
            unknown = sorted({r.metric for r in self.rules} - set(self.metrics))
            if unknown:
                msg = f"rules watch metric(s) not in metrics: {', '.join(unknown)}"
                raise ValueError(msg)
        return self


__all__ = [
    "AnomalyRule",
    "MetricConfig",
    "RateOfChangeRule",
    "RuleConfig",
    "SensorConfig",
    "Statistic",
    "ThresholdRule",
]
