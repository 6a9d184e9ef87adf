"""The TFLite detection post-process quadruple: boxes, classes, scores, count.

SSD MobileNet and EfficientDet-Lite exports end in `TFLite_Detection_PostProcess`,
which has already applied NMS: boxes `[1, N, 4]` as normalised `ymin, xmin, ymax,
xmax`, classes `[1, N]` (float class ids), scores `[1, N]` and count `[1]`. TF1
exports list them in that order; TF2 exports reorder them, so the two `[1, N]`
outputs are told apart by name when the names say, else by the TF1 order.
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

__all__ = ["TFLiteSsdDecoder"]


class TFLiteSsdDecoder:
    """Decode the post-processed SSD quadruple; `label_offset` skips a background label."""

    def __init__(
        self,
        outputs: Sequence[TensorInfo],
        *,
        labels: Sequence[str] = (),
        score_threshold: float = 0.5,
        label_offset: int = 0,
    ) -> None:
        self._boxes, self._classes, self._scores, self._count = _find_outputs(outputs)
        self.labels = tuple(labels)
        self.score_threshold = score_threshold
        self.label_offset = label_offset

    def decode(
        self, outputs: Sequence[npt.NDArray[Any]], transform: ImageTransform
    ) -> list[Detection]:
        """Return the detections above the score threshold, best first."""
        count = int(np.asarray(outputs[self._count]).reshape(-1)[0])
        boxes = np.asarray(outputs[self._boxes], dtype=np.float32)[0, :count]
        classes = np.asarray(outputs[self._classes]).reshape(-1)[:count]
        scores = np.asarray(outputs[self._scores], dtype=np.float32).reshape(-1)[:count]
        keep = np.flatnonzero(scores >= self.score_threshold)
        keep = keep[np.argsort(-scores[keep], kind="stable")]
        xyxy = boxes[keep][:, [1, 0, 3, 2]]  # ymin, xmin, ymax, xmax -> x1, y1, x2, y2
        names = [label_for(self.labels, int(c) + self.label_offset) for c in classes[keep]]
        return to_detections(xyxy, scores[keep], names, transform)


def _find_outputs(outputs: Sequence[TensorInfo]) -> tuple[int, int, int, int]:
    """Return the indices of boxes, classes, scores and count, or raise `ModelError`."""
    boxes = [i for i, o in enumerate(outputs) if len(o.shape) == 3 and o.shape[2] == 4]
    counts = [i for i, o in enumerate(outputs) if o.shape in ((1,), ())]
    pairs = [i for i, o in enumerate(outputs) if len(o.shape) == 2]
    if len(outputs) != 4 or len(boxes) != 1 or len(counts) != 1 or len(pairs) != 2:
        msg = (
            "the tflite_ssd decoder needs the 4 post-process outputs boxes [1, N, 4], "
            f"classes [1, N], scores [1, N], count [1]; the model has: {describe_outputs(outputs)}"
        )
        raise ModelError(msg)
    n = outputs[boxes[0]].shape[1]
    if any(outputs[i].shape[1] != n for i in pairs):
        msg = f"boxes, classes and scores disagree on N: {describe_outputs(outputs)}"
        raise ModelError(msg)
    first, second = pairs
    if "score" in outputs[first].name.lower() or "class" in outputs[second].name.lower():
        first, second = second, first
    return boxes[0], first, second, counts[0]
