"""What every decoder shares: the interface, payload checks, value coercion, paths, topics.

Each step returns either its value or a `DecodeIssue`, never raises on bad input, so a
decoder reads as a straight line of "check, return the issue if any". Only bad *config*
raises (`DecoderConfigError`), and only when the decoder is built.
"""

from __future__ import annotations

import json
import math
import re
from datetime import UTC, datetime, tzinfo
from typing import Final, Protocol, TypeGuard, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from devices.readings import DecodeError, DecodeIssue, DecodeResult, DeviceInfo, Reading

DEFAULT_MAX_BYTES: Final = 64 * 1024
"""Default payload bound. Sensor messages are a few hundred bytes; 64 KiB is generous."""

MS_THRESHOLD: Final = 1e11
"""Numeric timestamps above this are milliseconds (1e11 s is the year 5138)."""

MISSING: Final = object()
"""What `lookup` returns when a path leads nowhere (distinct from a JSON null)."""

_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|nan|inf|infinity)", re.I)
_WORDS: Final = {"on": 1.0, "off": 0.0, "true": 1.0, "false": 0.0}


class DecoderConfigError(ValueError):
    """A decoder was built with invalid options (the gateway turns this into ConfigError)."""


@runtime_checkable
class Decoder(Protocol):
    """Turn one MQTT message into readings; never raise on bad bytes."""

    def decode(self, topic: str, payload: bytes, received_at: float) -> DecodeResult:
        """Decode `payload` received on `topic` at `received_at` (unix seconds)."""
        ...


@runtime_checkable
class InfoSource(Protocol):
    """A decoder that also reads what devices say about themselves on other topics."""

    def info_topics(self, topic: str) -> tuple[str, ...]:
        """The topic filters carrying device info for a sensor subscribed to `topic`."""
        ...


def info_topics(decoder: Decoder, topic: str) -> tuple[str, ...]:
    """The device info topics of `decoder` for `topic` (none if it reads no such topic)."""
    return decoder.info_topics(topic) if isinstance(decoder, InfoSource) else ()


INFO_MAX_CHARS: Final = 64
"""A manufacturer, model or version longer than this is cut."""

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def info_text(value: object) -> str | None:
    """A manufacturer/model/version from a payload: printable text, cut; None if not text."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = _CONTROL.sub("", str(value)).strip()[:INFO_MAX_CHARS].strip()
    return text or None


def device_info(
    device: str,
    manufacturer: object = None,
    model: object = None,
    sw_version: object = None,
    hw_version: object = None,
) -> DeviceInfo | None:
    """A DeviceInfo of the fields that are text; None when none is."""
    info = DeviceInfo(
        device, info_text(manufacturer), info_text(model), info_text(sw_version),
        info_text(hw_version),
    )  # fmt: skip
    if info == DeviceInfo(device):
        return None
    return info


# --- config checks (raise DecoderConfigError) -------------------------------------------


def check_max_bytes(max_bytes: int) -> int:
    """Return `max_bytes` if it is a positive int."""
    if isinstance(max_bytes, bool) or not isinstance(max_bytes, int) or max_bytes <= 0:
        raise DecoderConfigError(f"max_bytes must be a positive integer, not {max_bytes!r}")
    return max_bytes


def check_source(name: str, fixed: str | None, index: int | None) -> None:
    """Require exactly one of a fixed `name` or a topic segment index for it."""
    if (fixed is None) == (index is None):
        raise DecoderConfigError(f"give exactly one of {name}= or {name}_from_topic=")
    if fixed is not None and not fixed:
        raise DecoderConfigError(f"{name}= must not be empty")


def make_tz(name: str) -> tzinfo:
    """Return the time zone named `name` (IANA name, e.g. "Europe/Berlin", or "UTC")."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise DecoderConfigError(f"unknown time zone {name!r}") from exc


def compile_path(path: str) -> tuple[str, ...]:
    """Split a dotted path (``a.b.0.c``) or a JSON pointer (``/a/b/0/c``) into keys."""
    if path.startswith("/"):
        # RFC 6901: "~1" is "/", "~0" is "~", decoded in that order.
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/"))
    keys = tuple(path.split("."))
    if any(k == "" for k in keys):
        raise DecoderConfigError(f"invalid field path {path!r}")
    return keys


# --- payload checks (return a DecodeIssue) ----------------------------------------------


def load_text(payload: bytes, max_bytes: int) -> str | DecodeIssue:
    """Check size, UTF-8 and emptiness, in that order; return the text."""
    if len(payload) > max_bytes:
        # Checked before decoding so a flood of huge messages costs no parsing.
        return DecodeIssue(
            DecodeError.TOO_LARGE, None, f"{len(payload)} bytes > max_bytes {max_bytes}"
        )
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return DecodeIssue(DecodeError.NOT_UTF8, None, f"invalid byte at {exc.start}")
    if not text.strip():
        return DecodeIssue(DecodeError.EMPTY, None, "empty payload")
    return text


def load_json_object(payload: bytes, max_bytes: int) -> dict[str, object] | DecodeIssue:
    """Parse `payload` as a JSON object (NaN and Infinity literals are kept, then rejected
    per field by `to_float`)."""
    doc = load_json(payload, max_bytes)
    if isinstance(doc, DecodeIssue | dict):
        return doc
    detail = f"expected a JSON object, got {json_type(doc)}"
    return DecodeIssue(DecodeError.WRONG_TYPE, None, detail)


def load_json(payload: bytes, max_bytes: int) -> object:
    """Parse `payload` as JSON; a DecodeIssue if it cannot be."""
    text = load_text(payload, max_bytes)
    if isinstance(text, DecodeIssue):
        return text
    try:
        doc: object = json.loads(text)
    except json.JSONDecodeError as exc:
        return DecodeIssue(DecodeError.BAD_JSON, None, f"{exc.msg} at {exc.pos}")
    except (ValueError, RecursionError) as exc:
        # ValueError: an integer longer than sys.get_int_max_str_digits();
        # RecursionError: "[[[[...", nesting deeper than the parser's stack.
        return DecodeIssue(DecodeError.BAD_JSON, None, type(exc).__name__)
    return doc


def reject(issue: DecodeIssue) -> DecodeResult:
    """Return the result of a message rejected as a whole."""
    return DecodeResult(errors=(issue,))


# --- values -------------------------------------------------------------------------------


def json_type(value: object) -> str:
    """Name `value`'s JSON type for an issue's detail."""
    match value:
        case None:
            return "null"
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
    return type(value).__name__


def is_number(value: object) -> TypeGuard[int | float]:
    """Return True for a JSON number (not a boolean)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def to_float(value: object, field: str, *, strings: bool = False) -> float | DecodeIssue:
    """Coerce a JSON value to a finite float; booleans become 1.0/0.0.

    With `strings`, numeric text ("21.5") is accepted too; other text is `wrong_type`.
    """
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str) and strings and _NUMBER.fullmatch(stripped := value.strip()):
        # str.strip() also drops Unicode separators (\x1c-\x1f) that float() refuses.
        value = float(stripped)
    if isinstance(value, int):
        try:
            return float(value)
        except OverflowError:
            return DecodeIssue(DecodeError.NOT_FINITE, field, "integer too large for a float")
    if isinstance(value, float):
        if math.isfinite(value):
            return value
        return DecodeIssue(DecodeError.NOT_FINITE, field, f"{value!r} is not finite")
    if value is None:
        return DecodeIssue(DecodeError.MISSING_FIELD, field, "value is null")
    return DecodeIssue(
        DecodeError.WRONG_TYPE, field, f"expected a number, got {json_type(value)} {_short(value)}"
    )


def word_to_bool(text: str) -> float | None:
    """Return 1.0/0.0 for "ON"/"OFF"/"true"/"false" (any case), else None."""
    return _WORDS.get(text.strip().lower())


def to_bool(value: object, field: str) -> float | DecodeIssue:
    """Coerce a binary state (true/false, "ON"/"OFF", 0/1) to 1.0/0.0."""
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, str) and (word := word_to_bool(value)) is not None:
        return word
    if is_number(value) and value in (0, 1):
        return float(value)
    if value is None:
        return DecodeIssue(DecodeError.MISSING_FIELD, field, "value is null")
    return DecodeIssue(
        DecodeError.WRONG_TYPE, field, f"expected a boolean, got {json_type(value)} {_short(value)}"
    )


def parse_timestamp(value: object, tz: tzinfo) -> float | None:
    """Read unix seconds, unix milliseconds (> 1e11) or ISO 8601 text; None if unreadable.

    ISO text without an offset is read in `tz` (Tasmota sends the device's local time).
    """
    if is_number(value):
        try:
            seconds = float(value)
        except OverflowError:  # an integer of hundreds of digits
            return None
        if seconds > MS_THRESHOLD:
            seconds /= 1000.0
        return seconds if math.isfinite(seconds) and seconds > 0 else None
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
        if when.tzinfo is None:
            when = when.replace(tzinfo=tz)
        return when.timestamp()
    except (ValueError, OverflowError):
        return None


def _short(value: object, limit: int = 32) -> str:
    text = json.dumps(value) if isinstance(value, str) else ""
    return text if len(text) <= limit else text[: limit - 3] + '..."'


# --- paths and topics ----------------------------------------------------------------------


def lookup(doc: object, keys: tuple[str, ...]) -> object:
    """Follow `keys` through objects and arrays (a digit key indexes an array); or MISSING."""
    node = doc
    for key in keys:
        if isinstance(node, dict):
            node = node.get(key, MISSING)
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return MISSING
        if node is MISSING:
            return MISSING
    return node


def topic_segment(topic: str, index: int) -> str | None:
    """Return segment `index` of `topic` (negative counts from the end), None if absent."""
    parts = topic.split("/")
    if not -len(parts) <= index < len(parts):
        return None
    return parts[index] or None


def metric_name(*parts: str) -> str:
    """Join parts into a metric name: lower case, runs of other characters become "_"."""
    joined = "_".join(parts).lower()
    return re.sub(r"[^a-z0-9]+", "_", joined).strip("_")


class ResultBuilder:
    """Collect the readings and issues of one message for one device at one time."""

    __slots__ = ("_infos", "_issues", "_readings", "device", "ts")

    def __init__(self, device: str, ts: float) -> None:
        self.device = device
        self.ts = ts
        self._readings: list[Reading] = []
        self._issues: list[DecodeIssue] = []
        self._infos: list[DeviceInfo] = []

    def info(self, info: DeviceInfo | None) -> None:
        """Record what the message says about a device (None: nothing)."""
        if info is not None:
            self._infos.append(info)

    def add(self, metric: str, value: float | DecodeIssue, unit: str | None) -> None:
        """Record a reading, or the issue that stood in for it."""
        if isinstance(value, DecodeIssue):
            self._issues.append(value)
        else:
            self._readings.append(Reading(self.device, metric, value, unit, self.ts))

    def issue(self, issue: DecodeIssue) -> None:
        """Record an issue."""
        self._issues.append(issue)

    def result(self, *, nothing: str | None = None) -> DecodeResult:
        """Return everything collected; with `nothing`, an empty result says why instead.

        Decoders that skip what they do not know (text ids, unknown objects) pass
        `nothing`, so every message yields readings or at least one counted issue.
        """
        if nothing is not None and not (self._readings or self._issues or self._infos):
            self._issues.append(DecodeIssue(DecodeError.NO_READINGS, None, nothing))
        return DecodeResult(tuple(self._readings), tuple(self._issues), tuple(self._infos))
