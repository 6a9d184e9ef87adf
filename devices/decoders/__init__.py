"""Payload decoders: one MQTT message in, a `DecodeResult` (readings and issues) out.

Pick one by kind and build it from its config section::

    decoder = make_decoder("tasmota", device_tz="Europe/Berlin")
    result = decoder.decode("tele/kitchen/SENSOR", payload, time.time())

Some decoders also read what devices say about themselves (`DeviceInfo` in the result)
on topics of their own: `info_topics(decoder, topic)` names them.

Decoders never raise on bad payloads; only bad options raise `DecoderConfigError`
(a `ValueError`), when the decoder is built.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

from devices.decoders._common import (
    DEFAULT_MAX_BYTES,
    Decoder,
    DecoderConfigError,
    InfoSource,
    info_topics,
)
from devices.decoders.json_fields import JsonFieldsDecoder
from devices.decoders.plain import PlainDecoder
from devices.decoders.shelly import ShellyDecoder
from devices.decoders.tasmota import TasmotaDecoder
from devices.decoders.zigbee2mqtt import Zigbee2MqttDecoder

DECODERS: dict[str, type[Decoder]] = {
    "plain": PlainDecoder,
    "json": JsonFieldsDecoder,
    "tasmota": TasmotaDecoder,
    "zigbee2mqtt": Zigbee2MqttDecoder,
    "shelly": ShellyDecoder,
}
"""Decoder classes by the `kind` a config names them with."""


def make_decoder(kind: str, **options: object) -> Decoder:
    """Build the decoder `kind` from its keyword options; raise DecoderConfigError if bad."""
    try:
        cls = DECODERS[kind]
    except KeyError:
        known = ", ".join(sorted(DECODERS))
        raise DecoderConfigError(f"unknown decoder kind {kind!r} (known: {known})") from None
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as exc:
        raise DecoderConfigError(f"{kind} decoder: {exc}") from None
    factory: Callable[..., Decoder] = cls
    return factory(**options)


__all__ = [
    "DECODERS",
    "DEFAULT_MAX_BYTES",
    "Decoder",
    "DecoderConfigError",
    "InfoSource",
    "JsonFieldsDecoder",
    "PlainDecoder",
    "ShellyDecoder",
    "TasmotaDecoder",
    "Zigbee2MqttDecoder",
    "info_topics",
    "make_decoder",
]
