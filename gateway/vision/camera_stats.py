"""Per-camera stats: frames in/decoded/skipped/corrupt, motion, detector time, tracks.

Counters are prometheus-client ones, safe to increment from the camera's worker thread.
Rates and percentiles are computed from short windows when the stats are collected.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

import numpy as np

from gateway.stats_registry import Stats

__all__ = ["CameraStats"]

_FPS_WINDOW_S = 5.0
_LATENCY_WINDOW = 256  # last N processed frames for the inference percentiles
_EVENT_WINDOW = 4096  # last N events (and verdicts) for the arrival -> event percentiles


class CameraStats:
    """The stats of one camera, labelled `camera=<id>` in the gateway's registry."""

    def __init__(self, stats: Stats, camera: str) -> None:
        self.camera = camera
        self._registry = stats
        lbl = ["camera"]
        self.frames_in = stats.counter("camera_frames_in", "Frames received.", lbl).labels(camera)
        self.bytes_in = stats.counter(
            "camera_bytes_in", "Bytes of frames received over MQTT.", lbl
        ).labels(camera)
        self.frames_decoded = stats.counter(
            "camera_frames_decoded", "Frames decoded (or read) and processed.", lbl
        ).labels(camera)
        self.frames_skipped = stats.counter(
            "camera_frames_skipped", "Frames dropped because a newer one arrived first.", lbl
        ).labels(camera)
        self._corrupt = stats.counter(
            "camera_frames_corrupt",
            "Payloads that gave no frame, by reason.",
            ["camera", "reason"],
        )
        self.frames_with_motion = stats.counter(
            "camera_frames_with_motion", "Processed frames with motion regions.", lbl
        ).labels(camera)
        self.detector_calls = stats.counter(
            "camera_detector_calls", "Model invocations (one per region or crop).", lbl
        ).labels(camera)
        self.tracks = stats.counter("camera_tracks", "Tracks announced (started).", lbl).labels(
            camera
        )
        self.events = stats.counter("camera_events", "Events emitted by the camera.", lbl).labels(
            camera
        )
        self.hard_cases = stats.counter(
            "camera_hard_cases", "Hard cases emitted (up to `escalation.max_crops` per track).", lbl
        ).labels(camera)
        self._crops_skipped = stats.counter(
            "camera_crops_skipped",
            "Hard-case crops not sent, by budget (`track_budget`, `camera_budget`, "
            "`unknown_budget`).",
            ["camera", "reason"],
        )
        self.faces_redacted = stats.counter(
            "camera_faces_redacted", "Faces blurred on hard-case crops that were sent.", lbl
        ).labels(camera)
        self._verdicts = stats.counter(
            "camera_verdicts",
            "Cloud verdicts for this camera, by what they did (confirmed, rejected, "
            "relabelled, split, named) or why they changed nothing (unsure, repeated, ...).",
            ["camera", "result"],
        )
        self._errors = stats.counter(
            "camera_errors",
            "Source, model and frame-processing errors, by reason.",
            ["camera", "reason"],
        )
        self.cpu_seconds = stats.counter(
            "camera_cpu_seconds",
            "CPU seconds of the camera's worker thread (decode, motion, model, tracker, "
            "crops); a model's extra interpreter threads (num_threads > 1) are not in it.",
            lbl,
        ).labels(camera)
        self.ready = stats.gauge(
            "camera_ready", "1 while the camera's model is loaded and its worker runs.", lbl
        ).labels(camera)
        self._lock = threading.Lock()
        self._arrivals: deque[float] = deque()
        self._latency_ms: deque[float] = deque(maxlen=_LATENCY_WINDOW)
        self._event_ms: deque[float] = deque(maxlen=_EVENT_WINDOW)
        self._verdict_ms: deque[float] = deque(maxlen=_EVENT_WINDOW)
        self._processed = 0
        self._with_motion = 0
        for name, doc, fn in (
            ("camera_fps_in", "Frames received per second (last 5 s).", self.fps_in),
            ("camera_motion_fraction", "Fraction of processed frames with motion.", self.motion),
            ("camera_inference_ms_p50", "Median detector ms per processed frame.", self.p50),
            ("camera_inference_ms_p95", "95th percentile detector ms per frame.", self.p95),
        ):
            stats.gauge(name, doc, lbl).labels(camera).set_function(fn)
        for name, doc, window in (
            (
                "camera_event_latency_ms",
                "Frame arrival -> its vision.detection event handed to the local MQTT "
                "client, ms (last 4096 events)",
                self._event_ms,
            ),
            (
                "camera_verdict_latency_ms",
                "Arrival of a hard case's frame -> the cloud's verdict applied, ms (last 4096)",
                self._verdict_ms,
            ),
        ):
            for q in (50, 99):
                stats.gauge(f"{name}_p{q}", f"{doc}: {q}th percentile.", lbl).labels(
                    camera
                ).set_function(self._percentile_of(window, q))

    def frame_arrived(self, now: float | None = None) -> None:
        """Count one received frame."""
        self.frames_in.inc()
        now = time.monotonic() if now is None else now
        with self._lock:
            self._arrivals.append(now)
            while self._arrivals and now - self._arrivals[0] > _FPS_WINDOW_S:
                self._arrivals.popleft()

    def crop_skipped(self, reason: str) -> None:
        """Count a hard-case crop not sent for `reason` (a budget)."""
        self._crops_skipped.labels(self.camera, reason).inc()

    def verdict(self, result: str) -> None:
        """Count a verdict by what it did or why it did nothing."""
        self._verdicts.labels(self.camera, result).inc()

    def band_gauges(self, low: Callable[[], float], high: Callable[[], float]) -> None:
        """Export the escalation band's current edges."""
        for name, doc, fn in (
            ("camera_band_low", "The escalation band's lower edge now.", low),
            ("camera_band_high", "The escalation band's upper edge now.", high),
        ):
            self._registry.gauge(name, doc, ["camera"]).labels(self.camera).set_function(fn)

    def corrupt(self, reason: str) -> None:
        """Count one payload that gave no frame."""
        self._corrupt.labels(self.camera, reason).inc()

    def error(self, reason: str) -> None:
        """Count one error (`source`, `model`, `frame`)."""
        self._errors.labels(self.camera, reason).inc()

    def processed(self, *, motion: bool, inference_ms: float, calls: int) -> None:
        """Record one processed frame."""
        self.frames_decoded.inc()
        if motion:
            self.frames_with_motion.inc()
        if calls:
            self.detector_calls.inc(calls)
        with self._lock:
            self._processed += 1
            self._with_motion += motion
            if calls:
                self._latency_ms.append(inference_ms)

    def event_latency(self, ms: float) -> None:
        """Record one frame arrival -> local event latency."""
        with self._lock:
            self._event_ms.append(ms)

    def verdict_latency(self, ms: float) -> None:
        """Record one frame arrival -> cloud verdict applied latency."""
        with self._lock:
            self._verdict_ms.append(ms)

    def latencies(self) -> tuple[list[float], list[float]]:
        """The recorded event and verdict latencies, ms (oldest first)."""
        with self._lock:
            return list(self._event_ms), list(self._verdict_ms)

    def _percentile_of(self, window: deque[float], q: float) -> Callable[[], float]:
        def read() -> float:
            with self._lock:
                values = list(window)
            return round(float(np.percentile(values, q)), 3) if values else 0.0

        return read

    def fps_in(self) -> float:
        """Return frames received per second over the last few seconds."""
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._arrivals if now - t <= _FPS_WINDOW_S]
        if len(recent) < 2:
            return 0.0
        span = max(recent[-1] - recent[0], 1e-3)
        return round((len(recent) - 1) / span, 3)

    def motion(self) -> float:
        """Return the fraction of processed frames that had motion."""
        with self._lock:
            return self._with_motion / self._processed if self._processed else 0.0

    def _percentile(self, q: float) -> float:
        with self._lock:
            values = list(self._latency_ms)
        return round(float(np.percentile(values, q)), 3) if values else 0.0

    def p50(self) -> float:
        """Return the median detector time per frame, ms."""
        return self._percentile(50)

    def p95(self) -> float:
        """Return the 95th percentile detector time per frame, ms."""
        return self._percentile(95)
