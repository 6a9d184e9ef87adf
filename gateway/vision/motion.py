"""Motion gating: find the regions of a frame worth running a detector on.

Following Frigate's idea, the frame is shrunk to a small grey image and compared with a
background model; changed pixels (outside masks) are cleaned, grouped into blobs, blobs
split by a pole are rejoined vertically, wide blobs (people side by side) are cut at the
valleys of their column profile (`split_wide`), and each blob becomes a square region in source
pixels, sized for a model input. A still scene costs a resize, a blur and one compare.

With MOG2 (~1.2 ms a frame here, ~25x the rest of a still frame) a frame whose pixels
all stayed within `_STILL_DELTA` grey levels of the last frame MOG2 saw, when that one
had no foreground, is reported still without running MOG2 (which needs a change of 4
sigma, at least 8 levels, to call a pixel foreground). What MOG2 would have learned from
those frames is not lost: before it next runs, it learns the last still frame once at
the rate the skipped frames would have added up to (`1 - prod(1 - rate_i)`, exact for
the means; MOG2's own rate schedule `1 / min(2 n, history)` is passed explicitly so
skipping does not slow it down), and at least every `_STILL_RELEARN` frames.
A sudden change of most of the picture (lights, auto-exposure) is not motion: the model
is reset to the new picture and the frame reports none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np
import numpy.typing as npt

from gateway.config.motion import MotionConfig
from gateway.inference.geometry import (
    Box,
    Polygon,
    merge_overlapping,
    merge_vertical,
    square_region,
)
from gateway.vision.blobsplit import split_mask_box

if TYPE_CHECKING:
    from cv2.typing import MatLike

__all__ = ["MotionConfig", "MotionDetector", "MotionResult", "MotionStats"]

log = logging.getLogger(__name__)

_BLUR_KSIZE = 5  # a 5x5 Gaussian takes sensor noise (sigma ~3) below the threshold
_KERNEL = np.ones((3, 3), np.uint8)  # open then dilate: drop specks, join nearby parts
_DILATE_ITERATIONS = 2
_MOG2_SHADOW = 127  # MOG2 paints shadows this grey, foreground 255
_STILL_DELTA = 4  # grey levels (after the blur); sensor noise of sigma 3 moves pixels <= 3
_STILL_RELEARN = 100  # MOG2 catches up on still frames at least this often


@dataclass(slots=True, frozen=True)
class MotionResult:
    """What motion gating found in one frame; boxes are in source pixels."""

    regions: tuple[Box, ...]
    """Square regions to run a detector on."""
    boxes: tuple[Box, ...]
    """Tight motion blobs (after the vertical merge) behind the regions."""
    motion_fraction: float
    """Fraction of the unmasked picture that changed."""
    recalibrated: bool
    """True when a global change reset the background on this frame."""

    @property
    def has_motion(self) -> bool:
        """Return True when at least one region was found."""
        return bool(self.regions)


@dataclass(slots=True)
class MotionStats:
    """Counters of one detector, for the stats topic."""

    frames: int = 0
    frames_with_motion: int = 0
    recalibrations: int = 0
    resets: int = 0
    still_frames: int = 0
    """Frames reported still by the frame-difference check, without running MOG2."""


@dataclass(slots=True)
class _State:
    """Background model for one frame size; rebuilt when the size changes."""

    source_size: tuple[int, int]  # (width, height) of source frames
    small_size: tuple[int, int]  # (width, height) of the grey frames
    keep: MatLike | None  # 255 where motion counts, 0 under masks; None without masks
    keep_pixels: int
    background: npt.NDArray[np.float32] | None = None
    mog2: cv2.BackgroundSubtractorMOG2 | None = None
    frames_since_reset: int = 0
    learned: MatLike | None = None  # the last grey frame MOG2 saw, when it found nothing
    still_frames: int = 0  # frames since then reported still without MOG2
    still_grey: MatLike | None = None  # the last of them
    still_keep: float = 1.0  # prod(1 - rate) over them: what MOG2 has yet to learn


class MotionDetector:
    """Stateful motion gate for one camera; feed it every frame in order (one thread)."""

    def __init__(self, config: MotionConfig | None = None) -> None:
        self.config = config if config is not None else MotionConfig()
        self.stats = MotionStats()
        self._masks = [Polygon.from_pairs(m) for m in self.config.masks]
        self._state: _State | None = None

    def reset(self) -> None:
        """Forget the background; the next frame starts a new model."""
        self._state = None

    def detect(self, frame: MatLike) -> MotionResult:
        """Update the background with `frame` (BGR or grey) and return its motion regions."""
        self.stats.frames += 1
        height, width = frame.shape[:2]
        if not self.config.enabled:
            whole = Box(0.0, 0.0, float(width), float(height))
            return MotionResult((whole,), (whole,), 1.0, recalibrated=False)
        state = self._state
        if state is None or state.source_size != (width, height):
            if state is not None:
                log.info("frame size changed to %dx%d; motion model reset", width, height)
                self.stats.resets += 1
            state = self._state = self._new_state(width, height)
        grey = self._prepare(frame, state)
        if state.frames_since_reset == 0:
            self._restart_background(state, grey)
            return MotionResult((), (), 0.0, recalibrated=False)
        if self._still(state, grey):
            state.frames_since_reset += 1
            return MotionResult((), (), 0.0, recalibrated=False)
        changed = self._changed(state, grey)
        state.frames_since_reset += 1
        if state.keep is not None:
            changed = cv2.bitwise_and(changed, state.keep)
        changed_pixels = int(cv2.countNonZero(changed))
        if state.mog2 is not None:
            state.learned = grey if changed_pixels == 0 else None
            state.still_frames = 0
        fraction = changed_pixels / state.keep_pixels if state.keep_pixels else 0.0
        if fraction > self.config.global_change_fraction:
            self.stats.recalibrations += 1
            log.debug("%.0f%% of the picture changed: recalibrating", fraction * 100)
            self._restart_background(state, grey)
            return MotionResult((), (), fraction, recalibrated=True)
        if changed_pixels == 0 or state.frames_since_reset <= self.config.warmup_frames:
            return MotionResult((), (), fraction, recalibrated=False)
        boxes = self._blobs(changed, state)
        regions = self._regions(boxes, width, height)
        if regions:
            self.stats.frames_with_motion += 1
        return MotionResult(tuple(regions), tuple(boxes), fraction, recalibrated=False)

    def _new_state(self, width: int, height: int) -> _State:
        small_h = min(self.config.frame_height, height)
        small_w = max(1, round(width * small_h / height))
        keep: MatLike | None = None
        keep_pixels = small_w * small_h
        if self._masks:
            keep = np.full((small_h, small_w), 255, np.uint8)
            sx, sy = small_w / width, small_h / height
            for poly in self._masks:
                pts = np.array([[p.x * sx, p.y * sy] for p in poly.points], np.float32)
                cv2.fillPoly(keep, [np.round(pts).astype(np.int32)], 0)
            keep_pixels = int(cv2.countNonZero(keep))
        return _State((width, height), (small_w, small_h), keep, keep_pixels)

    def _prepare(self, frame: MatLike, state: _State) -> MatLike:
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        if (grey.shape[1], grey.shape[0]) != state.small_size:
            grey = cv2.resize(grey, state.small_size, interpolation=cv2.INTER_AREA)
        return cv2.GaussianBlur(grey, (_BLUR_KSIZE, _BLUR_KSIZE), 0)

    def _still(self, state: _State, grey: MatLike) -> bool:
        """Return True when MOG2 can be skipped: nothing moved since its last empty frame."""
        learned = state.learned
        if learned is None or state.still_frames + 1 >= _STILL_RELEARN:
            return False
        if float(cv2.minMaxLoc(cv2.absdiff(grey, learned))[1]) > _STILL_DELTA:
            return False
        state.still_frames += 1
        state.still_grey = grey
        state.still_keep *= 1.0 - self._mog2_rate(state)
        self.stats.still_frames += 1
        return True

    @staticmethod
    def _mog2_rate(state: _State) -> float:
        """MOG2's own learning rate for the next frame: 1 / min(2 n, history)."""
        assert state.mog2 is not None
        return 1.0 / min(2 * (state.frames_since_reset + 1), state.mog2.getHistory())

    def _restart_background(self, state: _State, grey: MatLike) -> None:
        state.frames_since_reset = 1
        state.learned = state.still_grey = None
        state.still_frames, state.still_keep = 0, 1.0
        if self.config.method == "average":
            state.background = grey.astype(np.float32)
        else:
            state.mog2 = cv2.createBackgroundSubtractorMOG2(
                varThreshold=self.config.mog2_var_threshold, detectShadows=True
            )
            state.mog2.apply(grey, learningRate=1.0)

    def _changed(self, state: _State, grey: MatLike) -> MatLike:
        """Return a 0/255 image of pixels that differ from the background, and learn."""
        if state.mog2 is not None:
            if state.still_grey is not None:  # learn the frames reported still, at once
                state.mog2.apply(state.still_grey, learningRate=1.0 - state.still_keep)
                state.still_grey, state.still_keep = None, 1.0
            fg = state.mog2.apply(grey, learningRate=self._mog2_rate(state))
            # A shadow is not an object: keep only full foreground, drop MOG2's shadow grey.
            _, fg = cv2.threshold(fg, _MOG2_SHADOW, 255, cv2.THRESH_BINARY)
            return fg
        background = state.background
        assert background is not None  # set by _restart_background
        diff = cv2.absdiff(grey, cv2.convertScaleAbs(background))
        cv2.accumulateWeighted(grey, background, self.config.alpha)
        _, changed = cv2.threshold(diff, self.config.threshold, 255, cv2.THRESH_BINARY)
        return changed

    def _blobs(self, changed: MatLike, state: _State) -> list[Box]:
        """Clean the change image, group it into blobs and return them in source pixels."""
        cleaned = cv2.morphologyEx(changed, cv2.MORPH_OPEN, _KERNEL)
        cleaned = cv2.dilate(cleaned, _KERNEL, iterations=_DILATE_ITERATIONS)
        count, _, stats, _ = cv2.connectedComponentsWithStats(cleaned, connectivity=8)
        sx = state.source_size[0] / state.small_size[0]
        sy = state.source_size[1] / state.small_size[1]
        min_area_small = self.config.min_area / (sx * sy)
        boxes = [
            Box.from_xywh(
                float(stats[i, cv2.CC_STAT_LEFT]),
                float(stats[i, cv2.CC_STAT_TOP]),
                float(stats[i, cv2.CC_STAT_WIDTH]),
                float(stats[i, cv2.CC_STAT_HEIGHT]),
            ).scale(sx, sy)
            for i in range(1, count)  # label 0 is the background
            if stats[i, cv2.CC_STAT_AREA] >= min_area_small
        ]
        merged = merge_vertical(boxes, self.config.merge_distance)
        if not self.config.split_wide:
            return merged
        return self._split(merged, np.asarray(changed) > 0, sx, sy)

    def _split(
        self, boxes: list[Box], mask: npt.NDArray[np.bool_], sx: float, sy: float
    ) -> list[Box]:
        """Cut wide blobs (side-by-side people) at the valleys of the change mask's columns."""
        cfg = self.config
        out: list[Box] = []
        for box in boxes:
            x1, y1 = int(box.x1 / sx), int(box.y1 / sy)
            x2, y2 = max(int(box.x2 / sx), x1 + 1), max(int(box.y2 / sy), y1 + 1)
            part = mask[y1:y2, x1:x2]
            if part.size == 0 or part.shape[1] <= cfg.split_aspect * part.shape[0]:
                out.append(box)
                continue
            out += [
                Box((x1 + p.x1) * sx, (y1 + p.y1) * sy, (x1 + p.x2) * sx, (y1 + p.y2) * sy)
                for p in split_mask_box(part, cfg.split_aspect, cfg.split_valley)
            ]
        return out

    def _regions(self, boxes: list[Box], width: int, height: int) -> list[Box]:
        cfg = self.config
        squares = [
            square_region(b.expand(cfg.region_margin), cfg.region_min_size, width, height)
            for b in boxes
        ]
        return merge_overlapping(
            squares, cfg.region_merge_overlap, cfg.region_min_size, width, height
        )
