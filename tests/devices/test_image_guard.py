"""The image guard: header first, limits, strict decode; real bombs built in the test."""

from __future__ import annotations

import random
import resource
import struct
import time

import cv2
import numpy as np
import pytest

from devices.cameras.guard import (
    DEFAULT_MAX_BYTES,
    DEFAULT_MAX_PIXELS,
    ImageFormat,
    ImageHeader,
    ImageIssue,
    ImageLimits,
    ImageProblem,
    decode_image,
    read_header,
)
from gateway.config.vision import DEFAULT_MAX_FRAME_BYTES
from gateway.config.vision import DEFAULT_MAX_PIXELS as CONFIG_MAX_PIXELS
from tests.support.bombs import BOMB_BYTES, jpeg_bomb, png_bomb, truncated_jpeg


def photo(height: int = 120, width: int = 160) -> np.ndarray:
    rng = np.random.default_rng(1)
    base = np.linspace(0, 255, width, dtype=np.float32)[np.newaxis, :, np.newaxis]
    noise = rng.normal(0, 20, (height, width, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def encode(ext: str, image: np.ndarray, *params: int) -> bytes:
    ok, buf = cv2.imencode(ext, image, list(params))
    assert ok
    return bytes(buf)


def problem(data: bytes, limits: ImageLimits | None = None) -> ImageProblem:
    result = decode_image(data, limits)
    assert isinstance(result, ImageIssue), f"decoded to {getattr(result, 'shape', result)}"
    return result.problem


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_the_629_byte_bomb_is_refused_from_its_header_in_no_time_or_memory() -> None:
    bomb = jpeg_bomb()
    assert len(bomb) == BOMB_BYTES
    header = read_header(bomb)
    assert header == ImageHeader(ImageFormat.JPEG, 30000, 30000, 3, "YCbCr")
    before, t0 = peak_rss_mb(), time.perf_counter()
    for _ in range(100):
        result = decode_image(bomb)
        assert isinstance(result, ImageIssue)
        assert result.problem is ImageProblem.TOO_MANY_PIXELS
        assert "30000x30000" in result.detail
    assert time.perf_counter() - t0 < 1.0  # unguarded: 11 s and 2.7 GB for one
    assert peak_rss_mb() - before < 50
    assert problem(png_bomb()) is ImageProblem.TOO_MANY_PIXELS


def test_limits_are_configurable_and_the_default_fits_a_4k_camera() -> None:
    assert 3840 * 2160 < DEFAULT_MAX_PIXELS < 3840 * 2160 * 1.25
    assert (CONFIG_MAX_PIXELS, DEFAULT_MAX_FRAME_BYTES) == (DEFAULT_MAX_PIXELS, DEFAULT_MAX_BYTES)
    jpeg = encode(".jpg", photo())
    assert problem(jpeg, ImageLimits(max_pixels=160 * 120 - 1)) is ImageProblem.TOO_MANY_PIXELS
    assert problem(jpeg, ImageLimits(max_bytes=len(jpeg) - 1)) is ImageProblem.TOO_LARGE
    image = decode_image(jpeg, ImageLimits(max_pixels=160 * 120, max_bytes=len(jpeg)))
    assert isinstance(image, np.ndarray)
    assert image.shape == (120, 160, 3)


def test_truncated_jpegs_are_refused_even_with_an_end_marker() -> None:
    jpeg = encode(".jpg", photo())
    assert problem(truncated_jpeg(jpeg)) is ImageProblem.TRUNCATED
    assert problem(jpeg[: len(jpeg) // 2]) is ImageProblem.TRUNCATED  # no EOI at all
    sos = jpeg.find(b"\xff\xda")
    length = struct.unpack_from(">H", jpeg, sos + 2)[0]
    no_scan = jpeg[: sos + 2 + length] + b"\xff\xd9"
    assert problem(no_scan) is ImageProblem.TRUNCATED
    assert problem(jpeg[:200] + b"\xff\xd9") is ImageProblem.TRUNCATED  # cut inside a table
    progressive = encode(".jpg", photo(), cv2.IMWRITE_JPEG_PROGRESSIVE, 1)
    assert problem(truncated_jpeg(progressive)) is ImageProblem.TRUNCATED


def test_grey_progressive_and_four_channel_images_decode_to_bgr() -> None:
    colour = photo()
    grey = colour[:, :, 0].copy()
    rgba = np.dstack([colour, np.full(grey.shape, 200, np.uint8)])
    cases = {
        "grey jpeg": encode(".jpg", grey),
        "progressive jpeg": encode(".jpg", colour, cv2.IMWRITE_JPEG_PROGRESSIVE, 1),
        "grey png": encode(".png", grey),
        "rgba png": encode(".png", rgba),
        "16-bit png": encode(".png", colour.astype(np.uint16) * 257),
    }
    for name, data in cases.items():
        image = decode_image(data)
        assert isinstance(image, np.ndarray), f"{name}: {image}"
        assert image.shape == (120, 160, 3), name
        assert image.dtype == np.uint8, name
    rgba_image = decode_image(cases["rgba png"])
    assert isinstance(rgba_image, np.ndarray)
    assert np.array_equal(rgba_image, colour)


def test_cmyk_zero_size_and_foreign_payloads_say_why() -> None:
    jpeg = bytearray(encode(".jpg", photo()))
    sof = jpeg.find(b"\xff\xc0")
    cmyk = bytearray(jpeg)
    cmyk[sof + 9] = 4  # four components
    assert problem(bytes(cmyk)) is ImageProblem.UNSUPPORTED
    zero = bytearray(jpeg)
    struct.pack_into(">H", zero, sof + 5, 0)  # height 0 (a DNL-defined height)
    assert problem(bytes(zero)) is ImageProblem.ZERO_SIZE
    arithmetic = bytearray(jpeg)
    arithmetic[sof + 1] = 0xC9
    assert problem(bytes(arithmetic)) is ImageProblem.UNSUPPORTED
    assert problem(b"") is ImageProblem.EMPTY
    assert problem(b"GIF89a" + bytes(100)) is ImageProblem.NOT_IMAGE
    assert problem(b"\xff\xd8" + b"\x00" * 50 + b"\xff\xd9") is ImageProblem.CORRUPT
    many = b"\xff\xd8" + b"\xff\xfe\x00\x02" * 300 + b"\xff\xd9"
    assert problem(many) is ImageProblem.CORRUPT


def test_mutated_images_never_raise_and_never_decode_a_lie() -> None:
    rng = random.Random(11)
    seeds = [encode(".jpg", photo()), encode(".png", photo(40, 50)), jpeg_bomb()]
    outcomes: dict[str, int] = {}
    for i in range(1500):
        data = bytearray(seeds[i % len(seeds)])
        for _ in range(rng.randint(1, 8)):
            op = rng.random()
            pos = rng.randrange(len(data))
            if op < 0.5:
                data[pos] = rng.randrange(256)
            elif op < 0.75:
                del data[pos : pos + rng.randint(1, 64)]
            else:
                data[pos:pos] = rng.randbytes(rng.randint(1, 16))
        result = decode_image(bytes(data))
        if isinstance(result, ImageIssue):
            outcomes[result.problem.value] = outcomes.get(result.problem.value, 0) + 1
        else:
            header = read_header(bytes(data))
            assert isinstance(header, ImageHeader)
            assert result.shape == (header.height, header.width, 3)
            assert header.pixels <= DEFAULT_MAX_PIXELS
            outcomes["decoded"] = outcomes.get("decoded", 0) + 1
    assert outcomes.get("too_many_pixels", 0) > 0
    assert outcomes.get("corrupt", 0) + outcomes.get("truncated", 0) > 100


@pytest.mark.parametrize("limit", [1, 1000])
def test_bytes_limit_is_checked_before_the_header(limit: int) -> None:
    assert problem(b"\x00" * (limit + 1), ImageLimits(max_bytes=limit)) is ImageProblem.TOO_LARGE
