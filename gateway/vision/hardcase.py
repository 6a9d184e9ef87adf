"""The cascade on a track's best score: settled, hard case or dropped (DESIGN.md).

`>= high` is settled at the edge, `< low` is dropped, `[low, high)` is a hard case: the
track's best crop (JPEG) and the edge's guess go out as one `vision.hard_case` event,
priority high, with the image as media. The cloud bridge carries it to the cloud model;
until it does, the crop is also published locally on `<prefix>/cameras/<cam>/hard_case`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gateway.events import Event, Events, Priority
from gateway.vision.tracker import Track

__all__ = ["Band", "Decision", "hard_case_event"]

KIND = "vision.hard_case"
MEDIA_TYPE = "image/jpeg"


class Decision(StrEnum):
    """What the edge does with a track."""

    SETTLED = "settled"
    HARD_CASE = "hard_case"
    DROPPED = "dropped"


@dataclass(slots=True, frozen=True)
class Band:
    """The escalation band `[low, high)`."""

    low: float
    high: float

    def decide(self, best_score: float) -> Decision:
        """Return the decision for a track whose best score is `best_score`."""
        if best_score >= self.high:
            return Decision.SETTLED
        if best_score < self.low:
            return Decision.DROPPED
        return Decision.HARD_CASE


def hard_case_event(
    events: Events,
    *,
    camera: str,
    track: Track,
    crop: bytes,
    band: Band,
    detection_event: str | None,
    media_topic: str,
) -> Event:
    """Return the `vision.hard_case` event of `track`: its best crop and the edge's guess."""
    b = track.best_box
    return events.make(
        source=camera,
        kind=KIND,
        priority=Priority.HIGH,
        data={
            "camera": camera,
            "track_id": track.id,
            "label": track.label,
            "score": round(track.best_score, 4),
            "band": [band.low, band.high],
            "box": {"x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2},
            "zones": sorted(track.zones_entered),
            "detection_event": detection_event,
            "media_bytes": len(crop),
            "media_topic": media_topic,
        },
        media=crop,
        media_type=MEDIA_TYPE,
    )
