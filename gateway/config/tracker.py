"""Tracker settings: a cv2-free module, so loading a config never imports OpenCV."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["TrackerConfig", "ZoneConfig"]


class ZoneConfig(BaseModel):
    """A named area of the picture; a track is in it when its bottom-centre is inside."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Zone name, used in events and topics.")
    points: Annotated[
        list[tuple[float, float]],
        Field(min_length=3, description="Polygon corners as [x, y] in source pixels."),
    ]
    labels: list[str] = Field(
        default_factory=list,
        description="Labels this zone reports; empty means every label.",
    )


class TrackerConfig(BaseModel):
    """Tracker settings for one camera (see `gateway.vision.tracker` for how they act)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    high_score: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Detections scoring at least this are matched first and may start tracks; "
        "lower ones (down to `min_score`) only keep existing tracks alive.",
    )
    iou_threshold: float = Field(
        default=0.3,
        gt=0.0,
        le=1.0,
        description="Smallest IoU between a track's predicted box and a high-score detection "
        "that matches them.",
    )
    low_iou_threshold: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Smallest IoU between a track's predicted box and a low-score detection "
        "that matches them (stricter: low scores are often background).",
    )
    small_box_area: float = Field(
        default=1600.0,
        ge=0.0,
        description="Boxes below this area (square source pixels) may match by centre distance.",
    )
    center_distance: float = Field(
        default=0.5,
        ge=0.0,
        le=5.0,
        description="Centre distance that matches small boxes, as a fraction of their diagonal.",
    )
    min_hits: int = Field(
        default=3,
        ge=1,
        le=100,
        description="Consecutive matches needed before a track starts (is reported).",
    )
    max_misses: int = Field(
        default=5,
        ge=0,
        le=1000,
        description="Frames without a match during which a started track is still reported "
        "active; after them it is lost (see `lost_s`).",
    )
    lost_s: float = Field(
        default=1.5,
        ge=0.0,
        le=60.0,
        description="Seconds after its last match during which an unseen track keeps "
        "predicting and a detection matching the prediction continues it (same id); it ends "
        "when this and `max_misses` have both run out.",
    )
    max_age_s: float = Field(
        default=10.0,
        gt=0.0,
        le=3600.0,
        description="Seconds unseen after which a track ends, whatever `max_misses` says.",
    )
    velocity_noise: float = Field(
        default=0.5,
        ge=0.0,
        le=10.0,
        description="How fast an object may change velocity, in box sizes per second per "
        "square root of a second (Kalman process noise); 0 trusts the velocity fully.",
    )
    measurement_noise: float = Field(
        default=0.05,
        gt=0.0,
        le=1.0,
        description="Jitter of a detected box's centre and size, as a fraction of its size "
        "(Kalman measurement noise).",
    )
    appearance_weight: float = Field(
        default=0.0,
        ge=0.0,
        le=10.0,
        description="Weight of the appearance cue (colour histograms of a box's upper and "
        "lower half, `gateway.vision.appearance`) in the matching cost, next to 1 - IoU: "
        "people passing close keep their ids by their clothes. 0 turns the cue off, and so "
        "do re-identification and `appearance_gate`.",
    )
    appearance_gate: float = Field(
        default=1.0,
        gt=0.0,
        le=1.0,
        description="Largest appearance distance (0 alike, 1 disjoint colours) at which a "
        "track that missed a frame may match a detection again (its prediction is less sure, "
        "so it must also look like itself); 1 never forbids a pair.",
    )
    appearance_momentum: float = Field(
        default=0.9,
        ge=0.0,
        lt=1.0,
        description="How much of a track's appearance each new detection keeps (an "
        "exponential moving average); a detection overlapping another one never updates it.",
    )
    direction_weight: float = Field(
        default=0.0,
        ge=0.0,
        le=10.0,
        description="Weight, in the matching cost, of how far a detection would turn a moving "
        "track: the angle between the track's velocity and the way from its last box to the "
        "detection, over pi (0 straight on, 1 straight back; OC-SORT's direction "
        "consistency). Two people crossing rarely trade directions. 0 turns it off.",
    )
    max_cost: float = Field(
        default=0.0,
        ge=0.0,
        le=100.0,
        description="Dearest pair (1 - IoU, or centre distance over reach, plus the "
        "appearance and direction penalties) that may still match; a dearer one leaves the "
        "track unmatched this frame. 0: no limit.",
    )
    nested_overlap: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="A track that starts with at least this fraction of its box inside the "
        "box of a larger reported track is tracked but not reported (no event, not counted) "
        "until a frame shows it out of every such box; one that never shows itself ends "
        "unannounced. The detector often also finds an upper body, or one person of a pair, "
        "inside the box of a whole that is already tracked. 0 turns it off.",
    )
    part_overlap: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="A high-score detection with at least this fraction of its box inside "
        "the box of a larger detection that continues a started track on the same frame is "
        "a part of that object (an upper body, a head, a person's other half) and starts no "
        "track. Tracking such parts swaps identities: when the whole is briefly missed or "
        "merged with a neighbour, the part's track takes the person over and the person "
        "becomes two events. Unlike `nested_overlap`, nothing is tracked, so nothing can "
        "take over. 0 turns it off.",
    )
    duplicate_overlap: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="A low-score detection with at least this fraction of its box inside a "
        "larger high-score detection that continues a track on the same frame is that object "
        "seen twice (the detector's second, tighter box for it, or a part of it) and keeps no "
        "other track alive. Without it, where one person stands in front of another, the "
        "hidden person's track takes the front person's second box, is pulled onto the wrong "
        "person and flies off; when the two come apart it is gone, and someone becomes a "
        "second event. 0 turns it off.",
    )
    occlusion_overlap: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="A started track missed on a frame while at least this fraction of its "
        "predicted box lies inside a box continuing another track is hidden by that object "
        "(behind it, or boxed with it). No track learns its look from such a box, and a "
        "high-score detection that nothing else takes and lies this much inside the box that "
        "last hid it continues the hidden track (within `lost_s`, a similar height and, with "
        "the appearance cue, within `reid_max_distance` of its look), wherever its "
        "prediction drifted to meanwhile. 0 turns it off.",
    )
    group_overlap: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="A high-score detection that holds at least this fraction of the "
        "predicted boxes of two or more reported tracks is a group of people already "
        "tracked (the detector often boxes two walkers as one) and starts no track; a "
        "person who covers two others starts once they no longer do. 0 turns it off.",
    )
    reid_s: float = Field(
        default=0.0,
        ge=0.0,
        le=60.0,
        description="Seconds after its last match during which a lost track (past "
        "`max_misses`) can be re-identified: a high-score detection that matches no track "
        "continues it (same id) when it looks alike (within `reid_max_distance`) and lies "
        "within `reid_reach` box heights of the track's prediction. The track ends when this "
        "and `lost_s` have run out. 0: no re-identification.",
    )
    reid_max_distance: float = Field(
        default=0.15,
        ge=0.0,
        le=1.0,
        description="Largest appearance distance at which a detection re-identifies a lost track.",
    )
    reid_reach: float = Field(
        default=1.5,
        ge=0.0,
        le=20.0,
        description="How far from a lost track's prediction a detection may re-identify it, "
        "in box heights.",
    )
    labels: list[str] = Field(
        default_factory=list, description="Labels to track; empty means every label."
    )
    min_score: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="Detections scoring lower are ignored.",
    )
    min_area: float = Field(
        default=0.0,
        ge=0.0,
        description="Detections smaller than this (square source pixels) are ignored.",
    )
    zones: list[ZoneConfig] = Field(default_factory=list, description="Named zones to report.")

    @model_validator(mode="after")
    def _lost_within_max_age(self) -> TrackerConfig:
        if self.lost_s > self.max_age_s:
            raise ValueError(f"lost_s ({self.lost_s}) must not exceed max_age_s ({self.max_age_s})")
        if self.reid_s > self.max_age_s:
            raise ValueError(f"reid_s ({self.reid_s}) must not exceed max_age_s ({self.max_age_s})")
        return self
