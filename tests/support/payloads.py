"""Event data as the vision pipeline builds it, for tests that inject events by hand."""

from __future__ import annotations

from typing import Any

from gateway.inference.geometry import Box
from gateway.payloads import HardCaseData


def hard_case_data(
    label: str = "person",
    score: float = 0.6,
    *,
    camera: str = "door",
    track_id: int = 7,
    band: tuple[float, float] = (0.5, 0.99),
    crop_box: Box | None = None,
) -> dict[str, Any]:
    """Return the `data` of a `vision.hard_case` event (a 100x200 px box at 10,10)."""
    return HardCaseData(
        camera=camera,
        track_id=track_id,
        label=label,
        score=score,
        band=band,
        box=Box(10, 10, 110, 210),
        crop_box=crop_box,
        group=False,
        zones=(),
        detection_event=None,
        media_bytes=0,
        media_topic=f"edgegw/test/cameras/{camera}/hard_case",
    ).to_data()
