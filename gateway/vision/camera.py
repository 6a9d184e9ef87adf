"""The per-camera worker thread: only the newest frame waits; decode and analyze off-loop.

Producers (the MQTT handler on the loop, or an OpenCV capture thread) call `submit`. A
frame that is still waiting when a newer one arrives is dropped and counted as
`frames_skipped`, so a slow model never grows memory. The worker processes at most
`detect_fps` frames per second; each `FrameOutcome` goes to `deliver` (in the gateway,
`loop.call_soon_threadsafe` to the publisher). A bad payload is counted and logged
(rate-limited) and the camera goes on; an unexpected error stops the worker and is
handed to `on_failure`, so the supervisor restarts the camera.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import cv2
import numpy as np

from devices.cameras import EncodedFrame, Frame, FrameIssue, FrameProblem, Image, decode_frame
from devices.cameras.guard import ImageIssue, ImageLimits
from gateway.errors import ModelError
from gateway.logs import RateLimitedLog
from gateway.vision.analyzer import FrameAnalyzer, FrameOutcome
from gateway.vision.camera_stats import CameraStats

__all__ = ["CameraWorker"]

log = logging.getLogger(__name__)


class CameraWorker:
    """Decode, motion and inference for one camera on a thread of its own."""

    def __init__(
        self,
        *,
        camera_id: str,
        analyzer: FrameAnalyzer,
        stats: CameraStats,
        deliver: Callable[[FrameOutcome], None],
        on_failure: Callable[[BaseException], None] | None = None,
        min_interval_s: float = 0.0,
        resize_width: int | None = None,
        rate_limited: RateLimitedLog | None = None,
        limits: ImageLimits | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.analyzer = analyzer
        self.stats = stats
        self._deliver = deliver
        self._on_failure = on_failure
        self._min_interval_s = min_interval_s
        self._resize_width = resize_width
        self._rl = rate_limited or RateLimitedLog(log)
        self._limits = limits or ImageLimits()
        self._cond = threading.Condition()
        self._pending: EncodedFrame | Frame | None = None
        self._stopping = False
        self._next_at = 0.0  # monotonic time before which the next frame waits
        self._thread = threading.Thread(target=self._run, name=f"camera:{camera_id}", daemon=True)

    def start(self) -> None:
        """Start the worker thread."""
        self._thread.start()

    def submit(self, item: EncodedFrame | Frame) -> None:
        """Offer a frame (from any thread); a frame still waiting is dropped and counted."""
        self.stats.frame_arrived(item.received_at)
        with self._cond:
            if self._pending is not None:
                self.stats.frames_skipped.inc()
            self._pending = item
            self._cond.notify()

    def stop(self, timeout_s: float = 10.0) -> FrameOutcome | None:
        """Stop the thread, then end every live track; return their outcome (blocking)."""
        with self._cond:
            self._stopping = True
            self._cond.notify()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
        if self._thread.is_alive():  # pragma: no cover - a model stuck in invoke
            log.warning("camera %s: worker did not stop within %.0fs", self.camera_id, timeout_s)
            return None
        return self.analyzer.flush(time.monotonic())

    def _take(self) -> EncodedFrame | Frame | None:
        """Wait for a frame that may be processed now; None when stopping."""
        with self._cond:
            while not self._stopping:
                if self._pending is not None:
                    wait = self._next_at - time.monotonic()
                    if wait <= 0:
                        item, self._pending = self._pending, None
                        return item
                    self._cond.wait(wait)  # honour detect_fps; newer frames replace it
                else:
                    self._cond.wait()
            return None

    def _run(self) -> None:
        try:
            while (item := self._take()) is not None:
                self._next_at = time.monotonic() + self._min_interval_s
                self._process(item)
        except Exception as exc:
            log.exception("camera %s: worker failed", self.camera_id)
            if self._on_failure is not None:
                self._on_failure(exc)

    def _process(self, item: EncodedFrame | Frame) -> None:
        if isinstance(item, EncodedFrame):
            decoded = decode_frame(item, self._limits)
            if isinstance(decoded, FrameIssue):
                self._bad_frame(decoded)
                return
            item = decoded
        image = self._resize(item.image)
        try:
            outcome = self.analyzer.process(image, item.received_at)
        except (cv2.error, ValueError, ModelError) as exc:
            # One frame the model or OpenCV could not take; the next one may be fine.
            self.stats.error("frame")
            self._rl.warning(
                f"frame:{self.camera_id}",
                "camera %s: frame %dx%d not processed: %s",
                self.camera_id,
                image.shape[1],
                image.shape[0],
                exc,
            )
            return
        self.stats.processed(
            motion=outcome.has_motion,
            inference_ms=outcome.inference_ms,
            calls=outcome.detector_calls,
        )
        self._deliver(outcome)

    def reject(self, issue: ImageIssue) -> None:
        """Count and log a frame refused before it reached the worker (from any thread)."""
        self._bad_frame(FrameIssue(FrameProblem(issue.problem.value), issue.detail, issue.size))

    def _bad_frame(self, issue: FrameIssue) -> None:
        self.stats.corrupt(issue.problem.value)
        self._rl.warning(
            f"corrupt:{self.camera_id}:{issue.problem.value}",
            "camera %s: dropped a %d-byte frame (%s: %s)",
            self.camera_id,
            issue.size,
            issue.problem.value,
            issue.detail,
        )

    def _resize(self, image: Image) -> Image:
        width = self._resize_width
        if width is None or image.shape[1] <= width:
            return image
        height = max(1, round(image.shape[0] * width / image.shape[1]))
        small = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
        return np.asarray(small, dtype=np.uint8)
