"""Turn an OpenCV BGR image into a model's input tensor, and map boxes back.

The input size, dtype and quantization come from the model; the normalisation is
configured (each catalogued model names its own):

- `"[-1,1]"`: `p / 127.5 - 1` (MediaPipe models),
- `"[0,1]"`: `p / 255`,
- `"raw"`: the pixel value 0..255 itself. For a uint8 input this is the byte as is
  (the model's input quantization already encodes its normalisation, as in
  EfficientNet-Lite); for an int8 input the byte shifted by -128.

With any other normalisation an integer input gets the normalised value quantized with
the model's scale and zero point. Letterboxing keeps the aspect ratio and pads evenly;
`ImageTransform` records the scale and padding so boxes map back to source pixels.

Per frame cost matters (it runs before every invoke): the normalisation is a 256-entry
lookup table built once from the same arithmetic (so the values are identical), and
`into` writes straight into a destination (the interpreter's own input tensor) from
scratch buffers a `Preprocessor` keeps between calls, so one instance is not
thread-safe: like a `Detector`, use one per worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo

__all__ = ["ImageTransform", "Normalization", "Prepared", "Preprocessor"]

Normalization = Literal["[-1,1]", "[0,1]", "raw"]

_SCRATCH_SHAPES = 8  # distinct intermediate shapes kept (region crops vary in size)


class _Scratch:
    """Buffers reused between calls, by shape, and the normalisation's lookup table."""

    __slots__ = ("buffers", "lut")

    def __init__(self) -> None:
        self.buffers: dict[tuple[str, tuple[int, ...]], npt.NDArray[np.uint8]] = {}
        self.lut: npt.NDArray[Any] | None = None

    def get(self, use: str, shape: tuple[int, ...]) -> npt.NDArray[np.uint8]:
        """Return the uint8 buffer of `shape` kept for `use` (contents undefined)."""
        key = (use, shape)
        buffer = self.buffers.get(key)
        if buffer is None:
            if len(self.buffers) >= _SCRATCH_SHAPES:
                self.buffers.clear()
            buffer = self.buffers[key] = np.empty(shape, dtype=np.uint8)
        return buffer


@dataclass(slots=True, frozen=True)
class ImageTransform:
    """How a source image was fitted into the model input: `input = source * scale + pad`."""

    scale_x: float
    scale_y: float
    pad_x: float
    pad_y: float
    input_width: int
    input_height: int
    source_width: int
    source_height: int

    def to_source(self, boxes: npt.NDArray[np.floating[Any]]) -> npt.NDArray[np.float32]:
        """Map `[N, 4]` boxes `x1, y1, x2, y2` normalised to the input into source pixels.

        The result is clipped to the source image, so padding never leaks into a box.
        """
        b = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        xs = (b[:, [0, 2]] * self.input_width - self.pad_x) / self.scale_x
        ys = (b[:, [1, 3]] * self.input_height - self.pad_y) / self.scale_y
        xs = np.clip(xs, 0.0, float(self.source_width))
        ys = np.clip(ys, 0.0, float(self.source_height))
        out = np.stack([xs[:, 0], ys[:, 0], xs[:, 1], ys[:, 1]], axis=1)
        # A degenerate box after clipping keeps its corners ordered.
        out[:, 2] = np.maximum(out[:, 2], out[:, 0])
        out[:, 3] = np.maximum(out[:, 3], out[:, 1])
        return out


@dataclass(slots=True, frozen=True)
class Prepared:
    """A model-ready input tensor and how to map the model's boxes back to the image."""

    tensor: npt.NDArray[Any]
    transform: ImageTransform


@dataclass(slots=True, frozen=True)
class Preprocessor:
    """Resize, convert BGR to RGB, normalise and (de)quantize for one model input."""

    width: int
    height: int
    dtype: np.dtype[Any]
    scale: float = 0.0
    zero_point: int = 0
    normalization: Normalization = "[-1,1]"
    letterbox: bool = True
    pad_value: int = 0
    _scratch: _Scratch = field(default_factory=_Scratch, init=False, compare=False, repr=False)

    @classmethod
    def for_input(
        cls,
        info: TensorInfo,
        *,
        normalization: Normalization,
        letterbox: bool = True,
        pad_value: int = 0,
    ) -> Preprocessor:
        """Build from a model's input tensor, which must be `[1, H, W, 3]` (NHWC)."""
        if len(info.shape) != 4 or info.shape[0] != 1 or info.shape[3] != 3:
            msg = f"input {info.name!r} has shape {list(info.shape)}; expected [1, H, W, 3]"
            raise ModelError(msg)
        if info.dtype not in (np.dtype(np.float32), np.dtype(np.uint8), np.dtype(np.int8)):
            msg = f"input {info.name!r} has dtype {info.dtype}; expected float32, uint8 or int8"
            raise ModelError(msg)
        return cls(
            width=info.shape[2],
            height=info.shape[1],
            dtype=info.dtype,
            scale=info.scale,
            zero_point=info.zero_point,
            normalization=normalization,
            letterbox=letterbox,
            pad_value=pad_value,
        )

    def __call__(self, image: npt.NDArray[np.uint8]) -> Prepared:
        """Return a new input tensor for a BGR (or grey) uint8 image of any size."""
        tensor = np.empty((1, self.height, self.width, 3), dtype=self.dtype)
        return Prepared(tensor, self.into(image, tensor))

    def into(self, image: npt.NDArray[np.uint8], out: npt.NDArray[Any]) -> ImageTransform:
        """Write the input tensor for `image` into `out` (`[1, H, W, 3]`, the input dtype).

        The same values as `__call__` gives, without a copy: `out` may be a view of the
        interpreter's input tensor.
        """
        shape = (1, self.height, self.width, 3)
        if out.shape != shape or out.dtype != self.dtype:
            msg = f"the input is {self.dtype} {list(shape)}, not {out.dtype} {list(out.shape)}"
            raise ValueError(msg)
        if image.ndim == 2:
            image = np.asarray(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR), dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] != 3 or image.size == 0:
            msg = f"expected a BGR image [H, W, 3], got shape {list(image.shape)}"
            raise ValueError(msg)
        resized, transform = self._fit(image)
        new_h, new_w = resized.shape[:2]
        pad_x, pad_y = (self.width - new_w) // 2, (self.height - new_h) // 2
        target = out[0]
        if (new_w, new_h) != (self.width, self.height):
            # One value for every channel: a scalar fill is ~40x faster than a 3-vector's.
            pad = self._normalise(np.full(1, self.pad_value, dtype=np.uint8))[0]
            target[:pad_y] = pad
            target[pad_y + new_h :] = pad
            target[pad_y : pad_y + new_h, :pad_x] = pad
            target[pad_y : pad_y + new_h, pad_x + new_w :] = pad
            target = target[pad_y : pad_y + new_h, pad_x : pad_x + new_w]
        if self.normalization == "raw" and self.dtype == np.uint8:
            _write(cv2.cvtColor(resized, cv2.COLOR_BGR2RGB, dst=_dst(target)), target)
            return transform
        rgb = self._scratch.get("rgb", (new_h, new_w, 3))
        cv2.cvtColor(resized, cv2.COLOR_BGR2RGB, dst=rgb)
        lut = self._scratch.lut
        if lut is None:
            lut = self._scratch.lut = self._normalise(np.arange(256, dtype=np.uint8))
        _write(cv2.LUT(rgb, lut, dst=_dst(target)), target)
        return transform

    def _fit(self, image: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.uint8], ImageTransform]:
        """Return `image` resized for the input (in a scratch buffer), before padding."""
        src_h, src_w = image.shape[:2]
        if self.letterbox:
            s = min(self.width / src_w, self.height / src_h)
            sx = sy = s
            new_w = max(1, min(self.width, round(src_w * s)))
            new_h = max(1, min(self.height, round(src_h * s)))
        else:
            sx, sy = self.width / src_w, self.height / src_h
            new_w, new_h = self.width, self.height
        resized = _shrink_then_resize(image, new_w, new_h, self._scratch)
        pad_x, pad_y = (self.width - new_w) // 2, (self.height - new_h) // 2
        # Scale from the actual resized size, so rounding does not shift boxes.
        transform = ImageTransform(
            scale_x=new_w / src_w if self.letterbox else sx,
            scale_y=new_h / src_h if self.letterbox else sy,
            pad_x=float(pad_x),
            pad_y=float(pad_y),
            input_width=self.width,
            input_height=self.height,
            source_width=src_w,
            source_height=src_h,
        )
        return resized, transform

    def _normalise(self, rgb: npt.NDArray[np.uint8]) -> npt.NDArray[Any]:
        """Return the model's value of each byte in `rgb` (tabulated once for `into`)."""
        if self.normalization == "raw" and self.dtype == np.uint8:
            return rgb
        if self.normalization == "raw" and self.dtype == np.int8:
            return (rgb.astype(np.int16) - 128).astype(np.int8)
        real = rgb.astype(np.float32)
        if self.normalization == "[-1,1]":
            real = real / np.float32(127.5) - np.float32(1.0)
        elif self.normalization == "[0,1]":
            real = real / np.float32(255.0)
        if self.dtype == np.float32:
            return real
        info = np.iinfo(self.dtype)
        scale = self.scale or 1.0
        q = np.round(real / np.float32(scale)) + self.zero_point
        out: npt.NDArray[Any] = np.clip(q, info.min, info.max).astype(self.dtype)
        return out


def _dst(target: npt.NDArray[Any]) -> npt.NDArray[Any] | None:
    """Return `target` when OpenCV can write into it in place (C-contiguous), else None."""
    return target if target.flags.c_contiguous else None


def _write(result: npt.NDArray[Any], target: npt.NDArray[Any]) -> None:
    """Copy an OpenCV result into `target` unless OpenCV already wrote it there."""
    if result is not target:
        target[...] = result


def _shrink_then_resize(
    image: npt.NDArray[np.uint8], width: int, height: int, scratch: _Scratch
) -> npt.NDArray[np.uint8]:
    """Resize with anti-aliasing at a fraction of INTER_AREA's cost, into scratch buffers.

    Halve with `pyrDown` (a Gaussian pyramid step) while the image is at least twice the
    target, then finish bilinearly. INTER_AREA costs ~1.9 ms for 768x576 -> 224 here,
    this ~0.35 ms; plain bilinear (0.1 ms) aliases enough on big shrinks to flip a
    visual-wake-words answer (tests/gateway/inference/test_vision_real_models.py).
    """
    while image.shape[1] >= 2 * width and image.shape[0] >= 2 * height:
        half = scratch.get("half", ((image.shape[0] + 1) // 2, (image.shape[1] + 1) // 2, 3))
        image = np.asarray(cv2.pyrDown(image, dst=half), dtype=np.uint8)
    if (image.shape[1], image.shape[0]) == (width, height):
        return image
    out = scratch.get("resized", (height, width, 3))
    cv2.resize(image, (width, height), dst=out, interpolation=cv2.INTER_LINEAR)
    return out
