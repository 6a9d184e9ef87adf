"""What the detector looks at besides motion, and which detections count (per label).

Following Frigate's `objects.filters`: a detection whose box or score is outside its
label's filter is dropped before tracking, so a person 4 px wide, a box the size of the
picture or a car-shaped "person" never becomes a track. A cv2-free module, so loading
a config never imports OpenCV.
"""

from __future__ import annotations

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

__all__ = ["ObjectFilter", "ObjectsConfig"]


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
