"""Image classifiers (EfficientNet-Lite, visual wake words): top-k labels for a region.

A classifier says what the whole input is, so each result's box is the whole region
that was classified, in source pixels. Scores are probabilities: a quantized (uint8)
output is a softmax already and is only dequantized; a float output that is not a
distribution (values outside [0, 1] or not summing to 1) is taken as logits.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs.base import Detection, describe_outputs, label_for, to_detections
from gateway.inference.preprocess import ImageTransform

__all__ = ["ClassifierDecoder"]

_WHOLE_INPUT = np.array([[0.0, 0.0, 1.0, 1.0]], dtype=np.float32)


class ClassifierDecoder:
    """Decode one `[1, C]` output into the `top_k` classes scoring at least the threshold."""

    def __init__(
        self,
        outputs: Sequence[TensorInfo],
        *,
        labels: Sequence[str] = (),
        top_k: int = 1,
        score_threshold: float = 0.0,
    ) -> None:
        if len(outputs) != 1 or len(outputs[0].shape) != 2 or outputs[0].shape[0] != 1:
            msg = (
                "the classifier decoder needs one output of shape [1, C]; "
                f"the model has: {describe_outputs(outputs)}"
            )
            raise ModelError(msg)
        self.info = outputs[0]
        classes = self.info.shape[1]
        if labels and len(labels) != classes:
            msg = f"the model has {classes} classes but {len(labels)} labels were given"
            raise ModelError(msg)
        self.labels = tuple(labels)
        self.top_k = top_k
        self.score_threshold = score_threshold

    def probabilities(self, outputs: Sequence[npt.NDArray[Any]]) -> npt.NDArray[np.float32]:
        """Return the `[C]` class probabilities of one invoke."""
        values: npt.NDArray[np.float32] = self.info.dequantize(outputs[0])[0]
        # A quantized softmax loses the many tiny probabilities (sums well below 1), so an
        # integer output is taken as probabilities as it is.
        in_unit = values.min() >= 0.0 and values.max() <= 1.0
        if self.info.quantized or (in_unit and abs(float(values.sum()) - 1.0) < 0.05):
            return values
        shifted = np.exp(values - values.max())
        probs: npt.NDArray[np.float32] = (shifted / shifted.sum()).astype(np.float32)
        return probs

    def decode(
        self, outputs: Sequence[npt.NDArray[Any]], transform: ImageTransform
    ) -> list[Detection]:
        """Return the best `top_k` classes (at least the threshold), best first."""
        probs = self.probabilities(outputs)
        order = np.argsort(-probs, kind="stable")[: self.top_k]
        order = order[probs[order] >= self.score_threshold]
        names = [label_for(self.labels, int(i)) for i in order]
        boxes = np.repeat(_WHOLE_INPUT, len(order), axis=0)
        return to_detections(boxes, probs[order], names, transform)
