"""Frames from cameras, and JPEG payload decoding that never raises on bad input.

An MQTT camera (ESP32-CAM style) sends one JPEG per message, raw or as base64 text. The
payload goes through `devices.cameras.guard` before anything decodes it: its size and the
pixel count its header claims are checked against `ImageLimits`, and the JPEG is decoded
strictly, so a cut-off JPEG is reported as `truncated` rather than decoded into a
half-grey picture, and a 600-byte "30000x30000" bomb as `too_many_pixels`.
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

from devices.cameras.guard import ImageIssue, ImageLimits, ImageProblem, decode_image

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
    TOO_LARGE = "too_large"
    """More bytes than `ImageLimits.max_bytes`."""
    TOO_MANY_PIXELS = "too_many_pixels"
    """The JPEG header claims more than `ImageLimits.max_pixels`."""
    ZERO_SIZE = "zero_size"
    UNSUPPORTED = "unsupported"
    """A JPEG of a kind not decoded (CMYK, arithmetic coding)."""


@dataclass(slots=True, frozen=True)
class FrameIssue:
    """A payload that did not give a frame, and why."""

    problem: FrameProblem
    detail: str
    size: int


def decode_frame(frame: EncodedFrame, limits: ImageLimits | None = None) -> Frame | FrameIssue:
    """Decode an `EncodedFrame` into a BGR `Frame` within `limits`, or say why not."""
    limits = limits or ImageLimits()
    data = frame.payload
    if frame.encoding == "base64":
        if len(data) > limits.max_bytes * 4 // 3 + 4:
            detail = f"{len(data)} base64 bytes, over max_bytes {limits.max_bytes} decoded"
            return FrameIssue(FrameProblem.TOO_LARGE, detail, len(data))
        try:
            data = base64.b64decode(frame.payload.strip(), validate=True)
        except (binascii.Error, ValueError) as exc:
            return FrameIssue(FrameProblem.BASE64, f"not base64: {exc}", len(frame.payload))
    if data and len(data) <= limits.max_bytes and not data.startswith(_SOI):
        return FrameIssue(FrameProblem.NOT_JPEG, f"starts with {data[:4].hex()}", len(data))
    image = decode_image(data, limits)
    if isinstance(image, ImageIssue):
        problem = (
            FrameProblem.NOT_JPEG
            if image.problem is ImageProblem.NOT_IMAGE
            else FrameProblem(image.problem.value)
        )
        return FrameIssue(problem, image.detail, image.size)
    return Frame(image, frame.received_at)


def encode_jpeg(image: npt.NDArray[Any], quality: int = 80) -> bytes:
    """Return `image` (BGR) as JPEG bytes."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:  # pragma: no cover - only for empty or exotic images
        msg = f"JPEG encoding failed for an image of shape {list(image.shape)}"
        raise ValueError(msg)
    return bytes(buf)
