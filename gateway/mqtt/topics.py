"""Topic names of one gateway (DESIGN.md, "MQTT topics") and MQTT wildcard matching."""

from __future__ import annotations

from dataclasses import dataclass


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
