"""The data a payload decoder hands to the gateway: readings, and why parts were rejected.

A decoder turns one MQTT message into a `DecodeResult`. One message can give good
readings and rejected fields at once: ``{"temperature": 21.5, "humidity": "wet"}`` gives
one `Reading` and one `DecodeIssue` (``wrong_type`` on ``humidity``). Decoders never raise
on bad input; every rejection is data here, so the gateway can count it per reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(slots=True, frozen=True)
class Reading:
    """One measured value of one device at one time.

    `value` is always a finite float. Binary states (occupancy, contact, a relay's
    ``"ON"``/``"OFF"``) become ``1.0`` for true/on and ``0.0`` for false/off, so every
    metric can be aggregated the same way. `ts` is unix seconds: the device's own
    timestamp when the payload carries one, else the receive time.
    """

    device: str
    metric: str
    value: float
    unit: str | None
    ts: float


class DecodeError(StrEnum):
    """Why a payload, or one field of it, was rejected."""

    TOO_LARGE = "too_large"
    """The payload is larger than the decoder's `max_bytes`; it was not parsed."""
    EMPTY = "empty"
    """The payload is empty or whitespace only."""
    NOT_UTF8 = "not_utf8"
    """The payload is not valid UTF-8 text."""
    BAD_JSON = "bad_json"
    """The payload is not valid JSON (truncated, malformed, or nested too deeply)."""
    WRONG_TYPE = "wrong_type"
    """A value has the wrong type: text where a number is expected, a list not an object."""
    NOT_FINITE = "not_finite"
    """A number is NaN, Infinity, or too large for a float."""
    MISSING_FIELD = "missing_field"
    """A field the decoder was configured to read is absent or null."""
    BAD_TIMESTAMP = "bad_timestamp"
    """The payload's timestamp cannot be read; the receive time was used instead."""
    UNKNOWN_TOPIC = "unknown_topic"
    """The topic is not one this decoder reads (e.g. ``zigbee2mqtt/bridge/state``)."""
    NO_READINGS = "no_readings"
    """The payload was read but held nothing the decoder turns into a reading (only text,
    unknown objects, a Shelly ``NotifyEvent``): counted, so no message goes unaccounted."""


@dataclass(slots=True, frozen=True)
class DecodeIssue:
    """One rejection: the reason, the field it concerns (None: the whole payload), a detail."""

    reason: DecodeError
    field: str | None
    detail: str

    def __str__(self) -> str:
        where = self.field if self.field is not None else "payload"
        return f"{where}: {self.reason}: {self.detail}"


@dataclass(slots=True, frozen=True)
class DeviceInfo:
    """What a payload says about the device itself (None: not said).

    Tasmota's ``StatusFWR``/``INFO1``, Zigbee2MQTT's ``bridge/devices``, a Shelly's ``src``.
    """

    device: str
    manufacturer: str | None = None
    model: str | None = None
    sw_version: str | None = None
    hw_version: str | None = None


@dataclass(slots=True, frozen=True)
class DecodeResult:
    """What one message gave: its readings, its rejected parts, what it says of devices."""

    readings: tuple[Reading, ...] = ()
    errors: tuple[DecodeIssue, ...] = ()
    infos: tuple[DeviceInfo, ...] = ()

    @property
    def ok(self) -> bool:
        """Return True when nothing in the message was rejected."""
        return not self.errors


__all__ = ["DecodeError", "DecodeIssue", "DecodeResult", "DeviceInfo", "Reading"]
