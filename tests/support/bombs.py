"""Hostile images, built on the spot: header bombs and truncated JPEGs (tests and bench)."""

from __future__ import annotations

import struct

import cv2
import numpy as np

__all__ = ["BOMB_BYTES", "jpeg_bomb", "png_bomb", "truncated_jpeg"]

BOMB_BYTES = 629
"""The size of the issue's bomb: 629 bytes that claim 30000x30000 pixels."""


def _small_jpeg() -> bytes:
    ok, buf = cv2.imencode(".jpg", np.full((8, 8, 3), 90, np.uint8))
    assert ok
    return bytes(buf)


def jpeg_bomb(width: int = 30000, height: int = 30000, size: int = BOMB_BYTES) -> bytes:
    """A valid little JPEG whose frame header claims `width` x `height`, padded to `size`.

    Decoding it without a limit allocates width * height * 3 bytes (2.7 GB by default)
    and takes seconds; libjpeg fills the pixels the data do not cover.
    """
    data = bytearray(_small_jpeg())
    if data[2:4] == b"\xff\xe0":  # drop the JFIF segment: optional, and 18 bytes
        del data[2 : 4 + struct.unpack_from(">H", data, 4)[0]]
    sof = data.find(b"\xff\xc0")
    assert sof > 0, "baseline JPEG expected"
    struct.pack_into(">HH", data, sof + 5, height, width)
    pad = size - len(data)
    if pad >= 4:  # a comment segment after SOI brings it to exactly `size` bytes
        data[2:2] = b"\xff\xfe" + struct.pack(">H", pad - 2) + b"x" * (pad - 4)
    return bytes(data)


def png_bomb(width: int = 30000, height: int = 30000) -> bytes:
    """A PNG whose IHDR claims `width` x `height` (grey, 8 bit) over a tiny IDAT."""
    ok, buf = cv2.imencode(".png", np.zeros((8, 8), np.uint8))
    assert ok
    data = bytearray(bytes(buf))
    struct.pack_into(">II", data, 16, width, height)
    return bytes(data)  # the IHDR CRC no longer matches: a decoder that gets that far fails


def truncated_jpeg(jpeg: bytes) -> bytes:
    """The first half of `jpeg` with an end-of-image marker appended."""
    return jpeg[: len(jpeg) // 2] + b"\xff\xd9"
