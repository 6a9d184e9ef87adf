"""The oracle: the strongest whole-frame person finder available here, run on every frame.

Two models, each run on overlapping tiles so that small, far people are found:

- DeepLabv3 (21 VOC classes) gives a person probability per pixel; tiles are pasted into
  one frame-sized map (the max where they overlap), thresholded, and each connected
  component becomes a person box. A blob wider than a person is split at the valleys of
  its column profile (two people side by side); people one behind the other stay joined.
- The BlazePose detector gives a square around each body it is sure of. A square that
  no mask box explains is added as a person-shaped box (pose-only finds: people whose
  mask was too thin, or cut by the lamp post and sign).

The same models judge one crop (`judge_crop`); `refcloud.oracle_judge` serves that
to the cloud server. Not thread-safe: one `PersonOracle` per thread.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gateway.inference import archive
from gateway.inference.catalog import resolve
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.inference.interpreter import TFLiteModel
from gateway.inference.outputs import Detection
from gateway.vision.blobsplit import split_columns

__all__ = [
    "CropVerdict",
    "OracleConfig",
    "PersonOracle",
    "model_digest",
    "tile_origins",
]

PERSON = "person"
SEGMENTATION_MODEL = "deeplabv3"
POSE_MODEL = "pose_detection"
_VOC_PERSON = 15  # index of "person" in DeepLabv3's 21 VOC classes
_PERSON_ASPECT = 0.45  # width / height of a standing person's box
_JUDGE_MIN_HEIGHT = 0.4  # a person `judge_crop` reports is this tall a part of the crop

Image = npt.NDArray[np.uint8]
FloatMap = npt.NDArray[np.float32]


@dataclass(slots=True, frozen=True)
class OracleConfig:
    """How the oracle tiles the frame and turns model outputs into person boxes."""

    segmentation: bool = True
    pose: bool = True
    seg_tile: int = 192
    """Side of a segmentation tile in source pixels (upscaled to the 257 px input)."""
    seg_stride: int = 144
    seg_threshold: float = 0.5
    """Person probability above which a pixel belongs to a person."""
    seg_min_score: float = 0.55
    """Mean person probability a component needs (below it: cones, bollards and shadows)."""
    min_area: float = 40.0
    """Smallest mask component (square source pixels) that counts as a person."""
    split_aspect: float = 0.6
    """A component wider than this times its height is checked for several people."""
    split_valley: float = 0.8
    """A column whose mask height is below this fraction of the peaks on both sides splits."""
    pose_tile: int = 256
    pose_stride: int = 192
    pose_threshold: float = 0.9
    """BlazePose score a pose-only find needs (it fires on tripods and cloth below this)."""
    judge_threshold: float = 0.5
    """Score at which `judge_crop` calls a crop a person."""

    def digest(self) -> str:
        """Return a short hash of every parameter: part of the cache key."""
        text = json.dumps(asdict(self), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]


@dataclass(slots=True, frozen=True)
class CropVerdict:
    """The oracle's judgement of one crop."""

    is_person: bool
    score: float
    """Best person score found in the crop (0 when nothing was found)."""
    people: int
    """Person boxes found in the crop."""
    boxes: tuple[Box, ...] = ()
    """The people found, in the crop's pixels (mask boxes plus sure poses they miss)."""


@dataclass(slots=True, frozen=True)
class TileOrigin:
    """Top-left corner of one square tile, in source pixels."""

    x: int
    y: int


def tile_origins(width: int, height: int, tile: int, stride: int) -> list[TileOrigin]:
    """Return the corners of square tiles that cover a frame, the last ones flush with it."""

    def starts(size: int) -> list[int]:
        if size <= tile:
            return [0]
        out = list(range(0, size - tile + 1, stride))
        if out[-1] + tile < size:
            out.append(size - tile)
        return out

    return [TileOrigin(x, y) for y in starts(height) for x in starts(width)]


@dataclass(slots=True)
class _Models:
    seg: TFLiteModel | None = None
    pose: Detector | None = None
    paths: list[Path] = field(default_factory=list)


class PersonOracle:
    """Find every person in a frame (slow: ~1 s per 768x576 frame on one core)."""

    def __init__(
        self, config: OracleConfig | None = None, *, data_dir: Path | None = None, threads: int = 1
    ) -> None:
        self.config = config if config is not None else OracleConfig()
        self._m = _Models()
        if self.config.segmentation:
            path = resolve(SEGMENTATION_MODEL, data_dir)
            self._m.seg = TFLiteModel(path, num_threads=threads)
            self._m.paths.append(path)
        if self.config.pose:
            self._m.pose = Detector.from_catalogue(
                POSE_MODEL, data_dir, num_threads=threads, score_threshold=0.5
            )
            self._m.paths.append(self._m.pose.model.path)
        self._model_digest = _digest_files(self._m.paths)

    @property
    def model_digest(self) -> str:
        """Return the sha256 of the model files used (hex): part of the cache key."""
        return self._model_digest

    def detect(self, frame: Image) -> list[Detection]:
        """Return one `person` detection per person found in a BGR frame."""
        masks = self.segment(frame) if self._m.seg is not None else []
        poses = self.pose(frame) if self._m.pose is not None else []
        return combine(masks, poses, self.config.pose_threshold)

    def segment(self, frame: Image) -> list[Detection]:
        """Return person boxes from DeepLabv3 masks on tiles."""
        cfg = self.config
        return mask_boxes(self.person_map(frame), cfg.seg_threshold, cfg.min_area, cfg)

    def person_map(self, frame: Image) -> FloatMap:
        """Return the person probability of every pixel (max over overlapping tiles)."""
        height, width = frame.shape[:2]
        tile = min(self.config.seg_tile, width, height)
        prob = np.zeros((height, width), np.float32)
        for o in tile_origins(width, height, tile, self.config.seg_stride):
            p = self._tile_prob(frame[o.y : o.y + tile, o.x : o.x + tile])
            view = prob[o.y : o.y + tile, o.x : o.x + tile]
            np.maximum(view, p, out=view)
        return prob

    def _tile_prob(self, crop: Image) -> FloatMap:
        model = self._m.seg
        assert model is not None  # only called with segmentation on
        side = model.input.shape[1]
        rgb = cv2.cvtColor(cv2.resize(crop, (side, side)), cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) / np.float32(127.5) - np.float32(1.0))[np.newaxis]
        logits = model.invoke(tensor)[0][0].astype(np.float32)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        person = exp[..., _VOC_PERSON] / exp.sum(axis=-1)
        h, w = crop.shape[:2]
        return np.asarray(cv2.resize(person, (w, h)), dtype=np.float32)

    def pose(self, frame: Image) -> list[Detection]:
        """Return person-shaped boxes from the BlazePose detector on tiles (NMS-merged)."""
        detector = self._m.pose
        assert detector is not None  # only called with pose on
        height, width = frame.shape[:2]
        tile = min(self.config.pose_tile, width, height)
        found: list[Detection] = []
        for o in tile_origins(width, height, tile, self.config.pose_stride):
            for det in detector.detect(frame[o.y : o.y + tile, o.x : o.x + tile]):
                b = det.box
                square = Box(b.x1 + o.x, b.y1 + o.y, b.x2 + o.x, b.y2 + o.y)
                found.append(Detection(PERSON, det.score, _person_shape(square)))
        return _nms(found, 0.3)

    def judge_crop(self, crop: Image) -> CropVerdict:
        """Judge whether a crop (a hard case: one object and a margin) shows a person."""
        h, w = crop.shape[:2]
        side = max(h, w, 8)
        canvas = np.zeros((side, side, 3), np.uint8)  # square, so the models see no stretch
        y0, x0 = (side - h) // 2, (side - w) // 2
        canvas[y0 : y0 + h, x0 : x0 + w] = crop
        cfg = self.config
        masks: list[Detection] = []
        poses: list[Detection] = []
        if self._m.seg is not None:
            prob = self._tile_prob(canvas)
            min_area = cfg.min_area * (side / cfg.seg_tile) ** 2 / 4
            masks = mask_boxes(prob, cfg.seg_threshold, min_area, cfg)
        if self._m.pose is not None:
            poses = [d for d in self._m.pose.detect(canvas) if d.score >= cfg.pose_threshold]
        found = [*masks, *poses]
        score = max((d.score for d in found), default=0.0)
        placed = [
            b
            for d in combine(masks, poses, cfg.pose_threshold)
            if (b := to_crop(d.box, x0=x0, y0=y0, width=w, height=h)) is not None
        ]
        tall = [Detection(PERSON, 1.0, b) for b in placed if b.height >= _JUDGE_MIN_HEIGHT * h]
        people = tuple(d.box for d in _drop_inner(tall, 0.5))
        return CropVerdict(score >= cfg.judge_threshold, score, len(found), people)


def to_crop(box: Box, *, x0: float, y0: float, width: float, height: float) -> Box | None:
    """Map a box on the padded square back to the crop; None if it lies in the padding."""
    x1, y1 = max(0.0, box.x1 - x0), max(0.0, box.y1 - y0)
    x2, y2 = min(float(width), box.x2 - x0), min(float(height), box.y2 - y0)
    return Box(x1, y1, x2, y2) if x2 > x1 and y2 > y1 else None


def mask_boxes(
    prob: FloatMap, threshold: float, min_area: float, cfg: OracleConfig
) -> list[Detection]:
    """Return one detection per person-sized component of `prob > threshold`.

    The score is the mean probability over the component's pixels.
    """
    mask = (prob > threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    out: list[Detection] = []
    for i in range(1, count):
        if stats[i, cv2.CC_STAT_AREA] < min_area:
            continue
        x, y = int(stats[i, cv2.CC_STAT_LEFT]), int(stats[i, cv2.CC_STAT_TOP])
        w, h = int(stats[i, cv2.CC_STAT_WIDTH]), int(stats[i, cv2.CC_STAT_HEIGHT])
        own = labels[y : y + h, x : x + w] == i
        for span in split_columns(own, cfg.split_aspect, cfg.split_valley):
            x1, x2 = span.x1, span.x2
            part = own[:, x1:x2]
            rows = np.flatnonzero(part.any(axis=1))
            if part.sum() < min_area / 2 or rows.size == 0:
                continue
            score = float(prob[y : y + h, x + x1 : x + x2][part].mean())
            if score < cfg.seg_min_score:
                continue
            box = Box(float(x + x1), float(y + rows[0]), float(x + x2), float(y + rows[-1] + 1))
            out.append(Detection(PERSON, score, box))
    return _drop_inner(out)


def _drop_inner(dets: list[Detection], overlap: float = 0.6) -> list[Detection]:
    """Drop a box mostly inside a bigger one (a hand or bag split off its person)."""
    ordered = sorted(dets, key=lambda d: -d.box.area)
    kept: list[Detection] = []
    for det in ordered:
        if all(det.box.overlap_of_smaller(k.box) < overlap for k in kept):
            kept.append(det)
    return kept


def combine(
    masks: list[Detection], poses: list[Detection], pose_threshold: float
) -> list[Detection]:
    """Return the mask boxes plus the sure pose boxes that no mask box explains."""
    out = list(masks)
    for pose in poses:
        if pose.score < pose_threshold:
            continue
        c = pose.box.center
        explained = any(
            m.box.iou(pose.box) >= 0.2
            or (m.box.x1 <= c.x <= m.box.x2 and m.box.y1 <= c.y <= m.box.y2)
            for m in out
        )
        if not explained:
            out.append(pose)
    return out


def _person_shape(square: Box) -> Box:
    """Return a standing person's box inside BlazePose's square body box."""
    c = square.center
    half = square.height * _PERSON_ASPECT / 2
    return Box(c.x - half, square.y1, c.x + half, square.y2)


def _nms(dets: list[Detection], iou: float) -> list[Detection]:
    kept: list[Detection] = []
    for det in sorted(dets, key=lambda d: -d.score):
        if all(det.box.iou(k.box) < iou for k in kept):
            kept.append(det)
    return kept


def model_digest(config: OracleConfig, data_dir: Path | None = None) -> str:
    """Return the sha256 (hex) of the model files `config` uses, without loading them."""
    names = [SEGMENTATION_MODEL] * config.segmentation + [POSE_MODEL] * config.pose
    return _digest_files([resolve(n, data_dir) for n in names])


def _digest_files(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in paths:
        h.update(archive.sha256_file(path).encode())
    return h.hexdigest()
