"""The cascade on a track's best score: settled, hard case or dropped (DESIGN.md).

`AdaptiveBand` moves the band's edges with the cloud's verdicts: when the cloud confirms
nearly every hard case in the band's upper half, the upper edge comes down (those are
settled at the edge, no call); when it rejects nearly every one in the lower half, the
lower edge goes up (those are dropped, no call); when it disagrees with that again, the
edge goes back towards the configured one. It never widens past the configured band.

`>= high` is settled at the edge (unless its box is group-shaped, see `Band`), `< low`
is dropped, `[low, high)` is a hard case: the
track's best crop (JPEG) and the edge's guess go out as one `vision.hard_case` event,
priority high, with the image as media. The cloud bridge carries it to the cloud model;
until it does, the crop is also published locally on `<prefix>/cameras/<cam>/hard_case`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from gateway.config.vision import AdaptiveBandConfig
from gateway.events import Event, Events, Kind, Priority
from gateway.inference.geometry import Box
from gateway.payloads import CropReason, Decision, HardCaseData, HardCaseKind
from gateway.vision.tracker import Track

__all__ = ["AdaptiveBand", "Band", "Decision", "hard_case_event"]

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


class AdaptiveBand:
    """A band whose edges follow the cloud's agreement (`escalation.adaptive`)."""

    def __init__(self, configured: Band, cfg: AdaptiveBandConfig) -> None:
        self.configured = configured
        self.cfg = cfg
        self.band = configured
        self._upper: deque[bool] = deque(maxlen=cfg.window)
        self._lower: deque[bool] = deque(maxlen=cfg.window)
        self.moves = 0

    def observe(self, score: float, band: tuple[float, float], confirmed: bool) -> None:
        """Learn from one verdict on a hard case of edge score `score` sent in `band`."""
        if not self.cfg.enabled:
            return
        low, high = band
        upper = score >= (low + high) / 2
        window = self._upper if upper else self._lower
        window.append(confirmed)
        if len(window) < self.cfg.window:
            return
        agreed = sum(window) / len(window)
        cfg, cur, step = self.cfg, self.band, self.cfg.step
        new_low, new_high = cur.low, cur.high
        if upper and agreed >= cfg.agree:
            new_high = max(cur.high - step, cfg.min_high, cur.low + 2 * step)
        elif upper and agreed <= 1 - cfg.agree / 2:
            new_high = min(cur.high + step, self.configured.high)
        elif not upper and 1 - agreed >= cfg.agree:
            new_low = min(cur.low + step, cfg.max_low, cur.high - 2 * step)
        elif not upper and agreed >= cfg.agree / 2:
            new_low = max(cur.low - step, self.configured.low, cfg.min_low)
        if (new_low, new_high) != (cur.low, cur.high) and new_low < new_high:
            self.band = Band(round(new_low, 4), round(new_high, 4), cur.group_aspect)
            self.moves += 1
        window.clear()


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
    reason: CropReason = "end",
    crop_index: int = 0,
    shot_box: Box | None = None,
    faces: int = 0,
    kind: HardCaseKind = "detection",
) -> Event:
    """Return the `vision.hard_case` event of `track`: a crop and the edge's guess.

    `shot_box` is the box the crop was cut around (default: the track's best box);
    `kind` `unknown`: an object the edge cannot label, for the cloud to name.
    """
    data = HardCaseData(
        camera=camera,
        track_id=track.id,
        label=track.label,
        score=round(track.best_score, 4),
        band=(band.low, band.high),
        box=track.best_box if shot_box is None else shot_box,
        crop_box=crop_box,
        group=kind == "detection" and band.decide(track.best_score) is Decision.SETTLED,
        zones=tuple(sorted(track.zones_entered)),
        detection_event=detection_event,
        media_bytes=len(crop),
        media_topic=media_topic,
        reason=reason,
        crop_index=crop_index,
        faces_redacted=faces,
        kind=kind,
    )
    return events.make(
        source=camera,
        kind=KIND,
        priority=Priority.HIGH,
        data=data.to_data(),
        media=crop,
        media_type=MEDIA_TYPE,
    )
