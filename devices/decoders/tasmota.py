"""Tasmota telemetry: ``tele/<device>/SENSOR`` (and ``stat/<device>/STATUS8``/``STATUS10``).

A SENSOR payload holds one object per sensor plus a few top-level keys::

    {"Time": "2024-01-01T12:00:00", "AM2301": {"Temperature": 22.1, "Humidity": 41.0},
     "DS18B20-1": {"Id": "01144A0CB2AA", "Temperature": 21.4}, "TempUnit": "C"}

Metric names: ``<sensor>_<key>`` in lower case, every run of other characters than
``a-z0-9`` turned into ``_`` (``DS18B20-1``/``Temperature`` -> ``ds18b20_1_temperature``,
``ENERGY``/``Total`` -> ``energy_total``). Array values are per channel, numbered from 1
as Tasmota does (``ENERGY.Power: [10, 20]`` -> ``energy_power_1``, ``energy_power_2``).
Top-level values become ``<key>`` (``"Switch1": "ON"`` -> ``switch1`` = 1.0).

Numbers and booleans become readings; ``"ON"``/``"OFF"`` become 1.0/0.0; other text (ids,
dates) is skipped. A key Tasmota documents as numeric (Temperature, Humidity, Pressure,
Power, ...) holding text is a ``wrong_type`` issue. Units: temperatures from ``TempUnit``,
pressures from ``PressureUnit``, the rest from `KNOWN_UNITS`. ``Time`` is the device's
local time, read in ``device_tz``.

Device info (`info_topics`): ``stat/<device>/STATUS2`` (``StatusFWR``: ``Version`` is the
software version, ``Hardware`` the hardware version), ``stat/<device>/STATUS0`` (all of
them, ``StatusSNS`` readings too), ``stat/<device>/STATUS`` (``Status.Module``) and
``tele/<device>/INFO1`` (sent at boot: ``Info1.Module``, ``Info1.Version``). The model is
the module when it is a name (``"Sonoff Basic"``); a module number (``"Module": 1``) is
not turned into a name. The manufacturer is ``Tasmota`` (what Home Assistant's own
Tasmota integration shows).
"""

from __future__ import annotations

from typing import Final

from devices.decoders._common import (
    DEFAULT_MAX_BYTES,
    ResultBuilder,
    check_max_bytes,
    device_info,
    is_number,
    json_type,
    load_json_object,
    make_tz,
    metric_name,
    parse_timestamp,
    reject,
    to_float,
    word_to_bool,
)
from devices.readings import DecodeError, DecodeIssue, DecodeResult, DeviceInfo

TEMPERATURE_KEYS: Final = frozenset({"Temperature", "DewPoint", "HeatIndex"})
PRESSURE_KEYS: Final = frozenset({"Pressure", "SeaPressure"})
KNOWN_UNITS: Final[dict[str, str | None]] = {
    "Humidity": "%",
    "Illuminance": "lx",
    "CarbonDioxide": "ppm",
    "eCO2": "ppm",
    "TVOC": "ppb",
    "Distance": "cm",
    "Power": "W",
    "ApparentPower": "VA",
    "ReactivePower": "var",
    "Factor": None,
    "Voltage": "V",
    "Current": "A",
    "Frequency": "Hz",
    "Total": "kWh",
    "Today": "kWh",
    "Yesterday": "kWh",
}
"""Keys with a fixed unit; every key here (and in the two sets above) must be numeric."""

_TEMP_UNITS: Final = {"C": "°C", "F": "°F", "K": "K"}
_META_KEYS: Final = frozenset({"Time", "TempUnit", "PressureUnit", "SpeedUnit"})
_STATUS_WRAPPER: Final = "StatusSNS"  # stat/<dev>/STATUS8 and STATUS10 wrap the payload
_STAT_READINGS: Final = frozenset({"STATUS8", "STATUS10"})
_STAT_INFO: Final = frozenset({"STATUS", "STATUS0", "STATUS2"})  # STATUS0 has StatusSNS too
_TELE_INFO: Final = "INFO1"
MANUFACTURER: Final = "Tasmota"


class TasmotaDecoder:
    """Decode Tasmota ``SENSOR`` telemetry into one reading per numeric value."""

    __slots__ = ("_max_bytes", "_stat_prefix", "_tele_prefix", "_tz")

    def __init__(
        self,
        *,
        tele_prefix: str = "tele",
        stat_prefix: str = "stat",
        device_tz: str = "UTC",
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self._tele_prefix = tele_prefix
        self._stat_prefix = stat_prefix
        self._tz = make_tz(device_tz)
        self._max_bytes = check_max_bytes(max_bytes)

    def _device(self, topic: str) -> tuple[str, str] | None:
        """(device, leaf) of a topic this decoder reads."""
        parts = topic.split("/")
        if len(parts) != 3 or not parts[1]:
            return None
        prefix, device, leaf = parts
        if prefix == self._tele_prefix and leaf in ("SENSOR", _TELE_INFO):
            return device, leaf
        if prefix == self._stat_prefix and leaf in _STAT_READINGS | _STAT_INFO:
            return device, leaf
        return None

    def info_topics(self, topic: str) -> tuple[str, ...]:
        """The info topics of the devices `topic` (``tele/<device>/SENSOR``) reads."""
        parts = topic.split("/")
        device = parts[1] if len(parts) == 3 else "+" if parts[-1] == "#" else None
        if device is None:
            return ()
        stat = tuple(f"{self._stat_prefix}/{device}/{leaf}" for leaf in sorted(_STAT_INFO))
        return (*stat, f"{self._tele_prefix}/{device}/{_TELE_INFO}")

    def decode(self, topic: str, payload: bytes, received_at: float) -> DecodeResult:
        """Decode a ``tele/<device>/SENSOR`` message (or a device info one)."""
        found = self._device(topic)
        if found is None:
            return reject(DecodeIssue(DecodeError.UNKNOWN_TOPIC, None, f"not SENSOR: {topic!r}"))
        device, leaf = found
        doc = load_json_object(payload, self._max_bytes)
        if isinstance(doc, DecodeIssue):
            return reject(doc)
        info = None
        if leaf == _TELE_INFO or leaf in _STAT_INFO:
            info = _info(device, doc)
            if not isinstance(doc.get(_STATUS_WRAPPER), dict):  # STATUS0 has readings too
                out = ResultBuilder(device, received_at)
                out.info(info)
                return out.result(nothing="no device info")
        wrapped = doc.get(_STATUS_WRAPPER)
        if isinstance(wrapped, dict):
            doc = wrapped
        ts: float = received_at
        time_issue = None
        if "Time" in doc:
            parsed = parse_timestamp(doc["Time"], self._tz)
            if parsed is None:
                time_issue = DecodeIssue(DecodeError.BAD_TIMESTAMP, "Time", "unreadable time")
            else:
                ts = parsed
        out = ResultBuilder(device, ts)
        out.info(info)
        if time_issue is not None:
            out.issue(time_issue)
        temp_unit = _unit_word(doc.get("TempUnit"), "C")
        temp_unit = _TEMP_UNITS.get(temp_unit, temp_unit)
        pressure_unit = _unit_word(doc.get("PressureUnit"), "hPa")
        for key, value in doc.items():
            if key in _META_KEYS:
                continue
            if isinstance(value, dict):
                for sub, sub_value in value.items():
                    unit = _unit(sub, temp_unit, pressure_unit)
                    _add(out, (key, sub), sub_value, unit, sub)
            else:
                _add(out, (key,), value, _unit(key, temp_unit, pressure_unit), key)
        return out.result(nothing="no numeric or on/off value")


def _info(device: str, doc: dict[str, object]) -> DeviceInfo | None:
    """The device info of a STATUS, STATUS0, STATUS2 or INFO1 payload, if it has any."""
    info1 = doc.get("Info1", doc)  # before Tasmota 9, INFO1 was not wrapped
    status, fwr = doc.get("Status"), doc.get("StatusFWR")
    module: object = None
    version: object = None
    hardware: object = None
    if isinstance(info1, dict):
        module, version = info1.get("Module"), info1.get("Version")
    if isinstance(status, dict):
        module = status.get("Module", module)
    if isinstance(fwr, dict):
        version, hardware = fwr.get("Version", version), fwr.get("Hardware")
    if not isinstance(module, str):
        module = None  # a module number: its name is in Tasmota's source, not the payload
    if device_info(device, None, module, version, hardware) is None:
        return None  # nothing said: no manufacturer either
    return device_info(device, MANUFACTURER, module, version, hardware)


def _unit_word(value: object, default: str) -> str:
    return value if isinstance(value, str) and value else default


def _unit(key: str, temp_unit: str, pressure_unit: str) -> str | None:
    if key in TEMPERATURE_KEYS:
        return temp_unit
    if key in PRESSURE_KEYS:
        return pressure_unit
    return KNOWN_UNITS.get(key)


def _is_known(key: str) -> bool:
    return key in KNOWN_UNITS or key in TEMPERATURE_KEYS or key in PRESSURE_KEYS


def _add(
    out: ResultBuilder, path: tuple[str, ...], value: object, unit: str | None, key: str
) -> None:
    """Add one leaf (or one per channel of an array); skip text that is not on/off."""
    if isinstance(value, list):
        for channel, item in enumerate(value, start=1):
            if isinstance(item, list | dict):  # channels hold numbers, never containers
                field = ".".join((*path, str(channel)))
                detail = f"expected a number, got {json_type(item)}"
                out.issue(DecodeIssue(DecodeError.WRONG_TYPE, field, detail))
            else:
                _add(out, (*path, str(channel)), item, unit, key)
        return
    if isinstance(value, str) and (word := word_to_bool(value)) is not None:
        out.add(metric_name(*path), word, None)
    elif is_number(value) or isinstance(value, bool) or _is_known(key):
        # A key documented as numeric is checked even when it holds text: "hot" is an issue.
        out.add(metric_name(*path), to_float(value, ".".join(path)), unit)
