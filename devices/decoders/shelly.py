"""Shelly Gen2+ (Plus, Pro, Gen3): RPC notifications on ``<prefix>/events/rpc`` and
component status on ``<prefix>/status/<component>``. ``<prefix>`` (by default the device
id, e.g. ``shellyplusht-08b61fcb7f3c``) is the device name. An rpc message::

    {"src": "shellyplusht-08b61fcb7f3c", "method": "NotifyStatus",
     "params": {"ts": 1700000000.1, "temperature:0": {"id": 0, "tC": 21.3, "tF": 70.3},
                "devicepower:0": {"battery": {"V": 5.9, "percent": 80}}}}

Only ``NotifyStatus``/``NotifyFullStatus`` carry readings; other methods (``NotifyEvent``)
give a ``no_readings`` issue, a message without a text ``method`` a ``missing_field`` or
``wrong_type`` one: every message yields readings or a counted reason. ``params.ts`` is
the timestamp.

Device info: ``src`` is the device id, ``<model>-<mac>`` (``shellyplus1pm-08b61fcb7f3c``):
the model (``shellyplus1pm``) and the manufacturer ``Shelly``, given for the device named
by the topic (which may be a custom prefix). An ``src`` of another shape says nothing.

Components are read through `COMPONENTS`; others (``sys``, ``wifi``, ...) and fields not
listed are skipped. Metric names: ``<type>_<id>`` for the main quantity of single-value
components (``temperature:0``.tC -> ``temperature_0``), ``<type>_<id>_<quantity>`` for the
rest (``switch:0``.apower -> ``switch_0_power``, ``devicepower:0``.battery.percent ->
``devicepower_0_battery``). A listed field that is null (a failed sensor) is a
``missing_field`` issue; NotifyStatus carries only changed fields, so an absent one is not.
A known component that is not an object, or a field path blocked by a value that is not
an object (``"battery": 80`` where ``battery.percent`` is read), is ``wrong_type``.
"""

from __future__ import annotations

import re
from datetime import UTC
from typing import Final

from devices.decoders._common import (
    DEFAULT_MAX_BYTES,
    MISSING,
    ResultBuilder,
    check_max_bytes,
    device_info,
    json_type,
    load_json_object,
    lookup,
    metric_name,
    parse_timestamp,
    reject,
    to_bool,
    to_float,
)
from devices.readings import DecodeError, DecodeIssue, DecodeResult, DeviceInfo

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
_DEVICE_ID: Final = re.compile(r"(shelly[a-z0-9]+)-[0-9a-fA-F]{6,12}")
MANUFACTURER: Final = "Shelly"


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
            return out.result(nothing=f"no known field of {component}")
        detail = f"not a Shelly rpc/status topic: {topic!r}"
        return reject(DecodeIssue(DecodeError.UNKNOWN_TOPIC, None, detail))

    def _decode_rpc(self, device: str, payload: bytes, received_at: float) -> DecodeResult:
        doc = load_json_object(payload, self._max_bytes)
        if isinstance(doc, DecodeIssue):
            return reject(doc)
        method = doc.get("method", MISSING)
        if method is MISSING or method is None:
            detail = "no method: not an rpc notification"
            return reject(DecodeIssue(DecodeError.MISSING_FIELD, "method", detail))
        if not isinstance(method, str):
            detail = f"expected text, got {json_type(method)}"
            return reject(DecodeIssue(DecodeError.WRONG_TYPE, "method", detail))
        if method not in _STATUS_METHODS:
            detail = f"{method[:40]} carries no readings"
            return reject(DecodeIssue(DecodeError.NO_READINGS, "method", detail))
        params = doc.get("params")
        if not isinstance(params, dict):
            detail = "params must be an object"
            return reject(DecodeIssue(DecodeError.WRONG_TYPE, "params", detail))
        raw_ts = params.get("ts")
        ts = None if raw_ts is None else parse_timestamp(raw_ts, UTC)
        out = ResultBuilder(device, received_at if ts is None else ts)
        out.info(src_info(device, doc.get("src")))
        if raw_ts is not None and ts is None:
            out.issue(DecodeIssue(DecodeError.BAD_TIMESTAMP, "params.ts", "unreadable"))
        for key, value in params.items():
            if isinstance(value, dict):
                _add_component(out, key, value)
            elif _split_key(key) is not None:  # a known component must be an object
                detail = f"expected an object, got {json_type(value)}"
                out.issue(DecodeIssue(DecodeError.WRONG_TYPE, f"params.{key}", detail))
        return out.result(nothing="no known component field")


def src_info(device: str, src: object) -> DeviceInfo | None:
    """The model an rpc message's ``src`` (``<model>-<mac>``) names; None if it names none."""
    found = _DEVICE_ID.fullmatch(src) if isinstance(src, str) else None
    return None if found is None else device_info(device, MANUFACTURER, found.group(1))


def _blocked_at(body: dict[str, object], keys: tuple[str, ...]) -> tuple[str, object] | None:
    """Where a dotted path hits a present value that is not an object (path, value)."""
    node: object = body
    for depth, key in enumerate(keys[:-1]):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
        if node is not None and not isinstance(node, dict):
            return ".".join(keys[: depth + 1]), node
    return None


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
    blocked_reported: set[str] = set()
    for path, quantity, unit in COMPONENTS[kind]:
        field = f"{key}.{path}"
        keys = tuple(path.split("."))
        value = lookup(body, keys)
        if value is MISSING:
            blocked = _blocked_at(body, keys)
            if blocked is not None and blocked[0] not in blocked_reported:
                blocked_reported.add(blocked[0])  # battery.percent and battery.V: once
                detail = f"expected an object, got {json_type(blocked[1])}"
                out.issue(DecodeIssue(DecodeError.WRONG_TYPE, f"{key}.{blocked[0]}", detail))
            continue
        metric = metric_name(kind, ident, quantity) if quantity else metric_name(kind, ident)
        if unit == BOOL:
            out.add(metric, to_bool(value, field), None)
        else:
            out.add(metric, to_float(value, field), unit)
