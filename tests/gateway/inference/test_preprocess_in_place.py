"""The per-frame fast path: lookup-table normalisation, reused buffers, in-place input.

`Preprocessor.into` writes into the interpreter's own input tensor from scratch buffers
it keeps between calls. These tests check, on real frames of changing sizes, that every
call still gives exactly what the plain arithmetic gives (the path it replaced, written
out below), and that `Detector.infer` runs the model on the same input `invoke` gets.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import ModelError
from gateway.inference.detector import Detector
from gateway.inference.preprocess import Normalization, Preprocessor

Image = npt.NDArray[np.uint8]


def reference(pre: Preprocessor, image: Image) -> npt.NDArray[Any]:
    """The input tensor by plain per-call arithmetic (no tables, no reused buffers)."""
    if image.ndim == 2:
        image = np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
    src_h, src_w = image.shape[:2]
    if pre.letterbox:
        s = min(pre.width / src_w, pre.height / src_h)
        new_w = max(1, min(pre.width, round(src_w * s)))
        new_h = max(1, min(pre.height, round(src_h * s)))
    else:
        new_w, new_h = pre.width, pre.height
    while image.shape[1] >= 2 * new_w and image.shape[0] >= 2 * new_h:
        image = np.asarray(cv2.pyrDown(image), dtype=np.uint8)
    resized = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    canvas = np.full((pre.height, pre.width, 3), pre.pad_value, dtype=np.uint8)
    pad_x, pad_y = (pre.width - new_w) // 2, (pre.height - new_h) // 2
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    rgb = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    if pre.normalization == "raw" and pre.dtype == np.uint8:
        return rgb[np.newaxis]
    if pre.normalization == "raw" and pre.dtype == np.int8:
        return (rgb.astype(np.int16) - 128).astype(np.int8)[np.newaxis]
    real = rgb.astype(np.float32)
    if pre.normalization == "[-1,1]":
        real = real / np.float32(127.5) - np.float32(1.0)
    elif pre.normalization == "[0,1]":
        real = real / np.float32(255.0)
    if pre.dtype == np.float32:
        return real[np.newaxis]
    info = np.iinfo(pre.dtype)
    q = np.round(real / np.float32(pre.scale or 1.0)) + pre.zero_point
    out: npt.NDArray[Any] = np.clip(q, info.min, info.max).astype(pre.dtype)[np.newaxis]
    return out


@pytest.fixture(scope="module")
def real_images(footage_paths: dict[str, Path]) -> list[Image]:
    """vtest frames whole and cropped to many sizes, messi5.jpg, and a grey frame."""
    capture = cv2.VideoCapture(str(footage_paths["vtest.avi"]))
    frames = []
    for _ in range(3):
        ok, frame = capture.read()
        assert ok
        frames.append(np.asarray(frame, dtype=np.uint8))
    capture.release()
    messi = np.asarray(cv2.imread(str(footage_paths["messi5.jpg"])), dtype=np.uint8)
    return [
        frames[0],
        frames[1][40:400, 120:480],  # a square region, as motion gating cuts them
        frames[2][10:200, 5:700],  # wide
        frames[0][:50, :37],  # smaller than any input
        messi,
        np.asarray(cv2.cvtColor(messi, cv2.COLOR_BGR2GRAY), dtype=np.uint8),
        frames[1],
    ]


INPUTS: list[tuple[Normalization, type, float, int]] = [
    ("raw", np.uint8, 0.0, 0),  # EfficientNet-Lite
    ("[-1,1]", np.uint8, 1 / 127.5, 127),  # the bundled person detector
    ("[-1,1]", np.int8, 1 / 128, 0),
    ("raw", np.int8, 0.0, 0),
    ("[0,1]", np.float32, 0.0, 0),
    ("[-1,1]", np.float32, 0.0, 0),
]


@pytest.mark.parametrize(("letterbox", "size"), list(itertools.product([True, False], [224, 300])))
@pytest.mark.parametrize("model_input", INPUTS)
def test_every_call_equals_the_plain_arithmetic(
    real_images: list[Image],
    letterbox: bool,
    size: int,
    model_input: tuple[Normalization, type, float, int],
) -> None:
    normalization, dtype, scale, zero_point = model_input
    pre = Preprocessor(
        size, size, np.dtype(dtype), scale, zero_point, normalization, letterbox, pad_value=114
    )
    # Stale contents of the destination must not survive.
    out: npt.NDArray[Any] = np.full((1, size, size, 3), 7, dtype=dtype)

    for image in real_images * 2:  # sizes change between calls: buffers are reused
        want = reference(pre, image)
        prepared = pre(image)
        transform = pre.into(image, out)

        assert prepared.tensor.dtype == want.dtype
        assert np.array_equal(prepared.tensor, want)
        assert np.array_equal(out, want)
        assert transform == prepared.transform
    tensors = [pre(image).tensor for image in real_images]  # each call returns its own array
    assert all(
        np.array_equal(t, reference(pre, i)) for t, i in zip(tensors, real_images, strict=True)
    )


def test_into_refuses_a_destination_of_the_wrong_shape_or_dtype() -> None:
    pre = Preprocessor(224, 224, np.dtype(np.uint8), normalization="raw")
    image = np.zeros((10, 10, 3), np.uint8)

    with pytest.raises(ValueError, match="input is uint8"):
        pre.into(image, np.zeros((1, 224, 224, 3), np.float32))
    with pytest.raises(ValueError, match="input is uint8"):
        pre.into(image, np.zeros((1, 300, 300, 3), np.uint8))


@pytest.mark.parametrize("name", ["person_ssdlite", "efficientnet_lite0"])
def test_infer_in_place_gives_the_outputs_of_invoke_on_the_same_input(
    name: str, real_images: list[Image], model_paths: dict[str, Path]
) -> None:
    detector = Detector.from_catalogue(name)
    for image in real_images:
        ran = detector.infer(image)
        prepared = detector.preprocessor(image)
        outputs = detector.model.invoke(prepared.tensor)

        assert ran.transform == prepared.transform
        assert len(ran.outputs) == len(outputs)
        for got, want in zip(ran.outputs, outputs, strict=True):
            assert got.dtype == want.dtype
            assert np.array_equal(got, want)


def test_a_held_input_view_fails_the_invoke_with_a_model_error(
    model_paths: dict[str, Path],
) -> None:
    detector = Detector.from_catalogue("efficientnet_lite0")
    held = detector.model.input_buffer()

    with pytest.raises(ModelError, match="could not run"):
        detector.model.invoke_in_place()
    del held
    assert len(detector.model.invoke_in_place()) == 1
