"""Motion gating settings: a cv2-free module, so loading a config never imports OpenCV."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MotionConfig", "PolygonPoints"]

PolygonPoints = Annotated[
    list[tuple[float, float]],
    Field(min_length=3, description="Polygon corners as [x, y] in source pixels."),
]


class MotionConfig(BaseModel):
    """Motion gating settings for one camera."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        default=True,
        description="Gate detection on motion; when false the whole frame is one region.",
    )
    method: Literal["average", "mog2"] = Field(
        default="average",
        description=(
            "Background model: 'average' (running average, cheapest) or 'mog2' "
            "(OpenCV's Gaussian mixture: tighter blobs, about 10x the cost)."
        ),
    )
    frame_height: int = Field(
        default=288,
        ge=48,
        le=2160,
        description="Height of the grey frame motion is computed on (width keeps the aspect).",
    )
    threshold: int = Field(
        default=25,
        ge=1,
        le=255,
        description="Grey-level difference from the background that counts as change ('average').",
    )
    mog2_var_threshold: float = Field(
        default=16.0,
        ge=1.0,
        le=255.0,
        description="Squared Mahalanobis distance that counts as change ('mog2').",
    )
    alpha: float = Field(
        default=0.02,
        gt=0.0,
        le=1.0,
        description="How fast the running-average background absorbs the picture, per frame.",
    )
    min_area: float = Field(
        default=150.0,
        ge=0.0,
        description="Smallest blob area, in square source pixels, that counts as motion.",
    )
    merge_distance: float = Field(
        default=24.0,
        ge=0.0,
        description="Largest vertical gap, in source pixels, across which stacked blobs join.",
    )
    split_wide: bool = Field(
        default=True,
        description=(
            "Cut a blob wider than `split_aspect` times its height at the valleys of its "
            "column profile: people walking side by side become one box each."
        ),
    )
    split_aspect: float = Field(
        default=0.6,
        gt=0.0,
        le=10.0,
        description="Width / height above which a blob is checked for several people.",
    )
    split_valley: float = Field(
        default=0.6,
        gt=0.0,
        le=1.0,
        description="Cut where the column profile falls below this fraction of both peaks.",
    )
    region_margin: float = Field(
        default=16.0,
        ge=0.0,
        description="Margin, in source pixels, added around a blob before squaring it.",
    )
    region_min_size: int = Field(
        default=128,
        ge=16,
        le=4096,
        description="Smallest side, in source pixels, of a square detection region.",
    )
    region_merge_overlap: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="Regions sharing this fraction of the smaller one are merged into one.",
    )
    global_change_fraction: float = Field(
        default=0.4,
        gt=0.0,
        le=1.0,
        description=(
            "When more than this fraction of the picture changes at once (lights, "
            "auto-exposure), reset the background and report no motion for the frame."
        ),
    )
    warmup_frames: int = Field(
        default=2,
        ge=0,
        le=1000,
        description="Frames after a (re)start during which no motion is reported.",
    )
    masks: list[PolygonPoints] = Field(
        default_factory=list,
        description="Polygons, in source pixels, where motion is ignored (trees, tape, clocks).",
    )
