"""The cascade on a track's best score: settled, hard case or dropped (DESIGN.md).

`>= high` is settled at the edge (unless its box is group-shaped, see `Band`), `< low`
is dropped, `[low, high)` is a hard case: the
track's best crop (JPEG) and the edge's guess go out as one `vision.hard_case` event,
priority high, with the image as media. The cloud bridge carries it to the cloud model;
until it does, the crop is also published locally on `<prefix>/cameras/<cam>/hard_case`.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.events import Event, Events, Kind, Priority
from gateway.inference.geometry import Box
from gateway.payloads import Decision, HardCaseData
from gateway.vision.tracker import Track

__all__ = ["Band", "Decision", "hard_case_event"]

KIND = Kind.VISION_HARD_CASE
MEDIA_TYPE = "image/jpeg"


@dataclass(slots=True, frozen=True)
class Band:
    """The escalation band `[low, high)`, and the shape of a group.

    A track the band settles is still a hard case when its best box is at least
    `group_aspect` times as wide as it is tall (0: never): a classifier on motion blobs
    is sure there is *a* person in a group's blob, but only the cloud can say how many.
    """

    low: float
    high: float
    group_aspect: float = 0.0

    def decide_track(self, track: Track) -> Decision:
        """Return the decision for `track`: its best score, then its best box's shape."""
        decision = self.decide(track.best_score)
        box = track.best_box
        if (
            decision is Decision.SETTLED
            and self.group_aspect > 0
            and box.height > 0
            and box.width >= self.group_aspect * box.height
        ):
            return Decision.HARD_CASE
        return decision

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
    crop_box: Box | None = None,
    detection_event: str | None,
    media_topic: str,
) -> Event:
    """Return the `vision.hard_case` event of `track`: its best crop and the edge's guess."""
    data = HardCaseData(
        camera=camera,
        track_id=track.id,
        label=track.label,
        score=round(track.best_score, 4),
        band=(band.low, band.high),
        box=track.best_box,
        crop_box=crop_box,
        group=band.decide(track.best_score) is Decision.SETTLED,
        zones=tuple(sorted(track.zones_entered)),
        detection_event=detection_event,
        media_bytes=len(crop),
        media_topic=media_topic,
    )
    return events.make(
        source=camera,
        kind=KIND,
        priority=Priority.HIGH,
        data=data.to_data(),
        media=crop,
        media_type=MEDIA_TYPE,
    )
