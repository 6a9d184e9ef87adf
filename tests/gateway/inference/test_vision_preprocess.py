"""Preprocessing: letterbox geometry, BGR->RGB, normalisation and quantization."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.preprocess import Preprocessor


def input_info(dtype: type, scale: float = 0.0, zero_point: int = 0) -> TensorInfo:
    return TensorInfo(0, "input", (1, 128, 128, 3), np.dtype(dtype), scale, zero_point)


def test_letterbox_pads_evenly_and_maps_boxes_back() -> None:
    pre = Preprocessor.for_input(input_info(np.float32), normalization="[-1,1]")
    image = np.full((100, 200, 3), 255, np.uint8)  # 2:1 -> 128x64 with 32 px bars

    prepared = pre(image)

    t = prepared.transform
    assert (t.scale_x, t.scale_y, t.pad_x, t.pad_y) == (0.64, 0.64, 0.0, 32.0)
    tensor = prepared.tensor
    assert tensor.shape == (1, 128, 128, 3)
    assert tensor.dtype == np.float32
    assert tensor[0, 0, 0, 0] == -1.0  # padding is black
    assert tensor[0, 64, 64, 0] == 1.0  # white in [-1, 1]
    # The whole non-padded area maps back to the whole source image.
    back = t.to_source(np.array([[0.0, 0.25, 1.0, 0.75]]))
    assert back.tolist() == [[0.0, 0.0, 200.0, 100.0]]
    # Boxes in the padding are clipped to the image.
    assert t.to_source(np.array([[0.0, 0.0, 0.5, 0.1]])).tolist() == [[0.0, 0.0, 100.0, 0.0]]


def test_stretch_without_letterbox() -> None:
    pre = Preprocessor.for_input(input_info(np.float32), normalization="[0,1]", letterbox=False)

    t = pre(np.zeros((100, 200, 3), np.uint8)).transform

    assert (t.scale_x, t.scale_y, t.pad_x, t.pad_y) == (0.64, 1.28, 0.0, 0.0)


def test_bgr_becomes_rgb_and_raw_keeps_pixels() -> None:
    image = np.zeros((128, 128, 3), np.uint8)
    image[..., 0] = 200  # blue in OpenCV's BGR

    as_float = Preprocessor.for_input(input_info(np.float32), normalization="raw")(image).tensor
    as_uint8 = Preprocessor.for_input(input_info(np.uint8, 0.0125, 131), normalization="raw")(
        image
    ).tensor

    assert as_float[0, 0, 0].tolist() == [0.0, 0.0, 200.0]
    assert as_uint8.dtype == np.uint8
    assert as_uint8[0, 0, 0].tolist() == [0, 0, 200]


def test_int8_input_is_quantized_from_the_normalised_value() -> None:
    pre = Preprocessor.for_input(input_info(np.int8, 1 / 128, 0), normalization="[-1,1]")
    image = np.zeros((128, 128, 3), np.uint8)
    image[0, 0] = 255

    tensor = pre(image).tensor

    assert tensor.dtype == np.int8
    assert tensor[0, 0, 0].tolist() == [127, 127, 127]  # 1.0 / (1/128) = 128 -> clipped
    assert tensor[0, 1, 1].tolist() == [-128, -128, -128]


def test_grey_images_are_accepted_and_bad_inputs_refused() -> None:
    pre = Preprocessor.for_input(input_info(np.float32), normalization="[0,1]")

    assert pre(np.zeros((50, 60), np.uint8)).tensor.shape == (1, 128, 128, 3)
    with pytest.raises(ModelError, match=r"expected \[1, H, W, 3\]"):
        Preprocessor.for_input(
            TensorInfo(0, "x", (1, 96, 96), np.dtype(np.float32), 0.0, 0), normalization="raw"
        )
