"""Generic JSON: read configured fields from an object, e.g. an ESPHome or custom sensor.

``fields`` maps a metric name to a path: dotted (``sensors.0.temp``, a digit indexes an
array) or a JSON pointer (``/sensors/0/temp``). A configured field that is absent or null
is a ``missing_field`` issue; the other fields still give readings. Booleans become
1.0/0.0. Numeric text (``"21.5"``) and on/off words (``"ON"``, ``"false"``) are accepted
unless ``accept_text=False``. An optional ``timestamp`` path
reads unix seconds, unix milliseconds (> 1e11) or ISO 8601 (without an offset: in
``device_tz``); if it is unreadable the receive time is used and ``bad_timestamp`` noted.
"""

from __future__ import annotations

from collections.abc import Mapping

from devices.decoders._common import (
    DEFAULT_MAX_BYTES,
    MISSING,
    DecoderConfigError,
    ResultBuilder,
    check_max_bytes,
    check_source,
    compile_path,
    load_json_object,
    lookup,
    make_tz,
    parse_timestamp,
    reject,
    to_float,
    topic_segment,
    word_to_bool,
)
from devices.readings import DecodeError, DecodeIssue, DecodeResult


class JsonFieldsDecoder:
    """Decode configured fields of a JSON object into readings."""

    __slots__ = (
        "_accept_text",
        "_device",
        "_device_index",
        "_fields",
        "_max_bytes",
        "_timestamp",
        "_tz",
    )

    def __init__(
        self,
        *,
        fields: Mapping[str, str],
        units: Mapping[str, str] | None = None,
        device: str | None = None,
        device_from_topic: int | None = None,
        timestamp: str | None = None,
        device_tz: str = "UTC",
        accept_text: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        if not fields:
            raise DecoderConfigError("fields must map at least one metric to a path")
        units = dict(units or {})
        if unknown := sorted(set(units) - set(fields)):
            raise DecoderConfigError(f"units given for metrics not in fields: {unknown}")
        check_source("device", device, device_from_topic)
        # (metric, path as written, compiled keys, unit)
        self._fields = tuple(
            (metric, path, compile_path(path), units.get(metric)) for metric, path in fields.items()
        )
        self._timestamp = None if timestamp is None else (timestamp, compile_path(timestamp))
        self._tz = make_tz(device_tz)
        self._device = device
        self._device_index = device_from_topic
        self._accept_text = accept_text
        self._max_bytes = check_max_bytes(max_bytes)

    def decode(self, topic: str, payload: bytes, received_at: float) -> DecodeResult:
        """Decode the configured fields of `payload`."""
        device = self._device or topic_segment(topic, self._device_index or 0)
        if device is None:
            return reject(DecodeIssue(DecodeError.UNKNOWN_TOPIC, None, f"no device in {topic!r}"))
        doc = load_json_object(payload, self._max_bytes)
        if isinstance(doc, DecodeIssue):
            return reject(doc)
        ts, ts_issue = received_at, None
        if self._timestamp is not None:
            path, keys = self._timestamp
            parsed = parse_timestamp(lookup(doc, keys), self._tz)
            if parsed is None:
                ts_issue = DecodeIssue(DecodeError.BAD_TIMESTAMP, path, "unreadable timestamp")
            else:
                ts = parsed
        out = ResultBuilder(device, ts)
        if ts_issue is not None:
            out.issue(ts_issue)
        for metric, path, keys, unit in self._fields:
            value = lookup(doc, keys)
            if value is MISSING:
                out.issue(DecodeIssue(DecodeError.MISSING_FIELD, path, "not in payload"))
                continue
            if self._accept_text and isinstance(value, str):
                word = word_to_bool(value)
                if word is not None:
                    out.add(metric, word, unit)
                    continue
            out.add(metric, to_float(value, path, strings=self._accept_text), unit)
        return out.result()
