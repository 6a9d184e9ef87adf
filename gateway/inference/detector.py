"""A model, its preprocessing and its decoder, as one `detect(image) -> detections` call.

Not thread-safe (it owns one interpreter): build one `Detector` per worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference.catalog import CATALOGUE, ModelSpec, check_tensors, labels_path, resolve
from gateway.inference.interpreter import TFLiteModel
from gateway.inference.outputs import Decoder, Detection, load_labels, make_output_decoder
from gateway.inference.preprocess import ImageTransform, Normalization, Preprocessor

__all__ = ["Detector", "Inference"]


@dataclass(slots=True, frozen=True)
class Inference:
    """The raw outputs of one invoke and how the input was fitted from the image."""

    outputs: list[npt.NDArray[Any]]
    transform: ImageTransform


class Detector:
    """Run one model on BGR images and return detections in source pixels."""

    def __init__(self, model: TFLiteModel, preprocessor: Preprocessor, decoder: Decoder) -> None:
        self.model = model
        self.preprocessor = preprocessor
        self.decoder = decoder

    @classmethod
    def from_file(
        cls,
        path: Path | str,
        *,
        decoder: str,
        normalization: Normalization,
        labels: Sequence[str] | Path | str | None = None,
        letterbox: bool = True,
        num_threads: int = 1,
        delegate: str | None = None,
        entry: ModelSpec | None = None,
        **decoder_options: Any,
    ) -> Detector:
        """Load a .tflite file; labels default to `<stem>.labels.txt` beside it if present.

        With `entry` (the file is a catalogued model), its tensor shapes are checked
        against the entry's and its labels are the default.
        """
        path = Path(path)
        if labels is None and labels_path(path).is_file():
            labels = labels_path(path)
        if labels is None and entry is not None and entry.labels:
            labels = entry.labels
        model = TFLiteModel(path, num_threads=num_threads, delegate=delegate)
        if entry is not None:
            check_tensors(entry, model)
        pre = Preprocessor.for_input(model.input, normalization=normalization, letterbox=letterbox)
        names = load_labels(labels)
        if names:
            decoder_options.setdefault("labels", names)
        return cls(model, pre, make_output_decoder(decoder, model.outputs, **decoder_options))

    @classmethod
    def from_catalogue(
        cls,
        name: str,
        data_dir: Path | None = None,
        *,
        num_threads: int = 1,
        delegate: str | None = None,
        **decoder_options: Any,
    ) -> Detector:
        """Load a fetched catalogue model with its own decoder, normalisation and labels."""
        spec = CATALOGUE.get(name)
        if spec is None:
            msg = f"unknown model {name!r}; the catalogue has: {', '.join(sorted(CATALOGUE))}"
            raise ModelError(msg)
        if spec.decoder is None:
            msg = f"model {name!r} ({spec.task}) has no detection decoder in edgegw yet"
            raise ModelError(msg)
        path = resolve(name, data_dir)
        options = {**spec.decoder_options, **decoder_options}
        return cls.from_file(
            path,
            decoder=spec.decoder,
            normalization=spec.normalization,
            letterbox=spec.letterbox,
            num_threads=num_threads,
            delegate=delegate,
            entry=spec,
            **options,
        )

    def infer(self, image: npt.NDArray[np.uint8]) -> Inference:
        """Preprocess a BGR image straight into the model's input tensor and run it."""
        transform = self.preprocessor.into(image, self.model.input_buffer())
        return Inference(self.model.invoke_in_place(), transform)

    def detect(self, image: npt.NDArray[np.uint8]) -> list[Detection]:
        """Return the detections in a BGR image (a whole frame or a region crop)."""
        ran = self.infer(image)
        return self.decoder.decode(ran.outputs, ran.transform)
