"""Plain payloads: the whole message is one number, e.g. ``21.5`` on ``home/kitchen/temp``.

Device and metric come from the config, or from topic segments (``device_from_topic=1``
on ``home/kitchen/temp`` gives device ``kitchen``). With `on_off`, the words
``ON``/``OFF``/``true``/``false`` (any case) read as 1.0/0.0. The receive time is the
timestamp: a bare number carries none.
"""

from __future__ import annotations

from devices.decoders._common import (
    DEFAULT_MAX_BYTES,
    check_max_bytes,
    check_source,
    load_text,
    reject,
    to_float,
    topic_segment,
    word_to_bool,
)
from devices.readings import DecodeError, DecodeIssue, DecodeResult, Reading


class PlainDecoder:
    """Decode a payload that is a single number (or an on/off word)."""

    __slots__ = (
        "_device",
        "_device_index",
        "_max_bytes",
        "_metric",
        "_metric_index",
        "_on_off",
        "_unit",
    )

    def __init__(
        self,
        *,
        device: str | None = None,
        device_from_topic: int | None = None,
        metric: str | None = None,
        metric_from_topic: int | None = None,
        unit: str | None = None,
        on_off: bool = True,
        max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        check_source("device", device, device_from_topic)
        check_source("metric", metric, metric_from_topic)
        self._device = device
        self._device_index = device_from_topic
        self._metric = metric
        self._metric_index = metric_from_topic
        self._unit = unit
        self._on_off = on_off
        self._max_bytes = check_max_bytes(max_bytes)

    def decode(self, topic: str, payload: bytes, received_at: float) -> DecodeResult:
        """Decode `payload` as one reading."""
        device = self._device or topic_segment(topic, self._device_index or 0)
        metric = self._metric or topic_segment(topic, self._metric_index or 0)
        if device is None or metric is None:
            return reject(
                DecodeIssue(DecodeError.UNKNOWN_TOPIC, None, f"no device/metric in {topic!r}")
            )
        text = load_text(payload, self._max_bytes)
        if isinstance(text, DecodeIssue):
            return reject(text)
        word = word_to_bool(text) if self._on_off else None
        value = word if word is not None else to_float(text, metric, strings=True)
        if isinstance(value, DecodeIssue):
            return reject(value)
        return DecodeResult(readings=(Reading(device, metric, value, self._unit, received_at),))
