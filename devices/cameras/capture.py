"""OpenCV sources (files, RTSP/HTTP URLs, USB indices) read on a thread of their own.

`OpenCVCapture` opens the source, reads frames and hands each to `on_frame` (the camera
keeps only the newest). When the source cannot be opened or stops delivering, it reports
a `CaptureStatus`, waits with capped exponential backoff and full jitter, and tries
again, until `stop()`. Files are played at their own frame rate; at the end they stop,
or start again with `loop=True`.

OpenCV decodes what it reads itself, so the image limit is applied as early as it can be:
a source whose announced frame size is over `ImageLimits.max_pixels` is refused at open
(and retried with backoff), and any frame over it is dropped and handed to `on_reject`.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from devices.cameras.frames import Frame
from devices.cameras.guard import ImageIssue, ImageLimits, check_shape

__all__ = ["CaptureEvent", "CaptureStatus", "OpenCVCapture", "RetryPolicy", "parse_source"]

_DEFAULT_FILE_FPS = 10.0


class CaptureEvent(StrEnum):
    """What happened to a source."""

    OPENED = "opened"
    OPEN_FAILED = "open_failed"
    LOST = "lost"
    ENDED = "ended"


@dataclass(slots=True, frozen=True)
class CaptureStatus:
    """A change of a source's state, for logs and counters."""

    event: CaptureEvent
    detail: str
    retry_in_s: float | None = None


@dataclass(slots=True, frozen=True)
class RetryPolicy:
    """Reconnect backoff and stream timeouts."""

    min_delay_s: float = 1.0
    max_delay_s: float = 30.0
    open_timeout_s: float = 10.0
    read_timeout_s: float = 10.0


def parse_source(source: str) -> int | str:
    """Return a USB index for `"0"`, `"1"`, ... and the string itself otherwise."""
    return int(source) if source.isdigit() else source


class OpenCVCapture:
    """Read an OpenCV source on a daemon thread; reconnect with backoff until stopped."""

    def __init__(
        self,
        source: str,
        *,
        on_frame: Callable[[Frame], None],
        on_status: Callable[[CaptureStatus], None],
        retry: RetryPolicy | None = None,
        loop: bool = False,
        name: str = "capture",
        limits: ImageLimits | None = None,
        on_reject: Callable[[ImageIssue], None] | None = None,
    ) -> None:
        self.source = parse_source(source)
        self._on_frame = on_frame
        self._on_status = on_status
        self._limits = limits or ImageLimits()
        self._on_reject = on_reject
        self._retry = retry or RetryPolicy()
        self._loop = loop
        self._stop = threading.Event()
        self._rng = random.Random()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    @property
    def is_file(self) -> bool:
        """Return True for a file path (not a URL, not a device index)."""
        return isinstance(self.source, str) and "://" not in self.source

    def start(self) -> None:
        """Start reading."""
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Stop reading and wait (up to `timeout_s`) for the thread to finish."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _delay(self, attempt: int) -> float:
        ceiling = min(self._retry.max_delay_s, self._retry.min_delay_s * 2 ** min(attempt, 16))
        return max(self._retry.min_delay_s / 10, self._rng.uniform(0, ceiling))

    def _open(self) -> cv2.VideoCapture | str:
        """Return an opened capture, or why it could not be opened."""
        if self.is_file and not Path(str(self.source)).is_file():
            return f"file {self.source} does not exist"
        params = [
            cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
            int(self._retry.open_timeout_s * 1000),
            cv2.CAP_PROP_READ_TIMEOUT_MSEC,
            int(self._retry.read_timeout_s * 1000),
        ]
        cap = cv2.VideoCapture(self.source, cv2.CAP_ANY, params)
        if not cap.isOpened():
            cap.release()
            return f"OpenCV cannot open {self.source}"
        width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0)
        height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        # 0x0 means "not announced" for some backends: then each frame is checked.
        issue = check_shape(width, height, self._limits) if width and height else None
        if issue is not None:
            cap.release()
            return f"{self.source}: frames of {issue.detail}"
        return cap

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            cap = self._open()
            if isinstance(cap, str):
                delay = self._delay(attempt)
                attempt += 1
                self._on_status(CaptureStatus(CaptureEvent.OPEN_FAILED, cap, delay))
                self._stop.wait(delay)
                continue
            self._on_status(CaptureStatus(CaptureEvent.OPENED, str(self.source)))
            try:
                delivered = self._read_all(cap)
            finally:
                cap.release()
            if delivered:
                attempt = 0
            if self._stop.is_set():
                return
            if self.is_file and not self._loop:
                self._on_status(CaptureStatus(CaptureEvent.ENDED, "end of file"))
                return
            if self.is_file and delivered:
                continue  # loop the file at once
            delay = self._delay(attempt)
            attempt += 1
            self._on_status(CaptureStatus(CaptureEvent.LOST, "no frame from the source", delay))
            self._stop.wait(delay)

    def _read_all(self, cap: Any) -> int:
        """Read until the source fails or `stop()`; return the number of frames read."""
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0) if self.is_file else 0.0
        period = 1.0 / (fps if 0 < fps <= 240 else _DEFAULT_FILE_FPS) if self.is_file else 0.0
        next_at = time.monotonic()
        count = 0
        while not self._stop.is_set():
            ok, image = cap.read()
            if not ok or image is None:
                return count
            count += 1
            now = time.monotonic()
            issue = check_shape(image.shape[1], image.shape[0], self._limits)
            if issue is not None:
                if self._on_reject is not None:
                    self._on_reject(issue)
            else:
                self._on_frame(Frame(np.asarray(image, dtype=np.uint8), now))
            if period:
                # Play files in real time, as a camera would deliver them.
                next_at = max(next_at + period, now - period)
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        return count
