"""Frames from cameras, and JPEG payload decoding that never raises on bad input.

An MQTT camera (ESP32-CAM style) sends one JPEG per message, raw or as base64 text. A
payload is checked cheaply (start and end markers) before OpenCV decodes it, so a cut-off
JPEG is reported as `truncated` rather than decoded into a half-grey picture.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

__all__ = [
    "EncodedFrame",
    "Frame",
    "FrameIssue",
    "FrameProblem",
    "Image",
    "decode_frame",
    "encode_jpeg",
]

Image = npt.NDArray[np.uint8]
"""A BGR image, `[H, W, 3]` uint8."""

_SOI = b"\xff\xd8"  # JPEG start-of-image marker
_EOI = b"\xff\xd9"  # end-of-image marker
_MAX_TRAILING = 64  # some cameras pad after the EOI marker


@dataclass(slots=True, frozen=True)
class EncodedFrame:
    """A frame as it arrived (JPEG bytes, or base64 text of them), not yet decoded."""

    payload: bytes
    received_at: float
    """`time.monotonic()` at arrival."""
    encoding: Literal["jpeg", "base64"] = "jpeg"


@dataclass(slots=True, frozen=True)
class Frame:
    """A decoded BGR frame."""

    image: Image
    received_at: float
    """`time.monotonic()` at arrival (or at capture for OpenCV sources)."""


class FrameProblem(StrEnum):
    """Why a payload did not give a frame."""

    EMPTY = "empty"
    BASE64 = "base64"
    NOT_JPEG = "not_jpeg"
    TRUNCATED = "truncated"
    CORRUPT = "corrupt"


@dataclass(slots=True, frozen=True)
class FrameIssue:
    """A payload that did not give a frame, and why."""

    problem: FrameProblem
    detail: str
    size: int


def decode_frame(frame: EncodedFrame) -> Frame | FrameIssue:
    """Decode an `EncodedFrame` into a BGR `Frame`, or say why it cannot be decoded."""
    data = frame.payload
    if frame.encoding == "base64":
        try:
            data = base64.b64decode(frame.payload.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            return FrameIssue(FrameProblem.BASE64, f"not base64: {exc}", len(frame.payload))
    size = len(data)
    if size == 0:
        return FrameIssue(FrameProblem.EMPTY, "zero-byte payload", 0)
    if not data.startswith(_SOI):
        return FrameIssue(FrameProblem.NOT_JPEG, f"starts with {data[:4].hex()}", size)
    if _EOI not in data[-_MAX_TRAILING - 2 :]:
        return FrameIssue(FrameProblem.TRUNCATED, "no end-of-image marker", size)
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        return FrameIssue(FrameProblem.CORRUPT, f"OpenCV: {exc}".strip(), size)
    if image is None or image.size == 0:
        return FrameIssue(FrameProblem.CORRUPT, "OpenCV could not decode it", size)
    return Frame(np.asarray(image, dtype=np.uint8), frame.received_at)


def encode_jpeg(image: npt.NDArray[Any], quality: int = 80) -> bytes:
    """Return `image` (BGR) as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - only for empty or exotic images
        msg = f"JPEG encoding failed for an image of shape {list(image.shape)}"
        raise ValueError(msg)
    return bytes(buf)
