"""Decoders: a model's raw outputs -> `Detection`s in source pixels, picked by `type`.

Each decoder checks at construction that the model's outputs fit it and raises
`ModelError` otherwise, so a wrong model/decoder pairing fails at start, not per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, get_args

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs.base import Decoder, Detection, load_labels, nms
from gateway.inference.outputs.classifier import ClassifierDecoder
from gateway.inference.outputs.mediapipe_ssd import MediapipeSsdDecoder
from gateway.inference.outputs.ssd_raw import SsdRawDecoder
from gateway.inference.outputs.tflite_ssd import TFLiteSsdDecoder
from gateway.inference.outputs.yolo import YoloDecoder

__all__ = [
    "ClassifierDecoder",
    "Decoder",
    "DecoderType",
    "Detection",
    "MediapipeSsdDecoder",
    "SsdRawDecoder",
    "TFLiteSsdDecoder",
    "YoloDecoder",
    "load_labels",
    "make_output_decoder",
    "nms",
]

DecoderType = Literal["mediapipe_ssd", "tflite_ssd", "ssd_raw", "yolo", "classifier"]

_DECODERS: dict[str, Any] = {
    "mediapipe_ssd": MediapipeSsdDecoder,
    "tflite_ssd": TFLiteSsdDecoder,
    "ssd_raw": SsdRawDecoder,
    "yolo": YoloDecoder,
    "classifier": ClassifierDecoder,
}


def make_output_decoder(type_: str, outputs: Sequence[TensorInfo], **options: Any) -> Decoder:
    """Return the decoder named `type_` for a model with `outputs`, or raise `ModelError`."""
    try:
        cls = _DECODERS[type_]
    except KeyError:
        msg = f"unknown decoder type {type_!r}; known: {', '.join(get_args(DecoderType))}"
        raise ModelError(msg) from None
    try:
        decoder: Decoder = cls(outputs, **options)
    except TypeError as exc:
        msg = f"bad options for the {type_} decoder: {exc}"
        raise ModelError(msg) from exc
    return decoder
