"""The per-camera worker thread: only the newest frame waits; decode and analyze off-loop.

Producers (the MQTT handler on the loop, or an OpenCV capture thread) call `submit`. A
frame that is still waiting when a newer one arrives is dropped and counted as
`frames_skipped`, so a slow model never grows memory. The worker processes at most
`detect_fps` frames per second; each `FrameOutcome` goes to `deliver` (in the gateway,
`loop.call_soon_threadsafe` to the publisher). A bad payload is counted and logged
(rate-limited) and the camera goes on; an unexpected error stops the worker and is
handed to `on_failure`, so the supervisor restarts the camera.

Two controls reach the thread between frames: `set_detect(False)` ends every live track
(their `end` events go out) and stops analysing frames (they are still decoded, for
snapshots) until `set_detect(True)`; `request_snapshot()` draws the live tracks on the
latest frame and hands back the JPEG, without waiting for a new frame.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

import cv2
import numpy as np

from devices.cameras import (
    EncodedFrame,
    Frame,
    FrameIssue,
    FrameProblem,
    Image,
    decode_frame,
    encode_jpeg,
)
from devices.cameras.guard import ImageIssue, ImageLimits
from gateway.errors import CommandError, ModelError
from gateway.logs import RateLimitedLog
from gateway.vision.analyzer import FrameAnalyzer, FrameOutcome
from gateway.vision.camera_stats import CameraStats
from gateway.vision.tracker import Track

__all__ = ["CameraWorker", "Snapshot"]

log = logging.getLogger(__name__)

_BOX_COLOUR = (0, 200, 255)
_TEXT_COLOUR = (255, 255, 255)


@dataclass(slots=True, frozen=True)
class Snapshot:
    """A picture taken on request: the JPEG, the frame's time and the tracks drawn on it."""

    jpeg: bytes
    frame_age_s: float
    tracks: int
    width: int
    height: int


_OPENCV_THREADS = 1
"""OpenCV's pool for one call (process-wide). Each camera already has a thread of its own;
splitting a frame's colour conversion, blur or resize over the cores costs more CPU than it
saves on frames this size (`bench/vision_pipeline.py`, a still scene with motion on, 2
cores: 0.34-0.40 CPU ms a frame vs 0.38-0.50 with OpenCV's default pool, the detector's
frames unchanged). A board's cores are better left to the other cameras and the model."""


@dataclass(slots=True)
class _Chores:
    """Control work for the thread: end the live tracks, take snapshots."""

    flush: bool = False
    snapshots: list[Future[Snapshot]] = field(default_factory=list)


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
        self._detect = True
        self._chores = _Chores()
        self._last_image: Image | None = None
        self._last_at = 0.0
        self._live: tuple[Track, ...] = ()
        self._quality = analyzer.camera.events.snapshot_quality
        self._thread = threading.Thread(target=self._run, name=f"camera:{camera_id}", daemon=True)

    def start(self) -> None:
        """Start the worker thread (and keep OpenCV's own thread pool to one thread)."""
        cv2.setNumThreads(_OPENCV_THREADS)
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
        for future in self._chores.snapshots:
            future.cancel()
        if self._thread.is_alive():  # pragma: no cover - a model stuck in invoke
            log.warning("camera %s: worker did not stop within %.0fs", self.camera_id, timeout_s)
            return None
        return self.analyzer.flush(time.monotonic())

    @property
    def detect(self) -> bool:
        """Whether frames are analysed (detection on)."""
        return self._detect

    def set_detect(self, on: bool) -> None:
        """Turn detection on or off (from any thread); off ends the live tracks."""
        with self._cond:
            if on == self._detect:
                return
            self._detect = on
            if not on:
                self._chores.flush = True
            self._cond.notify()

    def request_snapshot(self) -> Future[Snapshot]:
        """Ask for the latest frame with the live tracks drawn (from any thread)."""
        future: Future[Snapshot] = Future()
        with self._cond:
            if self._stopping:
                future.set_exception(CommandError(f"camera {self.camera_id} is stopping"))
                return future
            self._chores.snapshots.append(future)
            self._cond.notify()
        return future

    def _take(self) -> EncodedFrame | Frame | _Chores | None:
        """Wait for a frame that may be processed now, or chores; None when stopping."""
        with self._cond:
            while not self._stopping:
                chores = self._chores
                if chores.flush or chores.snapshots:
                    self._chores = _Chores()
                    return chores
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
                if isinstance(item, _Chores):
                    self._do(item)
                    continue
                self._next_at = time.monotonic() + self._min_interval_s
                cpu = time.thread_time()
                self._process(item)
                self.stats.cpu_seconds.inc(time.thread_time() - cpu)
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
        self._last_image, self._last_at = image, item.received_at
        if not self._detect:
            self._live = ()
            return
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
        self._live = outcome.active
        self.stats.processed(
            motion=outcome.has_motion,
            inference_ms=outcome.inference_ms,
            calls=outcome.detector_calls,
        )
        self._deliver(outcome)

    def _do(self, chores: _Chores) -> None:
        if chores.flush:
            self._live = ()
            self._deliver(self.analyzer.flush(time.monotonic()))
        for future in chores.snapshots:
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(self._snapshot())
                except CommandError as exc:
                    future.set_exception(exc)

    def _snapshot(self) -> Snapshot:
        image = self._last_image
        if image is None:
            msg = f"camera {self.camera_id} has not received a frame yet"
            raise CommandError(msg)
        canvas = image.copy()
        for track in self._live:
            x1, y1, x2, y2 = track.box.to_int()
            cv2.rectangle(canvas, (x1, y1), (x2, y2), _BOX_COLOUR, 2)
            text = f"{track.label} #{track.id} {track.score:.2f}"
            cv2.putText(
                canvas, text, (x1, max(12, y1 - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _BOX_COLOUR, 1
            )
        stamp = f"{self.camera_id} {time.strftime('%Y-%m-%d %H:%M:%S')}"
        cv2.putText(canvas, stamp, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _TEXT_COLOUR, 1)
        height, width = canvas.shape[:2]
        return Snapshot(
            jpeg=encode_jpeg(canvas, self._quality),
            frame_age_s=round(time.monotonic() - self._last_at, 3),
            tracks=len(self._live),
            width=width,
            height=height,
        )

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
