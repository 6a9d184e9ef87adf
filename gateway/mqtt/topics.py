"""Topic names of one gateway (DESIGN.md, "MQTT topics") and MQTT wildcard matching."""

from __future__ import annotations

from dataclasses import dataclass

from paho.mqtt.client import topic_matches_sub


def matches(pattern: str, topic: str) -> bool:
    """Whether `topic` matches the subscription filter `pattern` (`+` and `#`)."""
    return bool(topic_matches_sub(pattern, topic))


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

    def command(self, name: str) -> str:
        """Commands to the gateway."""
        return f"{self.prefix}/cmd/{name}"

    def command_result(self, name: str) -> str:
        """Answers to commands."""
        return f"{self.prefix}/cmd/{name}/result"
