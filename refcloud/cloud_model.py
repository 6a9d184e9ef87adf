"""The reference cloud's hard-case judge: DeepLabv3 (21 VOC classes) on the edge's crop.

Why this model: the edge runs visual wake words (96x96, person / no person), which
scores motion blobs of tape and cones as people; per-pixel segmentation is a larger and
different model, so it judges the same crop meaningfully (MODELS.md measured DeepLabv3
person masks at recall ~0.90 / precision ~0.95 on vtest.avi tiles). OpenCV 5's wheel
has no `HOGDescriptor`, so the HOG people detector is not an option here.

The answer is the crop's dominant foreground class by pixel count (VOC names, with
`person` as the edge calls it) and its confidence: the mean softmax probability of that
class over the pixels it wins. Under `min_fraction` of foreground, the answer is
`background`. Output tensors: `label` (BYTES), `score` (FP32), `fraction` (FP32).
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import numpy.typing as npt

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from gateway.inference.catalog import labels_path, resolve
from gateway.inference.interpreter import TFLiteModel
from gateway.inference.outputs import load_labels
from refcloud import read_model_image

__all__ = ["DEFAULT_CATALOGUE_MODEL", "SegmentationJudge"]

DEFAULT_CATALOGUE_MODEL = "deeplabv3"
_BACKGROUND = 0


class SegmentationJudge:
    """A sync `ModelFn` for `refcloud`: judge a crop with a segmentation model.

    Thread-safe (one interpreter behind a lock): the server runs sync models in worker
    threads.
    """

    def __init__(
        self,
        *,
        name: str = "person",
        model_path: Path | None = None,
        data_dir: Path | None = None,
        min_fraction: float = 0.1,
        num_threads: int = 2,
    ) -> None:
        path = model_path or resolve(DEFAULT_CATALOGUE_MODEL, data_dir)
        self.name = name
        self._model = TFLiteModel(path, num_threads=num_threads)
        shape = self._model.input.shape
        self._size = (int(shape[2]), int(shape[1]))  # (width, height) for cv2.resize
        labels = load_labels(labels_path(path)) if labels_path(path).is_file() else ()
        self._labels = tuple(label.replace(" ", "_") for label in labels)
        self._min_fraction = min_fraction
        self._lock = threading.Lock()

    def __call__(self, request: InferenceRequest) -> InferenceResponse:
        """Judge the request's image."""
        image = read_model_image(request)
        label, score, fraction = self.judge(image)
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                ResponseOutput.from_strings("label", [label]),
                ResponseOutput.from_numpy("score", np.asarray([score], dtype=np.float32)),
                ResponseOutput.from_numpy("fraction", np.asarray([fraction], dtype=np.float32)),
            ],
        )

    def judge(self, image: npt.NDArray[np.uint8]) -> tuple[str, float, float]:
        """Return (label, confidence, pixel fraction) for a BGR image."""
        import cv2

        rgb = cv2.cvtColor(cv2.resize(image, self._size), cv2.COLOR_BGR2RGB)
        tensor = (rgb.astype(np.float32) / 127.5 - 1.0)[np.newaxis]
        with self._lock:
            (logits,) = self._model.invoke(tensor)
        logits = logits[0].astype(np.float32)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        probs = exp / exp.sum(axis=-1, keepdims=True)
        winners = probs.argmax(axis=-1)
        counts = np.bincount(winners.reshape(-1), minlength=probs.shape[-1])
        counts[_BACKGROUND] = 0
        best = int(counts.argmax())
        fraction = float(counts[best]) / winners.size
        if fraction < self._min_fraction:
            background = winners == _BACKGROUND
            return "background", float(probs[..., _BACKGROUND][background].mean()), fraction
        return self._label(best), float(probs[..., best][winners == best].mean()), fraction

    def _label(self, index: int) -> str:
        return self._labels[index] if index < len(self._labels) else str(index)
