"""The reference cloud's naming judge: EfficientNet-Lite0 (ImageNet) names an unknown object.

The edge sends a moving object it cannot label as a hard case of kind `unknown` (label
`unknown`); the uplink routes those to this model (`cloud.unknown_model`). The crop is
classified into ImageNet's 1000 classes and the probabilities summed per coarse label
(`refcloud.coarse_labels`: vehicle, animal, person); the best one is the answer when its
sum reaches `min_score`, else `other` (the gateway then keeps the object unannounced).

Answers `label` (BYTES) and `score` (FP32: the summed probability of that label), the
outputs `cloud_bridge.uplink.hard_cases.verdict_from_response` reads, and `top_class`
(BYTES: the single most likely ImageNet class, for people reading the verdicts).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from gateway.inference.detector import Detector
from gateway.inference.outputs import ClassifierDecoder
from refcloud import read_model_image
from refcloud.coarse_labels import OTHER, coarse_indices

__all__ = ["NAMING_MODEL", "Name", "NamingJudge"]

NAMING_MODEL = "efficientnet_lite0"
"""The model-store name of the classifier (`edgegw models fetch efficientnet_lite0`)."""


@dataclass(slots=True, frozen=True)
class Name:
    """What the judge made of a crop."""

    label: str
    score: float
    top_class: str
    """The most likely ImageNet class."""


class NamingJudge:
    """A sync OIP model for `refcloud`: name a crop vehicle / animal / person / other.

    Thread-safe (one interpreter behind a lock).
    """

    def __init__(self, *, name: str = "objects", min_score: float = 0.3, threads: int = 2):
        self.name = name
        self.min_score = min_score
        self._detector = Detector.from_catalogue(NAMING_MODEL, num_threads=threads)
        decoder = self._detector.decoder
        assert isinstance(decoder, ClassifierDecoder)
        self._decoder = decoder
        self._groups = {
            label: np.asarray(ix, np.intp) for label, ix in coarse_indices(decoder.labels).items()
        }
        self._lock = threading.Lock()
        self.calls = 0

    def name_crop(self, image: npt.NDArray[np.uint8]) -> Name:
        """Name a BGR crop."""
        with self._lock:
            tensor = self._detector.preprocessor(image).tensor
            probs = self._decoder.probabilities(self._detector.model.invoke(tensor))
            self.calls += 1
        sums = {label: float(probs[ix].sum()) for label, ix in self._groups.items()}
        best = max(sums, key=lambda k: sums[k])
        top = self._decoder.labels[int(np.argmax(probs))]
        if sums[best] < self.min_score:
            return Name(OTHER, round(1.0 - sum(sums.values()), 4), top)
        return Name(best, round(sums[best], 4), top)

    def __call__(self, request: InferenceRequest) -> InferenceResponse:
        """Name the request's image."""
        image = read_model_image(request)
        named = self.name_crop(image)
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                ResponseOutput.from_strings("label", [named.label]),
                ResponseOutput.from_numpy("score", np.asarray([named.score], dtype=np.float32)),
                ResponseOutput.from_strings("top_class", [named.top_class]),
            ],
        )
