"""The redaction proof: faces the full-range face detector finds in what was uploaded.

After the run, every hard-case crop the gateway sent (as the recorder saw it leave, the
bytes the uplink puts in the OIP request) goes through BlazeFace full range
(`blazeface_full`) at `FACE_CHECK`: `faces_in_uploads_after` must be 0 with redaction on.

For the count before redaction, the same crop is cut again from the camera's frame
without redaction: the recorder keeps the frames the camera sent (the gateway decoded the
same JPEGs), and the crop's frame is the one, between the track's first sight and the
hard case, whose `crop_box` region differs least (mean absolute difference) from the
uploaded crop: the faces are blurred there, the rest is the same picture up to JPEG noise.
It is taken when most of the crop is that same picture (the median pixel differs by at
most `MATCH_MAX_MEDIAN`, whatever share of a small crop the blurred faces cover); a crop
without such a frame is counted in `uploads_unmatched` and not in the count before.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from apps.demo.recorder import HardCaseRecord, Recorder
from devices.cameras import Image, encode_jpeg
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.vision.redact import FACE_MODEL, find_faces

__all__ = ["FACE_CHECK", "FacesProof", "check_uploads", "count_faces", "write_leaked"]

FACE_CHECK = 0.5
"""Face score counted as a face found (as `bench/hybrid.py` counts)."""
MATCH_MAX_MEDIAN = 6.0
"""Median pixel difference (0-255, largest channel) under which a region is the crop's."""
_LOOK_BACK_S = 60.0  # a crop with no announced track (an unknown object): frames this far back
_SLACK_S = 10.0
"""How long before the track's first sight its frame may have been sent: the camera stamps
a frame as it publishes it, and a loaded gateway sees it later (a short demo test missed
one crop's frame under load with 0.5 s)."""
_AFTER_S = 1.0
"""How long after the hard case's own time its frame may be stamped: the event's time and
the frame's stamp come from two clocks and serialisations (a crop cut on the frame of
the hard case itself sits at the window's edge)."""


@dataclass(slots=True, frozen=True)
class FacesProof:
    """Faces found in the uploaded crops, after and before the edge's redaction."""

    model: str
    threshold: float
    uploads: int
    """Hard-case crops the gateway handed to its uplink (judged, or still queued at the end)."""
    faces_in_uploads_after: int
    """Faces found in them as uploaded (0: redaction held)."""
    uploads_with_faces_after: int
    leaked: list[str]
    """Ids of the hard cases whose uploaded crop still showed a face."""
    faces_in_uploads_before: int
    """Faces found in the same crops cut from the unredacted frames."""
    uploads_with_faces_before: int
    uploads_unmatched: int
    """Crops whose unredacted frame was not found (not in the count before)."""
    faces_blurred_by_edge: int
    """Faces the edge blurred in the uploaded crops (its own, lower threshold)."""


@dataclass(slots=True)
class _Match:
    case: HardCaseRecord
    crop: Image
    first_ts: float
    diff: float = float("inf")
    raw: Image | None = None

    def matched(self) -> bool:
        """Whether the closest region is the crop's (most of it the same picture)."""
        if self.raw is None:
            return False
        median = float(np.median(cv2.absdiff(self.raw, self.crop).max(axis=2)))
        return median <= MATCH_MAX_MEDIAN


def _decode(jpeg: bytes) -> Image | None:
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    return None if image is None else np.asarray(image, np.uint8)


def _region(frame: Image, box: tuple[float, float, float, float]) -> Image:
    x1, y1, x2, y2 = Box(*box).to_int()  # as the analyzer cuts it
    return frame[y1:y2, x1:x2]


def _unredacted(rec: Recorder, matches: list[_Match]) -> None:
    """Find each crop's unredacted region in the kept frames (one decode per frame)."""
    if not matches:
        return
    for frame in rec.frames:
        near = [
            m for m in matches if m.first_ts - _SLACK_S <= frame.wall_ts <= m.case.ts + _AFTER_S
        ]
        if not near:
            continue
        image = _decode(frame.jpeg)
        if image is None:
            continue
        for m in near:
            assert m.case.crop_box is not None
            region = _region(image, m.case.crop_box)
            if region.shape != m.crop.shape:
                continue
            diff = float(np.mean(cv2.absdiff(region, m.crop)))
            if diff < m.diff:
                m.diff, m.raw = diff, region.copy()


def count_faces(detector: Detector, jpeg: bytes) -> int:
    """Faces `detector` (the full-range one) finds at `FACE_CHECK` or above in a JPEG."""
    image = _decode(jpeg)
    return 0 if image is None else len(find_faces(detector, image, FACE_CHECK))


def check_uploads(rec: Recorder, quality: int, detector: Detector | None = None) -> FacesProof:
    """Count the faces in every uploaded crop, as sent and as cut before redaction.

    `quality`: the camera's `events.crop_quality` (the unredacted crop is encoded as the
    uploaded one was). Blocking (the face model and every frame decoded): run it in a
    thread.
    """
    if detector is None:
        detector = Detector.from_catalogue(FACE_MODEL, num_threads=1, score_threshold=0.1)
    matches: list[_Match] = []
    for case in rec.hard_cases:
        crop = _decode(case.crop)
        if crop is None or case.crop_box is None:
            continue
        first = rec.starts.get(case.detection_event or "", case.ts - _LOOK_BACK_S)
        matches.append(_Match(case, crop, first))
    _unredacted(rec, matches)
    after = [count_faces(detector, case.crop) for case in rec.hard_cases]
    found = [m for m in matches if m.matched()]
    before = [
        count_faces(detector, encode_jpeg(m.raw, quality)) for m in found if m.raw is not None
    ]
    return FacesProof(
        model=FACE_MODEL,
        threshold=FACE_CHECK,
        uploads=len(rec.hard_cases),
        faces_in_uploads_after=sum(after),
        uploads_with_faces_after=sum(n > 0 for n in after),
        leaked=[case.id for case, n in zip(rec.hard_cases, after, strict=True) if n],
        faces_in_uploads_before=sum(before),
        uploads_with_faces_before=sum(n > 0 for n in before),
        uploads_unmatched=len(rec.hard_cases) - len(found),
        faces_blurred_by_edge=sum(case.faces_redacted for case in rec.hard_cases),
    )


def write_leaked(rec: Recorder, proof: FacesProof, out_dir: Path) -> list[Path]:
    """Write each uploaded crop that still showed a face to `out_dir/<hard case id>.jpg`."""
    leaked = set(proof.leaked)
    paths = []
    for case in rec.hard_cases:
        if case.id in leaked:
            out_dir.mkdir(parents=True, exist_ok=True)
            path = out_dir / f"{case.id}.jpg"
            path.write_bytes(case.crop)
            paths.append(path)
    return paths
