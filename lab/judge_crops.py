"""Labelled hard-case crops from vtest.avi, cut from the hand-verified truth (lab/truth).

What a person judge must tell apart, each crop cut as the gateway cuts a hard case
(`gateway.vision.groups.crop_box`: the box plus `margin` pixels, faces blurred by the
camera's `FaceRedactor`, JPEG at the crop quality):

- `person`: boxes of truth people, evenly spaced over each track, where the truth box was
  a checked detector proposal (not interpolated behind the post or the sign), so each
  crop shows the person; sizes run from the far walker (~15x35 px) to the near ones.
- `not_person`: the box of each sampled person, cut where that person stood, from the
  nearest frame (60 frames or more away) in which no truth person touches it: the same
  sizes and places as the people (pavement, tape, the post, the sign, grass, the van's
  side). And, on every `negative_every`-th frame, the camera's motion blobs
  (`gateway.vision.motion`, the van, the car, shadows, a swinging bag) and the boxes the
  edge's own person detector finds at a low score (>= `negative_score`, on 300 px tiles:
  the tape, cones, the tripod) that touch no truth person: what a hard case that is not a
  person looks like. Near-duplicates (IoU >= 0.5 within 40 frames) are kept once.

Which frames a crop comes from is kept (`frame`), so a judge tuned on one part of the
clip can be scored on the other.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from devices.cameras import Image, encode_jpeg
from gateway.config.motion import MotionConfig
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.vision.groups import crop_box
from gateway.vision.motion import MotionDetector
from gateway.vision.redact import FaceRedactor
from lab.evaluation import TrackPath
from refcloud.oracle import tile_origins

__all__ = ["CropLabel", "LabelledCrop", "judge_crops", "read_proposals"]

CropLabel = Literal["person", "not_person"]

PROPOSALS = Path(__file__).with_name("truth") / "vtest" / "proposals.txt"
_SEEN_IOU = 0.5  # a truth box this close to a checked proposal shows the person
_EMPTY_STEPS = (60, 120, 200, 300, 400, 500, 600, 700)
_TILE = 300
_STRIDE = 234


@dataclass(slots=True, frozen=True)
class LabelledCrop:
    """One crop as the gateway would upload it, and what it shows."""

    label: CropLabel
    frame: int
    """0-based frame of vtest.avi."""
    box: Box
    """The object's box in the frame (the crop is this plus the margin)."""
    jpeg: bytes
    source: str
    """`truth:<id>` or `edge_detector:<score>`."""
    unredacted: bytes = b""
    """The same crop as a JPEG without redaction: what redaction costs a judge (bench only)."""


def read_proposals(path: Path) -> dict[int, list[Box]]:
    """Return the truth's detector proposals (MOT det lines) by 0-based frame."""
    out: dict[int, list[Box]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split(",")
        x, y, w, h = (float(v) for v in fields[2:6])
        out.setdefault(int(fields[0]) - 1, []).append(Box(x, y, x + w, y + h))
    return out


def _seen(truth: TrackPath, proposals: dict[int, list[Box]]) -> list[int]:
    """Frames where the truth box matches a checked proposal (the person is visible)."""
    return sorted(
        f
        for f, b in truth.boxes.items()
        if any(b.iou(p) >= _SEEN_IOU for p in proposals.get(f, ()))
    )


def _spread(frames: list[int], count: int) -> list[int]:
    if len(frames) <= count:
        return frames
    step = (len(frames) - 1) / (count - 1) if count > 1 else 0
    return sorted({frames[round(i * step)] for i in range(count)})


def judge_crops(
    clip: Path,
    truth: Sequence[TrackPath],
    edge_detector: Detector,
    redactor: FaceRedactor,
    *,
    motion: MotionConfig | None = None,
    per_person: int = 6,
    negative_every: int = 10,
    negative_score: float = 0.15,
    margin: float = 8.0,
    quality: int = 90,
) -> list[LabelledCrop]:
    """Return the labelled crops (in frame order), as uploaded."""
    proposals = read_proposals(PROPOSALS)
    wanted: dict[int, list[tuple[Box, str]]] = {}
    by_frame: dict[int, list[Box]] = {}
    for person in truth:
        for f in _spread(_seen(person, proposals), per_person):
            wanted.setdefault(f, []).append((person.boxes[f], f"truth:{person.id}"))
        for f, b in person.boxes.items():
            by_frame.setdefault(f, []).append(b)
    last = max(by_frame, default=0)
    empty: dict[int, list[tuple[Box, str]]] = {}
    for f, found in sorted(wanted.items()):
        for box, source in found:
            g = _empty_frame(box.expand(margin + 4), f, by_frame, last)
            if g is not None:
                empty.setdefault(g, []).append((box, f"empty_place:{source}"))
    gate = MotionDetector(motion)
    cut = _Cutter(redactor, margin, quality)
    out: list[LabelledCrop] = []
    negatives: list[tuple[int, Box]] = []

    def negative(f: int, image: Image, box: Box, source: str) -> None:
        if box.width < 8 or box.height < 8:
            return
        if any(box.expand(margin + 4).intersection(p) > 0 for p in by_frame.get(f, ())):
            return
        if any(abs(g - f) <= 40 and box.iou(b) >= 0.5 for g, b in negatives):
            return
        negatives.append((f, box))
        out.append(cut(image, box, label="not_person", frame=f, source=source))

    for f, image in enumerate(_frames(clip)):
        moving = gate.detect(image)
        for box, source in wanted.get(f, ()):
            out.append(cut(image, box, label="person", frame=f, source=source))
        for box, source in empty.get(f, ()):
            out.append(cut(image, box, label="not_person", frame=f, source=source))
        if f % negative_every:
            continue
        for box in moving.boxes:
            negative(f, image, box, "motion")
        for box, score in _edge_finds(edge_detector, image, negative_score):
            negative(f, image, box, f"edge_detector:{score:.2f}")
    return out


def _empty_frame(box: Box, frame: int, people: dict[int, list[Box]], last: int) -> int | None:
    """A frame, away from `frame`, in which `box` touches no person."""
    for step in _EMPTY_STEPS:
        for g in (frame + step, frame - step):
            if 0 <= g <= last and all(box.intersection(p) <= 0 for p in people.get(g, ())):
                return g
    return None


def _frames(clip: Path) -> Iterator[Image]:
    cap = cv2.VideoCapture(str(clip))
    try:
        while True:
            ok, image = cap.read()
            if not ok:
                return
            yield np.asarray(image, dtype=np.uint8)
    finally:
        cap.release()


def _edge_finds(detector: Detector, image: Image, threshold: float) -> Iterator[tuple[Box, float]]:
    h, w = image.shape[:2]
    for o in tile_origins(w, h, _TILE, _STRIDE):
        tile = image[o.y : o.y + _TILE, o.x : o.x + _TILE]
        for det in detector.detect(tile):
            if det.score >= threshold:
                b = det.box
                yield Box(b.x1 + o.x, b.y1 + o.y, b.x2 + o.x, b.y2 + o.y).clip(w, h), det.score


@dataclass(slots=True, frozen=True)
class _Cutter:
    """Cut a crop as the gateway does: box plus margin, faces blurred, JPEG."""

    redactor: FaceRedactor
    margin: float
    quality: int

    def __call__(
        self, image: Image, box: Box, *, label: CropLabel, frame: int, source: str
    ) -> LabelledCrop:
        h, w = image.shape[:2]
        x1, y1, x2, y2 = crop_box(box, self.margin, w, h).to_int()
        piece = np.ascontiguousarray(image[y1:y2, x1:x2])
        redacted = self.redactor.redact(piece).image
        jpeg = encode_jpeg(redacted, self.quality)
        plain = encode_jpeg(piece, self.quality)
        return LabelledCrop(label, frame, box, jpeg, source, plain)
