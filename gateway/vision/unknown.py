"""Unknown objects: motion that persists where no detection explains it.

The person detector labels people; a van that drives in, a car's tailgate that opens or
a dog have no label at the edge. `UnknownObjects` tracks, with its own `ObjectTracker`,
the motion blobs that no detected or tracked object covers (`objects.unknown.coverage`)
and that are at least `min_area` large. A track *qualifies* once it has been seen for
`min_duration_s` and its centre has moved `min_travel` widths of its box: its crop (with
`crop_margin` of context, faces blurred like every crop that leaves) then goes to the
cloud as a hard case of kind `unknown`, once per track; the cloud names it
(`gateway.vision.publisher`). Tracks that never qualify (barrier tape fluttering in the
wind, a shadow) cost nothing beyond the tracker.

Unknown tracks have ids from `UNKNOWN_IDS` up, so they never meet the camera's own tracks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from devices.cameras import Image, encode_jpeg
from gateway.config.objects import UnknownObjectsConfig
from gateway.config.tracker import TrackerConfig, ZoneConfig
from gateway.inference.geometry import Box, square_region
from gateway.inference.outputs import Detection
from gateway.payloads import UNKNOWN_LABEL
from gateway.vision.redact import FaceRedactor
from gateway.vision.tracker import ObjectTracker, Track

__all__ = ["UNKNOWN_IDS", "UnknownCrop", "UnknownObjects", "UnknownUpdate", "square_crop"]

UNKNOWN_IDS = 2_000_000
"""Ids of unknown-object tracks start here (split children start at 1_000_000)."""
_MOTION_SCORE = 1.0  # a blob is motion for sure; what it is, only the cloud says


@dataclass(slots=True, frozen=True)
class UnknownCrop:
    """An unknown track that qualified on this frame, and its crop (JPEG, faces blurred)."""

    track: Track
    crop: bytes
    crop_box: Box
    """Where the crop was cut from the frame, in source pixels."""
    faces: int
    frame_index: int


@dataclass(slots=True, frozen=True)
class UnknownUpdate:
    """What the unknown objects did on one frame."""

    qualified: tuple[UnknownCrop, ...] = ()
    ended: tuple[Track, ...] = ()
    """Qualified tracks that ended on this frame."""


def tracker_config(zones: Sequence[ZoneConfig] = ()) -> TrackerConfig:
    """The unknown tracker's settings: blobs jitter more than detections, so match loosely."""
    return TrackerConfig(
        iou_threshold=0.2,
        min_hits=3,
        max_misses=5,
        lost_s=1.0,
        max_age_s=5.0,
        small_box_area=1e9,  # every blob may also match by centre distance
        center_distance=1.0,
        zones=list(zones),
    )


class UnknownObjects:
    """Track uncovered motion blobs; hand over the ones that qualify, once each."""

    def __init__(
        self,
        cfg: UnknownObjectsConfig,
        *,
        zones: Sequence[ZoneConfig] = (),
        redactor: FaceRedactor | None = None,
        crop_quality: int = 90,
    ) -> None:
        self.cfg = cfg
        self.redactor = redactor
        self._quality = crop_quality
        self.tracker = ObjectTracker(tracker_config(zones))
        self._first: dict[int, Box] = {}
        self._qualified: set[int] = set()
        self.blobs = 0
        """Blobs tracked so far (uncovered and large enough)."""

    def covered(self, blob: Box, objects: Sequence[Box]) -> bool:
        """Whether `blob` is (mostly) inside one of `objects`' boxes: their motion."""
        area = blob.area
        if area <= 0:
            return True
        return any(blob.intersection(o) / area >= self.cfg.coverage for o in objects)

    def update(
        self,
        image: Image,
        blobs: Sequence[Box],
        objects: Sequence[Box],
        ts: float,
        index: int,
    ) -> UnknownUpdate:
        """Track this frame's `blobs` that `objects` (detections, tracks) do not cover."""
        cfg = self.cfg
        found = [
            Detection(UNKNOWN_LABEL, _MOTION_SCORE, b)
            for b in blobs
            if b.area >= cfg.min_area and not self.covered(b, objects)
        ]
        self.blobs += len(found)
        update = self.tracker.update(found, ts, index)
        live = {t.id for t in self.tracker.tracks}
        qualified: list[UnknownCrop] = []
        for track in (*update.started, *update.updated):
            first = self._first.setdefault(track.id, track.box)
            if track.id in self._qualified or not self._qualifies(track, first):
                continue
            crop = self._cut(image, track, index)
            if crop is not None:
                self._qualified.add(track.id)
                qualified.append(crop)
        ended = tuple(_numbered(t) for t in update.ended if t.id in self._qualified)
        for track in update.ended:
            self._qualified.discard(track.id)
        for gone in set(self._first) - live:
            del self._first[gone]
        return UnknownUpdate(tuple(qualified), ended)

    def flush(self, ts: float) -> tuple[Track, ...]:
        """End every track (the camera stops); return the qualified ones."""
        ended = tuple(_numbered(t) for t in self.tracker.flush(ts).ended if t.id in self._qualified)
        self._qualified.clear()
        self._first.clear()
        return ended

    def _qualifies(self, track: Track, first: Box) -> bool:
        cfg = self.cfg
        if track.last_seen - track.first_seen < cfg.min_duration_s:
            return False
        if cfg.min_travel <= 0:
            return True
        a, b = first.center, track.box.center
        travel = float(((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5)
        return travel >= cfg.min_travel * max(track.box.width, 1.0)

    def _cut(self, image: Image, track: Track, index: int) -> UnknownCrop | None:
        height, width = image.shape[:2]
        region = square_crop(track.box, self.cfg.crop_margin, width, height)
        x1, y1, x2, y2 = region.to_int()
        if x2 - x1 < 2 or y2 - y1 < 2:
            return None
        piece = image[y1:y2, x1:x2]
        faces = 0
        if self.redactor is not None:
            redacted = self.redactor.redact(piece)
            piece, faces = redacted.image, redacted.faces
        return UnknownCrop(
            _numbered(track), encode_jpeg(piece, self._quality), region, faces, index
        )


def square_crop(box: Box, margin: float, width: int, height: int) -> Box:
    """A square around `box`, `1 + 2 * margin` times its larger side, moved (not cut) to
    lie inside the frame: a blob at the frame's edge keeps its context on the inner side."""
    return square_region(box, max(box.width, box.height) * (1 + 2 * margin), width, height)


def _numbered(track: Track) -> Track:
    """`track` under its camera-wide id."""
    return replace(track, id=UNKNOWN_IDS + track.id)
