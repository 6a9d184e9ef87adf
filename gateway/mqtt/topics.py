"""Topic names of one gateway (DESIGN.md, "MQTT topics") and MQTT wildcard matching."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_UNSAFE = re.compile(r"[^A-Za-z0-9_]")


def slug(name: str) -> str:
    """`name` as one topic level and a Home Assistant object id part (`[A-Za-z0-9_]`).

    A name that had to change (`0x00158d/kitchen`, `Küche`) or is long gets a short hash
    of the original, so two devices never share a slug.
    """
    safe = _UNSAFE.sub("_", name)[:48]
    if safe == name and safe:
        return safe
    return f"{safe}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


@dataclass(slots=True, frozen=True)
class TopicFilter:
    """A subscription filter split once into levels, for fast matching (MQTT 3.1.1 §4.7)."""

    pattern: str
    levels: tuple[str, ...]

    @classmethod
    def parse(cls, pattern: str) -> TopicFilter:
        """Split `pattern` into its levels."""
        return cls(pattern, tuple(pattern.split("/")))

    def matches(self, topic: str) -> bool:
        """Whether `topic` matches: `+` is one level, a final `#` is any number (even none)."""
        levels = topic.split("/")
        # §4.7.2: filters starting with a wildcard do not match topics starting with `$`.
        if topic.startswith("$") and self.levels[0] in ("+", "#"):
            return False
        for i, want in enumerate(self.levels):
            if want == "#":
                return True
            if i >= len(levels) or (want != "+" and want != levels[i]):
                return False
        return len(levels) == len(self.levels)


@dataclass(slots=True, frozen=True)
class Topics:
    """Every topic under `prefix` (default `edgegw/<gateway id>`)."""

    prefix: str

    @property
    def status(self) -> str:
        """`online` / `offline` (retained; `offline` is also the Will)."""
        return f"{self.prefix}/status"

    @property
    def stats(self) -> str:
        """JSON counters and gauges."""
        return f"{self.prefix}/stats"

    def event(self, kind: str, source: str) -> str:
        """One Event as JSON."""
        return f"{self.prefix}/events/{kind}/{source}"

    def sensor_state(self, sensor: str) -> str:
        """Latest summary of a sensor (retained)."""
        return f"{self.prefix}/sensors/{sensor}/state"

    def sensor_device_state(self, sensor: str, device_slug: str) -> str:
        """Latest summary of one device of a sensor whose topic has wildcards (retained)."""
        return f"{self.prefix}/sensors/{sensor}/devices/{device_slug}/state"

    def sensor_availability(self, sensor: str, device_slug: str | None = None) -> str:
        """`online`/`offline` of a sensor's device by its liveness (retained)."""
        if device_slug is None:
            return f"{self.prefix}/sensors/{sensor}/availability"
        return f"{self.prefix}/sensors/{sensor}/devices/{device_slug}/availability"

    def camera_snapshot(self, camera: str) -> str:
        """JPEG of a camera's latest detection (retained)."""
        return f"{self.prefix}/cameras/{camera}/snapshot"

    def camera_count(self, camera: str, label: str) -> str:
        """Number of a camera's live tracks of `label` (retained)."""
        return f"{self.prefix}/cameras/{camera}/{label}"

    def camera_occupancy(self, camera: str, label: str) -> str:
        """`ON` while a camera has a live track of `label`, else `OFF` (retained)."""
        return f"{self.prefix}/cameras/{camera}/{label}/occupancy"

    def camera_detect(self, camera: str) -> str:
        """`ON` while a camera's detection runs, `OFF` when turned off (retained)."""
        return f"{self.prefix}/cameras/{camera}/detect"

    def camera_hard_case(self, camera: str) -> str:
        """JPEG crops of a camera's hard cases (not retained)."""
        return f"{self.prefix}/cameras/{camera}/hard_case"

    def camera_verdict(self, camera: str) -> str:
        """The cloud's latest verdict on a camera's hard cases (retained)."""
        return f"{self.prefix}/cameras/{camera}/verdict"

    def command(self, name: str) -> str:
        """Commands to the gateway."""
        return f"{self.prefix}/cmd/{name}"

    def command_result(self, name: str) -> str:
        """Answers to commands."""
        return f"{self.prefix}/cmd/{name}/result"
