"""What the cloud's verdicts did to a camera's events, from the gateway's stats.

The camera's verdict sink counts every verdict by what it did (`camera_verdicts{result}`:
confirmed, rejected = retracted, relabelled, split, named, duplicate = retracted as
another track's person) or why it changed nothing
(unsure, disputed, unnamed, repeated, unknown_track, box_outside, other_track,
malformed, model_version); the edge counts the faces it blurred on the crops it sent
(`camera_faces_redacted`). The progress line and the report read them from the same
stats snapshot.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.stats_registry import SnapshotValue

__all__ = ["APPLIED", "Corrections", "corrections", "corrections_line"]

APPLIED = ("confirmed", "rejected", "relabelled", "split", "named", "duplicate")
"""The results that correct (or confirm) an event; every other result changed nothing."""


@dataclass(slots=True, frozen=True)
class Corrections:
    """One camera's verdicts by what they did, and the faces the edge blurred."""

    confirmed: int
    rejected: int
    """Tracks retracted."""
    relabelled: int
    split: int
    """Tracks the cloud saw as several people, each then its own event."""
    named: int
    """Unknown objects the cloud gave a label (announced with it)."""
    duplicate: int = 0
    """Tracks retracted because every person in their crop was another track's."""
    unchanged: dict[str, int] = field(default_factory=dict)
    """Verdicts that changed nothing, by why (unnamed, repeated, unknown_track, ...)."""
    faces_redacted: int = 0
    """Faces the edge blurred on the crops it sent (`camera_faces_redacted`)."""

    @property
    def applied(self) -> int:
        """Verdicts that confirmed or corrected an event."""
        return (
            self.confirmed
            + self.rejected
            + self.relabelled
            + self.split
            + self.named
            + self.duplicate
        )


def corrections(metrics: Mapping[str, SnapshotValue], camera: str) -> Corrections:
    """Read one camera's corrections from a stats snapshot."""
    results: dict[str, int] = {}
    verdicts = metrics.get("camera_verdicts_total", {})
    if isinstance(verdicts, dict):
        prefix = f"{camera},"
        for key, value in verdicts.items():
            if key.startswith(prefix) and value:
                results[key.removeprefix(prefix)] = int(value)
    faces = metrics.get("camera_faces_redacted_total", {})
    blurred = int(faces.get(camera, 0.0)) if isinstance(faces, dict) else 0
    applied = {name: results.pop(name, 0) for name in APPLIED}
    return Corrections(
        confirmed=applied["confirmed"],
        rejected=applied["rejected"],
        relabelled=applied["relabelled"],
        split=applied["split"],
        named=applied["named"],
        duplicate=applied["duplicate"],
        unchanged=dict(sorted(results.items())),
        faces_redacted=blurred,
    )


def corrections_line(c: Corrections) -> str:
    """`7 ok 3 rej 1 relab 0 split 1 named 0 dup (2 no change), 12 faces blurred` (short)."""
    unchanged = sum(c.unchanged.values())
    rest = f" ({unchanged} no change)" if unchanged else ""
    return (
        f"{c.confirmed} ok {c.rejected} rej {c.relabelled} relab {c.split} split "
        f"{c.named} named {c.duplicate} dup{rest}, {c.faces_redacted} faces blurred"
    )
