"""Shared cases for the decoder tests: one valid topic per decoder kind."""

from __future__ import annotations

from devices.decoders import Decoder, make_decoder

RECEIVED_AT = 1_700_000_500.0
"""The receive time passed to every decode call in these tests."""

SMALL_MAX = 256
"""A max_bytes bound small enough to exceed in a test."""

# kind -> (options, a topic the decoder reads)
CASES: dict[str, tuple[dict[str, object], str]] = {
    "plain": ({"device_from_topic": 1, "metric_from_topic": 2}, "home/kitchen/temperature"),
    "json": ({"fields": {"temperature": "temperature"}, "device": "esp1"}, "esp/esp1/state"),
    "tasmota": ({}, "tele/kitchen/SENSOR"),
    "zigbee2mqtt": ({}, "zigbee2mqtt/hallway_sensor"),
    "shelly": ({}, "shellyplusht-08b61fcb7f3c/events/rpc"),
}


def build(kind: str, **extra: object) -> tuple[Decoder, str]:
    """Build decoder `kind` with its test options (plus `extra`); return it and its topic."""
    options, topic = CASES[kind]
    return make_decoder(kind, **{**options, **extra}), topic
