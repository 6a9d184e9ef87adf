"""YOLO heads without built-in NMS: v5 `[1, N, 5+C]` and v8 `[1, 4+C, N]`.

Each row is a box `cx, cy, w, h`, then (v5 only) an objectness, then one score per
class; the score of a box is `objectness * class score` (v5) or the class score (v8).
Exports differ in whether boxes are in input pixels or normalised to [0, 1] and in
whether the output is int8/uint8 quantized; both are handled here. The feature axis is
the shorter one (a few dozen features against thousands of candidates), so transposed
exports decode too; with labels, the axis of size 5+C (v5) or 4+C (v8) is the one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs.base import (
    Detection,
    describe_outputs,
    label_for,
    nms,
    to_detections,
)
from gateway.inference.preprocess import ImageTransform

__all__ = ["YoloDecoder"]

Version = Literal["v5", "v8"]
Coords = Literal["auto", "pixels", "normalized"]


class YoloDecoder:
    """Decode a YOLOv5/v8 head with score threshold and class-aware NMS."""

    def __init__(
        self,
        outputs: Sequence[TensorInfo],
        *,
        labels: Sequence[str] = (),
        version: Version | None = None,
        coords: Coords = "auto",
        score_threshold: float = 0.25,
        iou_threshold: float = 0.45,
        max_detections: int = 100,
    ) -> None:
        if len(outputs) != 1 or len(outputs[0].shape) != 3 or outputs[0].shape[0] != 1:
            msg = (
                "the yolo decoder needs one output [1, N, 5+C] (v5) or [1, 4+C, N] (v8); "
                f"the model has: {describe_outputs(outputs)}"
            )
            raise ModelError(msg)
        self.info = outputs[0]
        _, a, b = self.info.shape
        self.labels = tuple(labels)
        self.features_first, self.version = _layout(a, b, len(self.labels), version)
        features = a if self.features_first else b
        first_class = 5 if self.version == "v5" else 4
        self.num_classes = features - first_class
        if self.num_classes < 1:
            msg = f"YOLO{self.version} needs more than {first_class} features, has {features}"
            raise ModelError(msg)
        if self.labels and len(self.labels) != self.num_classes:
            msg = (
                f"the YOLO{self.version} output has {self.num_classes} classes "
                f"but {len(self.labels)} labels were given"
            )
            raise ModelError(msg)
        self.coords = coords
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections

    def decode(
        self, outputs: Sequence[npt.NDArray[Any]], transform: ImageTransform
    ) -> list[Detection]:
        """Return the detections above the score threshold after class-aware NMS."""
        rows = self.info.dequantize(outputs[0])[0]
        if self.features_first:
            rows = rows.T
        # v5 scores are objectness times class probability; v8 has no objectness.
        class_scores = rows[:, 5:] * rows[:, 4:5] if self.version == "v5" else rows[:, 4:]
        classes = np.argmax(class_scores, axis=1)
        scores = class_scores[np.arange(len(rows)), classes].astype(np.float32)
        keep = scores >= self.score_threshold
        if not keep.any():
            return []
        rows, classes, scores = rows[keep], classes[keep], scores[keep]
        boxes = self._normalized_xyxy(rows[:, :4], transform)
        kept = nms(
            boxes,
            scores,
            self.iou_threshold,
            classes=classes,
            max_detections=self.max_detections,
        )
        names = [label_for(self.labels, int(c)) for c in classes[kept]]
        return to_detections(boxes[kept], scores[kept], names, transform)

    def _normalized_xyxy(
        self, cxcywh: npt.NDArray[np.float32], transform: ImageTransform
    ) -> npt.NDArray[np.float32]:
        pixels = self.coords == "pixels" or (
            self.coords == "auto" and float(np.abs(cxcywh).max(initial=0.0)) > 2.0
        )
        xywh = cxcywh.astype(np.float32)
        if pixels:
            size = np.array([transform.input_width, transform.input_height] * 2, dtype=np.float32)
            xywh = xywh / size
        half = xywh[:, 2:4] / 2
        return np.concatenate([xywh[:, 0:2] - half, xywh[:, 0:2] + half], axis=1)


def _layout(a: int, b: int, num_labels: int, version: Version | None) -> tuple[bool, Version]:
    """Return (features first?, version): by the label count when given, else by shape."""
    versions: tuple[Version, ...] = (version,) if version else ("v5", "v8")
    if num_labels:
        for features_first, features in ((False, b), (True, a)):
            for v in versions:
                if features == num_labels + (5 if v == "v5" else 4):
                    return features_first, v
    # Without labels: a few dozen features against thousands of candidates.
    features_first = a < b
    return features_first, version or ("v8" if features_first else "v5")
