"""The event kinds edgegw emits: on the ground floor, so the config can check names against them."""

from __future__ import annotations

import fnmatch
from enum import StrEnum


class Kind(StrEnum):
    """The event kinds edgegw emits (`Event.kind` is a plain string: plugins may add more)."""

    SENSOR_SUMMARY = "sensor.summary"
    SENSOR_ALERT = "sensor.alert"
    SENSOR_CLEAR = "sensor.clear"
    DEVICE_OFFLINE = "device.offline"
    DEVICE_ONLINE = "device.online"
    VISION_DETECTION = "vision.detection"
    VISION_HARD_CASE = "vision.hard_case"
    CLOUD_VERDICT = "cloud.verdict"


def kinds_matching(pattern: str) -> list[Kind]:
    """Return the kinds that the shell pattern `pattern` (`*`, `sensor.*`, ...) names."""
    return [k for k in Kind if fnmatch.fnmatchcase(k.value, pattern)]
