"""Shelly Gen2+ (Plus, Pro, Gen3): RPC notifications on ``<prefix>/events/rpc`` and
component status on ``<prefix>/status/<component>``. ``<prefix>`` (by default the device
id, e.g. ``shellyplusht-08b61fcb7f3c``) is the device name. An rpc message::

    {"src": "shellyplusht-08b61fcb7f3c", "method": "NotifyStatus",
     "params": {"ts": 1700000000.1, "temperature:0": {"id": 0, "tC": 21.3, "tF": 70.3},
                "devicepower:0": {"battery": {"V": 5.9, "percent": 80}}}}

Only ``NotifyStatus``/``NotifyFullStatus`` carry readings; other methods (``NotifyEvent``)
give an empty result, not an error. ``params.ts`` is the timestamp.

Components are read through `COMPONENTS`; others (``sys``, ``wifi``, ...) and fields not
listed are skipped. Metric names: ``<type>_<id>`` for the main quantity of single-value
components (``temperature:0``.tC -> ``temperature_0``), ``<type>_<id>_<quantity>`` for the
rest (``switch:0``.apower -> ``switch_0_power``, ``devicepower:0``.battery.percent ->
``devicepower_0_battery``). A listed field that is null (a failed sensor) is a
``missing_field`` issue; NotifyStatus carries only changed fields, so an absent one is not.
"""

from __future__ import annotations

from datetime import UTC
from typing import Final

from devices.decoders._common import (
    DEFAULT_MAX_BYTES,
    MISSING,
    ResultBuilder,
    check_max_bytes,
    load_json_object,
    lookup,
    metric_name,
    parse_timestamp,
    reject,
    to_bool,
    to_float,
)
from devices.readings import DecodeError, DecodeIssue, DecodeResult

BOOL: Final = "bool"
"""Marks a binary field in `COMPONENTS` (its reading has no unit)."""

_POWER: Final = (
    ("apower", "power", "W"),
    ("voltage", "voltage", "V"),
    ("current", "current", "A"),
    ("freq", "frequency", "Hz"),
    ("pf", "power_factor", None),
    ("aenergy.total", "energy", "Wh"),
)
_DEVICE_TEMP: Final = (("temperature.tC", "temperature", "°C"),)

COMPONENTS: Final[dict[str, tuple[tuple[str, str, str | None], ...]]] = {
    # component type: (dotted field path, quantity ("" = the component's own), unit or BOOL)
    "temperature": (("tC", "", "°C"),),
    "humidity": (("rh", "", "%"),),
    "illuminance": (("lux", "", "lx"),),
    "voltmeter": (("voltage", "", "V"),),
    "smoke": (("alarm", "", BOOL),),
    "flood": (("alarm", "", BOOL),),
    "input": (("state", "", BOOL),),
    "devicepower": (
        ("battery.percent", "battery", "%"),
        ("battery.V", "battery_voltage", "V"),
        ("external.present", "external_power", BOOL),
    ),
    "switch": (("output", "output", BOOL), *_POWER, *_DEVICE_TEMP),
    "pm1": _POWER,
    "cover": (("current_pos", "position", "%"), *_POWER, *_DEVICE_TEMP),
    "em1": (
        ("act_power", "power", "W"),
        ("aprt_power", "apparent_power", "VA"),
        ("voltage", "voltage", "V"),
        ("current", "current", "A"),
        ("freq", "frequency", "Hz"),
        ("pf", "power_factor", None),
    ),
    "em1data": (("total_act_energy", "energy", "Wh"),),
}

_STATUS_METHODS: Final = frozenset({"NotifyStatus", "NotifyFullStatus"})


class ShellyDecoder:
    """Decode Shelly Gen2+ status notifications."""

    __slots__ = ("_max_bytes",)

    def __init__(self, *, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._max_bytes = check_max_bytes(max_bytes)

    def decode(self, topic: str, payload: bytes, received_at: float) -> DecodeResult:
        """Decode an ``events/rpc`` or ``status/<component>`` message."""
        prefix, sep, rest = topic.rpartition("/events/")
        if sep and prefix and rest == "rpc":
            return self._decode_rpc(prefix, payload, received_at)
        prefix, sep, component = topic.rpartition("/status/")
        if sep and prefix and _split_key(component) is not None:
            doc = load_json_object(payload, self._max_bytes)
            if isinstance(doc, DecodeIssue):
                return reject(doc)
            out = ResultBuilder(prefix, received_at)
            _add_component(out, component, doc)
            return out.result()
        detail = f"not a Shelly rpc/status topic: {topic!r}"
        return reject(DecodeIssue(DecodeError.UNKNOWN_TOPIC, None, detail))

    def _decode_rpc(self, device: str, payload: bytes, received_at: float) -> DecodeResult:
        doc = load_json_object(payload, self._max_bytes)
        if isinstance(doc, DecodeIssue):
            return reject(doc)
        method = doc.get("method")
        if not isinstance(method, str) or method not in _STATUS_METHODS:
            return DecodeResult()
        params = doc.get("params")
        if not isinstance(params, dict):
            detail = "params must be an object"
            return reject(DecodeIssue(DecodeError.WRONG_TYPE, "params", detail))
        raw_ts = params.get("ts")
        ts = None if raw_ts is None else parse_timestamp(raw_ts, UTC)
        out = ResultBuilder(device, received_at if ts is None else ts)
        if raw_ts is not None and ts is None:
            out.issue(DecodeIssue(DecodeError.BAD_TIMESTAMP, "params.ts", "unreadable"))
        for key, value in params.items():
            if isinstance(value, dict):
                _add_component(out, key, value)
        return out.result()


def _split_key(key: str) -> tuple[str, str] | None:
    """Split a component key ``switch:0`` into its known type and id; None if unknown."""
    kind, sep, ident = key.partition(":")
    if not sep or not ident or kind not in COMPONENTS:
        return None
    return kind, ident


def _add_component(out: ResultBuilder, key: str, body: dict[str, object]) -> None:
    split = _split_key(key)
    if split is None:
        return
    kind, ident = split
    for path, quantity, unit in COMPONENTS[kind]:
        value = lookup(body, tuple(path.split(".")))
        if value is MISSING:
            continue
        field = f"{key}.{path}"
        metric = metric_name(kind, ident, quantity) if quantity else metric_name(kind, ident)
        if unit == BOOL:
            out.add(metric, to_bool(value, field), None)
        else:
            out.add(metric, to_float(value, field), unit)
