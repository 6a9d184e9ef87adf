"""One camera's per-frame work: motion -> model on regions or crops -> tracker -> media.

Runs on the camera's worker thread (or in a benchmark loop); not thread-safe. A
detection model runs on square regions around motion and around live tracks; a
classifier (visual wake words) runs on each motion blob, and the blob becomes the
detection's box. So with a classifier a group walking together is one blob and one
track, and a person cut in two by a pole is only rejoined by the vertical merge; a
detection model gives per-person boxes. With no model, blobs are tracked as `motion`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from devices.cameras import Image, encode_jpeg
from gateway.config.vision import CameraConfig, ModelConfig
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box, merge_overlapping, square_region
from gateway.inference.outputs import ClassifierDecoder, Detection, nms
from gateway.vision.groups import crop_box
from gateway.vision.motion import MotionDetector, MotionResult
from gateway.vision.redact import FaceRedactor
from gateway.vision.tracker import ObjectTracker, Track, TrackUpdate
from gateway.vision.unknown import UnknownCrop, UnknownObjects

__all__ = ["FrameAnalyzer", "FrameOutcome", "TrackBox", "TrackReport"]

Mode = Literal["detector", "classifier", "motion"]
_NMS_IOU = 0.5
_BOX_COLOUR = (0, 200, 255)


@dataclass(slots=True, frozen=True)
class TrackBox:
    """One live track's box on one frame."""

    id: int
    box: Box


@dataclass(slots=True, frozen=True)
class TrackReport:
    """A track that started or ended on this frame, with its best pictures as JPEG."""

    track: Track
    snapshot: bytes | None
    """The best frame so far, the box drawn on it."""
    crop: bytes | None
    """The best crop (only when the track ended)."""
    crop_box: Box | None = None
    """Where `crop` was cut from its frame, in source pixels."""
    shot_index: int = -1
    """The frame the crop shows (its index in this analyzer's frames)."""
    shot_box: Box | None = None
    """The track's box the crop was cut around."""
    shot_score: float = 0.0
    """The track's score on that frame."""
    faces: int = 0
    """Faces blurred in the crop (and snapshot)."""
    scene: tuple[TrackBox, ...] | None = None
    """Every live track's box on the frame the crop shows, this one's included (None: not
    known). A verdict may come back long after that frame (a slow link, an outbox
    backlog): who else was in the picture is judged on it, not on where tracks are then."""


@dataclass(slots=True, frozen=True)
class FrameOutcome:
    """What one processed frame gave, handed from the worker thread to the loop."""

    index: int
    received_at: float
    width: int
    height: int
    motion_fraction: float
    has_motion: bool
    detector_calls: int
    inference_ms: float
    detections: int
    started: tuple[TrackReport, ...]
    updated: tuple[Track, ...]
    ended: tuple[TrackReport, ...]
    active: tuple[Track, ...]
    crops: tuple[TrackReport, ...] = ()
    """Crops of live tracks whose box's shape or label changed (`escalation.change_ratio`)."""
    unknown: tuple[UnknownCrop, ...] = ()
    """Unknown objects that qualified on this frame (`objects.unknown`), with their crops."""
    unknown_ended: tuple[Track, ...] = ()
    """Qualified unknown objects that ended on this frame."""


@dataclass(slots=True, frozen=True)
class _CropRef:
    """A track's last crop: its box's shape and label then, and how many were cut."""

    aspect: float
    label: str
    count: int


@dataclass(slots=True)
class _BestShot:
    image: Image
    box: Box
    score: float
    index: int = -1
    scene: tuple[TrackBox, ...] | None = None


class FrameAnalyzer:
    """Motion gating, the model on regions, the tracker, and each track's best shot.

    Takes the camera's config and its model's config as they are (motion, tracker,
    events, score threshold) and the model loaded from the latter (None: motion only).
    """

    def __init__(
        self,
        camera: CameraConfig,
        model: ModelConfig | None = None,
        detector: Detector | None = None,
        *,
        redactor: FaceRedactor | None = None,
        tracker: ObjectTracker | None = None,
    ) -> None:
        self.detector = detector
        self.redactor = redactor
        """Blurs faces on crops and snapshots (None: this camera opted out)."""
        self._escalation = camera.escalation
        self._cropped: dict[int, _CropRef] = {}
        self.camera = camera
        self._events = camera.events
        self._score_threshold = model.score_threshold if model is not None else 0.0
        self.mode: Mode = "motion"
        if detector is not None:
            classifier = isinstance(detector.decoder, ClassifierDecoder)
            self.mode = "classifier" if classifier else "detector"
        self.motion = MotionDetector(camera.motion)
        self.tracker = tracker if tracker is not None else ObjectTracker(camera.tracker)
        """The camera's tracker (`camera.tracker`'s settings unless one is handed in)."""
        self._wanted = frozenset(camera.tracker.labels)
        self._wanted_classes: list[int] = []
        """A classifier's class indices of the tracked labels (found once, not per frame)."""
        if detector is not None and isinstance(detector.decoder, ClassifierDecoder):
            names = detector.decoder.labels
            self._wanted_classes = [i for i, n in enumerate(names) if n in self._wanted]
        self._best: dict[int, _BestShot] = {}
        self._scene: tuple[TrackBox, ...] = ()
        """Every live track's box on the latest frame."""
        self._index = -1
        self._size: tuple[int, int] | None = None
        self._last_full_frame: float | None = None
        self._looked: tuple[Box, ...] | None = None
        """Where the detector ran on this frame (None: the whole frame, or not a detector)."""
        self.full_frame_passes = 0
        unknown = camera.objects.unknown
        self.unknown: UnknownObjects | None = None
        """Motion no detection explains (None: off, or a motion-only camera)."""
        if unknown.enabled and self.mode != "motion":
            self.unknown = UnknownObjects(
                unknown,
                zones=camera.tracker.zones,
                redactor=redactor,
                crop_quality=camera.events.crop_quality,
            )

    def process(self, image: Image, received_at: float) -> FrameOutcome:
        """Run one frame through motion, the model and the tracker."""
        self._index += 1
        height, width = image.shape[:2]
        flushed: TrackUpdate | None = None
        if self._size is not None and self._size != (width, height):
            # A new picture size means a reconfigured camera: old boxes mean nothing now.
            flushed = self.tracker.flush(received_at)
        self._size = (width, height)
        motion = self.motion.detect(image)
        started = time.perf_counter()
        self._looked = None
        detections, calls = self._detect(image, motion, received_at)
        inference_ms = (time.perf_counter() - started) * 1000.0 if calls else 0.0
        update = self.tracker.update(
            detections,
            received_at,
            self._index,
            looked=self._looked,
            frame=Box(0.0, 0.0, float(width), float(height)),
            image=image,
        )
        self._remember(image, update)
        ended = [*(flushed.ended if flushed else []), *update.ended]
        started_reports = tuple(self._report(t, crop=True) for t in update.started)
        changed = self._changed_crops(image, update)
        unknown = None
        if self.unknown is not None:
            objects = [*(d.box for d in detections), *(t.box for t in self.tracker.tracks)]
            unknown = self.unknown.update(image, motion.boxes, objects, received_at, self._index)
        return FrameOutcome(
            index=self._index,
            received_at=received_at,
            width=width,
            height=height,
            motion_fraction=motion.motion_fraction,
            has_motion=motion.has_motion,
            detector_calls=calls,
            inference_ms=inference_ms,
            detections=len(detections),
            started=started_reports,
            updated=tuple(update.updated),
            ended=tuple(self._finish(t) for t in ended),
            active=tuple(update.active),
            crops=changed,
            unknown=() if unknown is None else unknown.qualified,
            unknown_ended=() if unknown is None else unknown.ended,
        )

    def flush(self, ts: float) -> FrameOutcome:
        """End every live track (the camera stops) and return their reports."""
        update = self.tracker.flush(ts)
        ended = tuple(self._finish(t) for t in update.ended)
        self._best.clear()
        self._cropped.clear()
        w, h = self._size if self._size is not None else (0, 0)
        unknown = () if self.unknown is None else self.unknown.flush(ts)
        return FrameOutcome(
            self._index, ts, w, h, 0.0, False, 0, 0.0, 0, (), (), ended, (), unknown_ended=unknown
        )

    # ---- the model -----------------------------------------------------------------

    def _detect(self, image: Image, motion: MotionResult, ts: float) -> tuple[list[Detection], int]:
        if self.mode == "motion" or self.detector is None:
            return [Detection("motion", 1.0, b) for b in motion.boxes], 0
        if self.mode == "classifier":
            return self._classify_blobs(self.detector, image, motion.boxes)
        return self._detect_regions(self.detector, image, motion.regions, ts)

    def _classify_blobs(
        self, detector: Detector, image: Image, blobs: tuple[Box, ...]
    ) -> tuple[list[Detection], int]:
        decoder = detector.decoder
        assert isinstance(decoder, ClassifierDecoder)
        labels = decoder.labels
        wanted = self._wanted_classes
        height, width = image.shape[:2]
        out: list[Detection] = []
        calls = 0
        for blob in blobs:
            crop = _crop(image, blob.expand(self._events.crop_margin).clip(width, height))
            if crop is None:
                continue
            calls += 1
            probs = decoder.probabilities(detector.infer(crop).outputs)
            # The best *wanted* class (person), not the top-1 (which may be "non_person").
            best = max(wanted, key=lambda i: probs[i]) if wanted else int(np.argmax(probs))
            score = float(probs[best])
            name = labels[best] if best < len(labels) else str(best)
            found = Detection(name, score, blob)
            if score >= self._score_threshold and self._keeps(found):
                out.append(found)
        return out, calls

    def _detect_regions(
        self, detector: Detector, image: Image, regions: tuple[Box, ...], ts: float
    ) -> tuple[list[Detection], int]:
        height, width = image.shape[:2]
        cfg = self.camera.motion
        full = self._full_frame_due(ts, width, height)
        if full is not None:
            # Still objects make no motion: a periodic whole-frame look keeps them tracked.
            regions = (*regions, full)
        elif cfg.enabled and regions:
            # Also look where live tracks are expected now, so a slow object is not lost
            # between blobs and an unseen one is looked for where it should reappear.
            around = [
                square_region(box.expand(cfg.region_margin), cfg.region_min_size, width, height)
                for box in self.tracker.expected_boxes(ts)
            ]
            regions = tuple(
                merge_overlapping(
                    [*regions, *around],
                    cfg.region_merge_overlap,
                    cfg.region_min_size,
                    width,
                    height,
                )
            )
        if cfg.enabled:
            self._looked = regions
        found: list[Detection] = []
        calls = 0
        for region in regions:
            crop = _crop(image, region)
            if crop is None:
                continue
            calls += 1
            for det in detector.detect(crop):
                if det.score >= self._score_threshold and self._keeps(det):
                    b = det.box
                    box = Box(
                        b.x1 + region.x1, b.y1 + region.y1, b.x2 + region.x1, b.y2 + region.y1
                    )
                    found.append(Detection(det.label, det.score, box))
        if len(regions) > 1 and len(found) > 1:
            found = _dedupe(found)
        return found, calls

    def _full_frame_due(self, ts: float, width: int, height: int) -> Box | None:
        interval = self.camera.objects.full_frame_interval_s
        if not self.camera.motion.enabled or interval <= 0:
            return None
        last = self._last_full_frame
        if last is not None and 0 <= ts - last < interval - 1e-6:  # float jitter of frame clocks
            return None
        self._last_full_frame = ts
        self.full_frame_passes += 1
        return Box(0.0, 0.0, float(width), float(height))

    def _keeps(self, det: Detection) -> bool:
        rule = self.camera.objects.filters.get(det.label)
        return rule is None or rule.keeps(det.score, det.box.width, det.box.height)

    # ---- best shots ----------------------------------------------------------------

    def _remember(self, image: Image, update: TrackUpdate) -> None:
        live = {t.id: t for t in self.tracker.tracks}
        self._scene = tuple(TrackBox(t.id, t.box) for t in live.values())
        for track in live.values():
            if track.best_frame_index == self._index:
                shot = _BestShot(image, track.best_box, track.best_score, self._index, self._scene)
                self._best[track.id] = shot
        for gone in set(self._best) - set(live) - {t.id for t in update.ended}:
            del self._best[gone]  # tentative tracks that vanished
        for gone in set(self._cropped) - set(live) - {t.id for t in update.ended}:
            del self._cropped[gone]

    def _changed_crops(self, image: Image, update: TrackUpdate) -> tuple[TrackReport, ...]:
        """Crop the live tracks whose box's shape or label changed since their last crop."""
        out: list[TrackReport] = []
        ratio = self._escalation.change_ratio
        for track in update.updated:
            ref = self._cropped.get(track.id)
            if ref is None or ref.count >= self._escalation.max_crops:
                continue
            box = track.box
            aspect = box.width / max(box.height, 1e-6)
            change = max(aspect / max(ref.aspect, 1e-6), ref.aspect / max(aspect, 1e-6))
            if change < ratio and track.label == ref.label:
                continue
            shot = _BestShot(image, box, track.score, self._index, self._scene)
            out.append(self._cut(track, shot, snapshot=None))
        return tuple(out)

    def _report(self, track: Track, *, crop: bool) -> TrackReport:
        shot = self._best.get(track.id)
        if shot is None:
            return TrackReport(track, None, None)
        snapshot = None
        if self._events.snapshot:
            canvas = shot.image.copy()
            if self.redactor is not None:
                h, w = canvas.shape[:2]
                region = crop_box(shot.box, self._events.crop_margin, w, h)
                canvas = self.redactor.redact(canvas, region).image
            x1, y1, x2, y2 = shot.box.to_int()
            cv2.rectangle(canvas, (x1, y1), (x2, y2), _BOX_COLOUR, 2)
            text = f"{track.label} {shot.score:.2f}"
            cv2.putText(
                canvas, text, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _BOX_COLOUR, 1
            )
            snapshot = encode_jpeg(canvas, self._events.snapshot_quality)
        if not crop:
            return TrackReport(track, snapshot, None)
        return self._cut(track, shot, snapshot=snapshot)

    def _cut(self, track: Track, shot: _BestShot, *, snapshot: bytes | None) -> TrackReport:
        """Return the report of `track` with its crop of `shot`, faces blurred."""
        h, w = shot.image.shape[:2]
        region = crop_box(shot.box, self._events.crop_margin, w, h)
        piece = _crop(shot.image, region)
        if piece is None:
            return TrackReport(track, snapshot, None)
        faces = 0
        if self.redactor is not None:
            redacted = self.redactor.redact(piece)
            piece, faces = redacted.image, redacted.faces
        ref = self._cropped.get(track.id)
        count = 1 if ref is None else ref.count + 1
        aspect = shot.box.width / max(shot.box.height, 1e-6)
        self._cropped[track.id] = _CropRef(aspect, track.label, count)
        return TrackReport(
            track,
            snapshot,
            encode_jpeg(piece, self._events.crop_quality),
            region,
            shot_index=shot.index,
            shot_box=shot.box,
            shot_score=shot.score,
            faces=faces,
            scene=shot.scene,
        )

    def _finish(self, track: Track) -> TrackReport:
        report = self._report(track, crop=True)
        self._best.pop(track.id, None)
        self._cropped.pop(track.id, None)
        return report


def _crop(image: Image, box: Box) -> Image | None:
    x1, y1, x2, y2 = box.to_int()
    if x2 - x1 < 2 or y2 - y1 < 2:
        return None
    return image[y1:y2, x1:x2]


def _dedupe(found: list[Detection]) -> list[Detection]:
    """Drop the copies of one object found in two overlapping regions."""
    boxes = np.array([[d.box.x1, d.box.y1, d.box.x2, d.box.y2] for d in found], np.float32)
    scores = np.array([d.score for d in found], np.float32)
    labels = sorted({d.label for d in found})
    classes = np.array([labels.index(d.label) for d in found], np.int32)
    keep = nms(boxes, scores, _NMS_IOU, classes=classes, max_detections=len(found))
    return [found[int(i)] for i in keep]
