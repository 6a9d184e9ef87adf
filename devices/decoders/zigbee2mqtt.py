"""Zigbee2MQTT device state: ``zigbee2mqtt/<friendly_name>`` with a JSON object, e.g.
``{"temperature": 21.7, "humidity": 48.2, "battery": 97, "linkquality": 120}``.

The friendly name may contain ``/`` (Zigbee2MQTT allows it) and is the device name.
Not device state, so ``unknown_topic``: ``<base>/bridge/...`` and the ``/set``, ``/get``,
``/availability`` subtopics.

Known keys (`KNOWN_UNITS`, `BINARY_KEYS`) are checked: text in a numeric key is
``wrong_type``. Unknown numeric keys pass through without a unit; unknown keys holding
text, booleans, objects or arrays are skipped silently. A null value is skipped silently
too: Zigbee2MQTT publishes null for exposes the device has not reported yet. ``state``
becomes 1.0/0.0 when it is ``"ON"``/``"OFF"`` and is skipped otherwise (covers, locks).

``voltage`` has no default unit: Zigbee2MQTT reports millivolts for battery devices
(Xiaomi) and volts for metering plugs. Set it per installation with ``units=``.

``last_seen`` (if enabled in Zigbee2MQTT: ISO 8601 or epoch milliseconds) is the
timestamp; otherwise the receive time.

Device info (`info_topics`): ``<base>/bridge/devices`` (retained; a JSON array, one object
per device) gives each ``friendly_name`` its manufacturer (``definition.vendor``, else
``manufacturer``), model (``definition.model``, else ``model_id``) and software version
(``software_build_id``). It may be larger than ``max_bytes`` (up to `BRIDGE_MAX_BYTES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from devices.decoders._common import (
    DEFAULT_MAX_BYTES,
    ResultBuilder,
    check_max_bytes,
    device_info,
    is_number,
    json_type,
    load_json,
    load_json_object,
    lookup,
    make_tz,
    parse_timestamp,
    reject,
    to_bool,
    to_float,
    word_to_bool,
)
from devices.readings import DecodeError, DecodeIssue, DecodeResult

KNOWN_UNITS: Final[dict[str, str | None]] = {
    "temperature": "°C",
    "local_temperature": "°C",
    "device_temperature": "°C",
    "humidity": "%",
    "soil_moisture": "%",
    "pressure": "hPa",
    "battery": "%",
    "linkquality": "lqi",
    "illuminance": "lx",
    "illuminance_lux": "lx",
    "voltage": None,
    "power": "W",
    "current": "A",
    "energy": "kWh",
    "co2": "ppm",
    "voc": "ppb",
    "formaldehyd": "mg/m³",
    "pm25": "µg/m³",
    "pm10": "µg/m³",
    "position": "%",
    "brightness": None,
    "color_temp": "mired",
}
"""Numeric keys and their units."""

BINARY_KEYS: Final = frozenset(
    {
        "occupancy",
        "presence",
        "contact",
        "water_leak",
        "smoke",
        "gas",
        "tamper",
        "battery_low",
        "vibration",
    }
)
"""Keys holding true/false or "ON"/"OFF"; they become 1.0/0.0."""

_STATE_KEY: Final = "state"  # "ON"/"OFF" on switches, but "OPEN"/"LOCK"... elsewhere

_SUBTOPICS: Final = frozenset({"set", "get", "availability"})
_BRIDGE_DEVICES: Final = "bridge/devices"
BRIDGE_MAX_BYTES: Final = 4 * 1024 * 1024
"""The bound on ``bridge/devices`` (its ``exposes`` make it a few kB per device)."""
MAX_BRIDGE_DEVICES: Final = 2000
"""Devices read from one ``bridge/devices`` message; the rest are skipped."""
_TIMESTAMP_KEY: Final = "last_seen"


class Zigbee2MqttDecoder:
    """Decode a Zigbee2MQTT device state message."""

    __slots__ = ("_base", "_max_bytes", "_tz", "_units")

    def __init__(
        self,
        *,
        base_topic: str = "zigbee2mqtt",
        units: Mapping[str, str] | None = None,
        device_tz: str = "UTC",
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._base = base_topic.strip("/")
        self._units = {**KNOWN_UNITS, **(units or {})}
        self._tz = make_tz(device_tz)
        self._max_bytes = check_max_bytes(max_bytes)

    def _device(self, topic: str) -> str | None:
        prefix = self._base + "/"
        if not topic.startswith(prefix):
            return None
        name = topic[len(prefix) :]
        parts = name.split("/")
        if not name or parts[0] == "bridge" or parts[-1] in _SUBTOPICS or "" in parts:
            return None
        return name

    def info_topics(self, topic: str) -> tuple[str, ...]:
        """``<base>/bridge/devices``: every device's manufacturer and model."""
        return (f"{self._base}/{_BRIDGE_DEVICES}",)

    def decode(self, topic: str, payload: bytes, received_at: float) -> DecodeResult:
        """Decode one device state message (or the bridge's device list)."""
        if topic == f"{self._base}/{_BRIDGE_DEVICES}":
            return self._bridge_devices(payload, received_at)
        device = self._device(topic)
        if device is None:
            detail = f"not a device state topic: {topic!r}"
            return reject(DecodeIssue(DecodeError.UNKNOWN_TOPIC, None, detail))
        doc = load_json_object(payload, self._max_bytes)
        if isinstance(doc, DecodeIssue):
            return reject(doc)
        ts = received_at
        seen = doc.get(_TIMESTAMP_KEY)
        seen_ts = None if seen is None else parse_timestamp(seen, self._tz)
        if seen_ts is not None:
            ts = seen_ts
        out = ResultBuilder(device, ts)
        if seen is not None and seen_ts is None:
            out.issue(DecodeIssue(DecodeError.BAD_TIMESTAMP, _TIMESTAMP_KEY, "unreadable"))
        for key, value in doc.items():
            if value is None or key == _TIMESTAMP_KEY:
                continue
            if key == _STATE_KEY:
                if not isinstance(value, str):  # "ON"/"OFF", or "OPEN", "LOCK": always text
                    detail = f"expected text, got {json_type(value)}"
                    out.issue(DecodeIssue(DecodeError.WRONG_TYPE, key, detail))
                elif (word := word_to_bool(value)) is not None:
                    out.add(key, word, None)
            elif key in BINARY_KEYS:
                out.add(key, to_bool(value, key), None)
            elif key in self._units:
                out.add(key, to_float(value, key), self._units[key])
            elif is_number(value):
                out.add(key, to_float(value, key), None)
        return out.result(nothing="no known or numeric value")

    def _bridge_devices(self, payload: bytes, received_at: float) -> DecodeResult:
        doc = load_json(payload, max(self._max_bytes, BRIDGE_MAX_BYTES))
        if isinstance(doc, DecodeIssue):
            return reject(doc)
        if not isinstance(doc, list):
            detail = f"expected a JSON array, got {json_type(doc)}"
            return reject(DecodeIssue(DecodeError.WRONG_TYPE, None, detail))
        out = ResultBuilder(self._base, received_at)
        for entry in doc[:MAX_BRIDGE_DEVICES]:
            name = entry.get("friendly_name") if isinstance(entry, dict) else None
            if not isinstance(name, str) or not name:
                continue  # not a device entry: skipped, as unknown keys are
            vendor = lookup(entry, ("definition", "vendor"))
            model = lookup(entry, ("definition", "model"))
            out.info(
                device_info(
                    name,
                    vendor if isinstance(vendor, str) else entry.get("manufacturer"),
                    model if isinstance(model, str) else entry.get("model_id"),
                    entry.get("software_build_id"),
                )
            )
        return out.result(nothing="no device with a manufacturer or model")
