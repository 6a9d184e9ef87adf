"""Tracker settings: a cv2-free module, so loading a config never imports OpenCV."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

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
    """Tracker settings for one camera."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    iou_threshold: float = Field(
        default=0.3, gt=0.0, le=1.0, description="Smallest IoU that matches a detection to a track."
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
        default=3, ge=1, le=100, description="Matches needed before a track starts (is reported)."
    )
    max_misses: int = Field(
        default=5, ge=0, le=1000, description="Frames without a match after which a track ends."
    )
    max_age_s: float = Field(
        default=10.0, gt=0.0, description="Seconds unseen after which a track ends."
    )
    stitch_s: float = Field(
        default=0.0,
        ge=0.0,
        le=60.0,
        description="Seconds after its last match during which a lost track can be continued "
        "by a new detection near its last box (0: no stitching; a track ends after "
        "`max_misses`).",
    )
    stitch_distance: float = Field(
        default=1.0,
        ge=0.0,
        le=5.0,
        description="Largest centre distance that stitches, as a fraction of the larger "
        "box diagonal.",
    )
    labels: list[str] = Field(
        default_factory=list, description="Labels to track; empty means every label."
    )
    min_score: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Detections scoring lower are ignored."
    )
    min_area: float = Field(
        default=0.0,
        ge=0.0,
        description="Detections smaller than this (square source pixels) are ignored.",
    )
    zones: list[ZoneConfig] = Field(default_factory=list, description="Named zones to report.")
