"""A simulated network camera: a video file's frames as JPEG over MQTT, at the clip's pace.

Like an ESP32-CAM or an IP camera with an MQTT bridge, it publishes one JPEG per message
on one topic. Reading and encoding run in a worker thread; the loop only publishes and
keeps time, so a slow encode delays that frame, never the schedule of the next ones.

A real camera keeps streaming after the people leave; a clip just stops, and tracks that
are still open would never end. With `empty_tail_s` the camera ends on that many seconds
of the empty scene (the per-pixel median of frames spread over the clip), so every track
ends, as it would when people walk out of view::

    report = await stream_video(path, host="127.0.0.1", port=1883, topic="cam/door/jpeg")
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import cv2
import numpy as np
import numpy.typing as npt

__all__ = ["CameraReport", "CameraStreamError", "SentFrame", "empty_scene", "stream_video"]

log = logging.getLogger(__name__)


class CameraStreamError(RuntimeError):
    """The video cannot be opened or gives no frame."""


@dataclass(slots=True, frozen=True)
class SentFrame:
    """One frame the camera published."""

    index: int
    wall_ts: float
    """Unix time just before it was handed to the MQTT client."""
    jpeg: bytes
    empty: bool = False
    """One of the empty-scene frames sent after the clip."""


@dataclass(slots=True, frozen=True)
class CameraReport:
    """What a run published."""

    frames: int
    bytes: int
    duration_s: float
    width: int
    height: int


class _Reader:
    """Read frames from a video file and encode them as JPEG (blocking: call off the loop)."""

    def __init__(self, path: Path, quality: int) -> None:
        self._cap = cv2.VideoCapture(str(path))
        if not self._cap.isOpened():
            msg = f"OpenCV cannot open {path}"
            raise CameraStreamError(msg)
        self._params = [int(cv2.IMWRITE_JPEG_QUALITY), quality]
        self.width = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS)) or 10.0

    def next_jpeg(self) -> bytes | None:
        ok, image = self._cap.read()
        if not ok:
            return None
        ok, buf = cv2.imencode(".jpg", image, self._params)
        if not ok:  # pragma: no cover - encoding a decoded frame does not fail
            msg = "JPEG encoding failed"
            raise CameraStreamError(msg)
        return np.asarray(buf, dtype=np.uint8).tobytes()

    def close(self) -> None:
        self._cap.release()


def empty_scene(path: Path, *, samples: int = 25, quality: int = 80) -> bytes:
    """The clip's background as JPEG: the median of `samples` frames spread over it."""
    cap = cv2.VideoCapture(str(path))
    try:
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        step = max(1, count // samples)
        frames: list[npt.NDArray[np.uint8]] = []
        index = 0
        while len(frames) < samples:
            ok = cap.grab()
            if not ok:
                break
            if index % step == 0:
                ok, image = cap.retrieve()
                if ok:
                    frames.append(np.asarray(image, dtype=np.uint8))
            index += 1
    finally:
        cap.release()
    if not frames:
        msg = f"{path} gave no frame"
        raise CameraStreamError(msg)
    median = np.median(np.stack(frames), axis=0).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", median, [int(cv2.IMWRITE_JPEG_QUALITY), quality])
    if not ok:  # pragma: no cover
        msg = "JPEG encoding failed"
        raise CameraStreamError(msg)
    return np.asarray(buf, dtype=np.uint8).tobytes()


async def stream_video(
    path: Path,
    *,
    host: str,
    port: int,
    topic: str,
    fps: float | None = None,
    quality: int = 80,
    duration_s: float | None = None,
    client_id: str = "edgegw-sim-camera",
    empty_tail_s: float = 0.0,
    on_frame: Callable[[SentFrame], None] | None = None,
) -> CameraReport:
    """Publish `path` once through as JPEG frames (QoS 0) at `fps` (the clip's by default).

    Stops at the end of the clip or after `duration_s` (then sends `empty_tail_s` of the
    empty scene), or when cancelled. `on_frame` sees every frame as it is published (the
    demo keeps the recent ones to annotate events).
    """
    reader = await asyncio.to_thread(_Reader, path, quality)
    interval = 1.0 / (fps or reader.fps)
    tail: asyncio.Task[bytes] | None = None
    if empty_tail_s > 0:
        tail = asyncio.create_task(asyncio.to_thread(empty_scene, path, quality=quality))
    sent = size = 0
    start = time.monotonic()
    try:
        async with aiomqtt.Client(host, port, identifier=client_id) as client:
            start = time.monotonic()

            async def send(jpeg: bytes, *, empty: bool) -> None:
                nonlocal sent, size
                await asyncio.sleep(max(0.0, start + sent * interval - time.monotonic()))
                if on_frame is not None:
                    on_frame(SentFrame(sent, time.time(), jpeg, empty=empty))
                await client.publish(topic, jpeg, qos=0)
                sent += 1
                size += len(jpeg)

            while duration_s is None or sent * interval < duration_s:
                jpeg = await asyncio.to_thread(reader.next_jpeg)
                if jpeg is None:
                    break
                await send(jpeg, empty=False)
            if tail is not None:
                background = await tail
                for _ in range(round(empty_tail_s / interval)):
                    await send(background, empty=True)
    finally:
        if tail is not None:
            tail.cancel()
        await asyncio.to_thread(reader.close)
    elapsed = time.monotonic() - start
    log.info("camera: %d frames, %d bytes in %.1fs on %s", sent, size, elapsed, topic)
    if sent == 0:
        msg = f"{path} gave no frame"
        raise CameraStreamError(msg)
    return CameraReport(sent, size, elapsed, reader.width, reader.height)
