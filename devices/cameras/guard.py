"""The one guard in front of every image decode: header first, limits, then a strict decode.

An image payload is hostile until proven otherwise: a 629-byte JPEG may claim 30000x30000
pixels (2.7 GB once decoded), a cut-off JPEG with an end-of-image marker appended decodes
into a half-grey picture. So, for every image the gateway or the reference cloud decodes
(MQTT camera frames, the cloud's hard-case crops), `decode_image`:

1. refuses a payload over `ImageLimits.max_bytes` before looking at it;
2. reads width, height and channels from the JPEG SOF segment or the PNG IHDR chunk
   (parsed here, no decoder involved) and refuses more than `ImageLimits.max_pixels`;
3. decodes: a JPEG with libjpeg-turbo in strict mode (simplejpeg), so corrupt or missing
   scan data is an error, not a grey patch; a PNG with OpenCV;
4. returns BGR `[H, W, 3]` uint8: grey and 4-channel (RGBA PNG) images are converted;
   CMYK/YCCK JPEGs are refused as `unsupported`.

`check_shape` applies the same pixel limit to frames that arrive decoded (OpenCV sources).
Every refusal is an `ImageIssue` with a `ImageProblem` reason, for the caller's counters.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

import numpy as np
import numpy.typing as npt

__all__ = [
    "DEFAULT_MAX_BYTES",
    "DEFAULT_MAX_PIXELS",
    "ImageFormat",
    "ImageHeader",
    "ImageIssue",
    "ImageLimits",
    "ImageProblem",
    "check_shape",
    "decode_image",
    "read_header",
]

DEFAULT_MAX_PIXELS: Final = 4096 * 2304
"""9.4 Mpx: a 4K UHD camera (3840x2160, 8.3 Mpx) with a margin; 28 MB once decoded."""
DEFAULT_MAX_BYTES: Final = 16 * 1024 * 1024
"""16 MiB: a 4K JPEG at quality 95 is 3-6 MB, a 4K PNG up to ~25 MB (refused)."""

_JPEG_SOI: Final = b"\xff\xd8"
_JPEG_EOI: Final = b"\xff\xd9"
_PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
# SOF0..SOF15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) share the range.
_SOF_MARKERS: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xD8)})  # TEM, RST0..7: no length
_MAX_SEGMENTS: Final = 256  # segments before the first scan; real files have < 20
_MAX_TRAILING: Final = 64  # some cameras pad after the EOI marker
# PNG colour type -> channels (0 grey, 2 RGB, 3 palette, 4 grey+alpha, 6 RGBA)
_PNG_CHANNELS: Final = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}

Image = npt.NDArray[np.uint8]


class ImageFormat(StrEnum):
    """Image containers the guard reads."""

    JPEG = "jpeg"
    PNG = "png"


class ImageProblem(StrEnum):
    """Why a payload gave no image (the `reason` label of the callers' counters)."""

    EMPTY = "empty"
    TOO_LARGE = "too_large"
    """More bytes than `max_bytes`."""
    TOO_MANY_PIXELS = "too_many_pixels"
    """The header claims more than `max_pixels`."""
    ZERO_SIZE = "zero_size"
    NOT_IMAGE = "not_image"
    TRUNCATED = "truncated"
    """The data end before the image does (no end marker, cut segments or scan data)."""
    CORRUPT = "corrupt"
    UNSUPPORTED = "unsupported"
    """A valid image of a kind not decoded here (CMYK JPEG, arithmetic coding, ...)."""


@dataclass(slots=True, frozen=True)
class ImageLimits:
    """Bounds on what one image may cost to decode."""

    max_pixels: int = DEFAULT_MAX_PIXELS
    max_bytes: int = DEFAULT_MAX_BYTES


@dataclass(slots=True, frozen=True)
class ImageHeader:
    """What an image's header says, read without decoding."""

    format: ImageFormat
    width: int
    height: int
    channels: int
    colorspace: str = ""
    """JPEG: the component layout (`Gray`, `YCbCr`, `CMYK`, ...), as far as the header tells."""

    @property
    def pixels(self) -> int:
        """Width times height."""
        return self.width * self.height


@dataclass(slots=True, frozen=True)
class ImageIssue:
    """A payload that gave no image, and why."""

    problem: ImageProblem
    detail: str
    size: int


def check_shape(
    width: int, height: int, limits: ImageLimits, *, size: int = 0
) -> ImageIssue | None:
    """Return why a `width` x `height` image is refused, or None when it is within limits."""
    if width <= 0 or height <= 0:
        return ImageIssue(ImageProblem.ZERO_SIZE, f"{width}x{height} image", size)
    if width * height > limits.max_pixels:
        return ImageIssue(
            ImageProblem.TOO_MANY_PIXELS,
            f"{width}x{height} is {width * height} pixels, over max_pixels {limits.max_pixels}",
            size,
        )
    return None


def read_header(data: bytes) -> ImageHeader | ImageIssue:
    """Read format, size and channels from a JPEG or PNG header, decoding nothing."""
    size = len(data)
    if size == 0:
        return ImageIssue(ImageProblem.EMPTY, "zero-byte payload", 0)
    if data.startswith(_JPEG_SOI):
        return _jpeg_header(data)
    if data.startswith(_PNG_SIGNATURE):
        return _png_header(data)
    return ImageIssue(ImageProblem.NOT_IMAGE, f"starts with {data[:4].hex()}", size)


def decode_image(data: bytes, limits: ImageLimits | None = None) -> Image | ImageIssue:
    """Decode a JPEG or PNG into BGR `[H, W, 3]` uint8 within `limits`, or say why not."""
    limits = limits or ImageLimits()
    size = len(data)
    if size > limits.max_bytes:
        detail = f"{size} bytes, over max_bytes {limits.max_bytes}"
        return ImageIssue(ImageProblem.TOO_LARGE, detail, size)
    header = read_header(data)
    if isinstance(header, ImageIssue):
        return header
    refused = check_shape(header.width, header.height, limits, size=size)
    if refused is not None:
        return refused
    if header.format is ImageFormat.JPEG:
        return _decode_jpeg(data, header)
    return _decode_png(data, header)


def _jpeg_header(data: bytes) -> ImageHeader | ImageIssue:
    size = len(data)
    if _JPEG_EOI not in data[-_MAX_TRAILING - 2 :]:
        return ImageIssue(ImageProblem.TRUNCATED, "no end-of-image marker", size)
    pos = 2
    frame: ImageHeader | None = None
    for _ in range(_MAX_SEGMENTS):
        if pos + 1 >= size or data[pos] != 0xFF:
            return ImageIssue(ImageProblem.CORRUPT, f"no marker at byte {pos}", size)
        while pos + 1 < size and data[pos + 1] == 0xFF:  # fill bytes
            pos += 1
        if pos + 1 >= size:
            return ImageIssue(ImageProblem.TRUNCATED, "ends inside a marker", size)
        marker = data[pos + 1]
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xD9:
            return ImageIssue(ImageProblem.TRUNCATED, "end of image before any scan data", size)
        if pos + 4 > size:
            return ImageIssue(ImageProblem.TRUNCATED, "ends inside a segment header", size)
        (length,) = struct.unpack_from(">H", data, pos + 2)
        end = pos + 2 + length
        if length < 2 or end > size:
            return ImageIssue(ImageProblem.TRUNCATED, f"segment {marker:02X} cut off", size)
        if marker in _SOF_MARKERS:
            if frame is not None:
                return ImageIssue(ImageProblem.CORRUPT, "two frame headers", size)
            if length < 8:
                return ImageIssue(ImageProblem.CORRUPT, "short frame header", size)
            height, width, channels = struct.unpack_from(">HHB", data, pos + 5)
            if marker not in (0xC0, 0xC1, 0xC2):  # lossless, hierarchical, arithmetic
                detail = f"JPEG process SOF{marker - 0xC0} is not decoded here"
                return ImageIssue(ImageProblem.UNSUPPORTED, detail, size)
            space = {1: "Gray", 3: "YCbCr", 4: "CMYK"}.get(channels, f"{channels} components")
            frame = ImageHeader(ImageFormat.JPEG, width, height, channels, space)
        elif marker == 0xDA:  # start of scan: the entropy-coded data follow
            if frame is None:
                return ImageIssue(ImageProblem.CORRUPT, "scan before the frame header", size)
            if data.rfind(_JPEG_EOI) <= end:
                return ImageIssue(ImageProblem.TRUNCATED, "no scan data", size)
            return frame
        pos = end
    return ImageIssue(ImageProblem.CORRUPT, f"over {_MAX_SEGMENTS} segments before a scan", size)


def _png_header(data: bytes) -> ImageHeader | ImageIssue:
    size = len(data)
    if size < 33:
        return ImageIssue(ImageProblem.TRUNCATED, "PNG shorter than its header", size)
    length, kind = struct.unpack_from(">I4s", data, 8)
    if kind != b"IHDR" or length != 13:
        return ImageIssue(ImageProblem.CORRUPT, "PNG without an IHDR chunk first", size)
    width, height, depth, color = struct.unpack_from(">IIBB", data, 16)
    channels = _PNG_CHANNELS.get(color)
    if channels is None or depth not in (1, 2, 4, 8, 16):
        detail = f"PNG colour type {color}, bit depth {depth}"
        return ImageIssue(ImageProblem.CORRUPT, detail, size)
    if not data.rstrip(b"\x00").endswith(b"IEND\xaeB`\x82"):
        return ImageIssue(ImageProblem.TRUNCATED, "no IEND chunk", size)
    return ImageHeader(ImageFormat.PNG, width, height, channels)


def _decode_jpeg(data: bytes, header: ImageHeader) -> Image | ImageIssue:
    import simplejpeg

    size = len(data)
    if header.channels not in (1, 3):
        detail = f"{header.colorspace} JPEG ({header.channels} components)"
        return ImageIssue(ImageProblem.UNSUPPORTED, detail, size)
    try:
        image = simplejpeg.decode_jpeg(data, colorspace="BGR", strict=True)
    except ValueError as exc:
        message = str(exc)
        if "extraneous bytes" not in message:
            problem = ImageProblem.TRUNCATED if _truncation(message) else ImageProblem.CORRUPT
            return ImageIssue(problem, f"libjpeg: {message}", size)
        # Stray bytes between segments (some camera firmwares): the image itself is whole.
        try:
            image = simplejpeg.decode_jpeg(data, colorspace="BGR", strict=False)
        except ValueError as again:
            return ImageIssue(ImageProblem.CORRUPT, f"libjpeg: {again}", size)
    return _bgr(np.asarray(image, dtype=np.uint8), header, size)


def _truncation(message: str) -> bool:
    lowered = message.lower()
    return "premature end" in lowered or "truncated" in lowered


def _decode_png(data: bytes, header: ImageHeader) -> Image | ImageIssue:
    import cv2

    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    except cv2.error as exc:
        return ImageIssue(ImageProblem.CORRUPT, f"OpenCV: {exc}".strip(), len(data))
    if image is None:
        return ImageIssue(ImageProblem.CORRUPT, "OpenCV could not decode the PNG", len(data))
    return _bgr(np.asarray(image, dtype=np.uint8), header, len(data))


def _bgr(image: Image, header: ImageHeader, size: int) -> Image | ImageIssue:
    if image.ndim != 3 or image.shape[2] != 3:
        detail = f"decoded to shape {list(image.shape)}"
        return ImageIssue(ImageProblem.UNSUPPORTED, detail, size)
    if image.shape[:2] != (header.height, header.width):  # pragma: no cover - decoder bug
        detail = f"header {header.width}x{header.height}, decoded {image.shape[1]}x{image.shape[0]}"
        return ImageIssue(ImageProblem.CORRUPT, detail, size)
    return image
