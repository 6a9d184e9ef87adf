"""Decoders: a model's raw outputs -> `Detection`s in source pixels, picked by `type`.

Each decoder checks at construction that the model's outputs fit it and raises
`ModelError` otherwise, so a wrong model/decoder pairing fails at start, not per frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs.base import Decoder, Detection, load_labels, nms
from gateway.inference.outputs.classifier import ClassifierDecoder
from gateway.inference.outputs.mediapipe_ssd import MediapipeSsdDecoder
from gateway.inference.outputs.ssd_raw import SsdRawDecoder
from gateway.inference.outputs.tflite_ssd import TFLiteSsdDecoder
from gateway.inference.outputs.yolo import YoloDecoder

__all__ = [
    "DECODERS",
    "ClassifierDecoder",
    "Decoder",
    "Detection",
    "MediapipeSsdDecoder",
    "SsdRawDecoder",
    "TFLiteSsdDecoder",
    "YoloDecoder",
    "load_labels",
    "make_output_decoder",
    "nms",
]

DECODERS: dict[str, Any] = {
    "mediapipe_ssd": MediapipeSsdDecoder,
    "tflite_ssd": TFLiteSsdDecoder,
    "ssd_raw": SsdRawDecoder,
    "yolo": YoloDecoder,
    "classifier": ClassifierDecoder,
}
"""Decoder classes by the `type` a config names them with: the one list of names (the
config's `models[].decoder` accepts exactly these keys)."""


def make_output_decoder(type_: str, outputs: Sequence[TensorInfo], **options: Any) -> Decoder:
    """Return the decoder named `type_` for a model with `outputs`, or raise `ModelError`."""
    try:
        cls = DECODERS[type_]
    except KeyError:
        msg = f"unknown decoder type {type_!r}; known: {', '.join(DECODERS)}"
        raise ModelError(msg) from None
    try:
        decoder: Decoder = cls(outputs, **options)
    except TypeError as exc:
        msg = f"bad options for the {type_} decoder: {exc}"
        raise ModelError(msg) from exc
    return decoder
