"""What the detector looks at besides motion, and which detections count (per label).

Following Frigate's `objects.filters`: a detection whose box or score is outside its
label's filter is dropped before tracking, so a person 4 px wide, a box the size of the
picture or a car-shaped "person" never becomes a track. A cv2-free module, so loading
a config never imports OpenCV.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ObjectFilter", "ObjectsConfig", "UnknownObjectsConfig"]


class ObjectFilter(BaseModel):
    """Bounds on one label's detections; a detection outside any of them is dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    min_score: float = Field(
        0.0, ge=0.0, le=1.0, description="Lowest detector score kept for this label."
    )
    min_area: float = Field(0.0, ge=0.0, description="Smallest box area, in square source pixels.")
    max_area: float = Field(1e9, gt=0.0, description="Largest box area, in square source pixels.")
    min_ratio: float = Field(0.0, ge=0.0, le=100.0, description="Smallest width/height of the box.")
    max_ratio: float = Field(
        100.0, gt=0.0, le=100.0, description="Largest width/height of the box."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_area > self.max_area or self.min_ratio > self.max_ratio:
            msg = "object filter needs min_area <= max_area and min_ratio <= max_ratio"
            raise ValueError(msg)
        return self

    def keeps(self, score: float, width: float, height: float) -> bool:
        """Return True when a detection of this score and size passes the filter."""
        if score < self.min_score or height <= 0:
            return False
        area, ratio = width * height, width / height
        return self.min_area <= area <= self.max_area and self.min_ratio <= ratio <= self.max_ratio


class UnknownObjectsConfig(BaseModel):
    """Moving objects no detection explains, sent to the cloud to be named
    (`gateway.vision.unknown`).

    A motion blob that no tracked or detected object covers is tracked on its own; once it
    has been seen for `min_duration_s`, is at least `min_area` large and has travelled
    `min_travel` of its size, its crop goes up as a hard case of kind `unknown` (at most
    `max_per_minute` per camera). Nothing is announced before the cloud names it.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(False, description="Send unknown moving objects to be named.")
    min_duration_s: float = Field(
        1.0, ge=0.0, le=3600.0, description="Seconds an unknown object must be tracked first."
    )
    min_area: float = Field(
        1500.0, ge=0.0, description="Smallest blob (square source pixels) that is tracked."
    )
    min_travel: float = Field(
        0.0,
        ge=0.0,
        le=100.0,
        description="How far its centre must have moved, in widths of its box (0: present "
        "is enough).",
    )
    max_per_minute: int = Field(
        6, ge=0, le=10_000, description="Unknown hard cases per camera per minute (0: none)."
    )
    coverage: float = Field(
        0.3,
        gt=0.0,
        le=1.0,
        description="A blob with this fraction of its area inside a tracked or detected "
        "object's box is that object's motion, not an unknown one.",
    )
    crop_margin: float = Field(
        0.5,
        ge=0.0,
        le=5.0,
        description="Context on every side of the blob, in its larger side: the crop is a "
        "square `1 + 2 * crop_margin` times it, kept inside the frame (a blob is often a "
        "part of the object: a door, a wheel).",
    )


class ObjectsConfig(BaseModel):
    """Per-camera object settings: the periodic whole-frame look and per-label filters."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    full_frame_interval_s: float = Field(
        5.0,
        ge=0.0,
        le=3600.0,
        description="With motion gating on, also run the detector on the whole frame this "
        "often, so people who stand still (no motion) stay tracked (0: never).",
    )
    filters: dict[str, ObjectFilter] = Field(
        default_factory=dict,
        description="Per-label filters, e.g. `person: {min_area: 600, max_ratio: 1.2}`; "
        "labels without an entry keep every detection the model's threshold passes.",
    )
    unknown: UnknownObjectsConfig = Field(
        default_factory=UnknownObjectsConfig,
        description="Moving objects the model does not label, named by the cloud.",
    )
