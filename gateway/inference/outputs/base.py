"""What every decoder shares: the `Detection` it returns, NMS, labels and shape checks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference.geometry import Box
from gateway.inference.interpreter import TensorInfo
from gateway.inference.preprocess import ImageTransform

__all__ = [
    "Decoder",
    "Detection",
    "describe_outputs",
    "label_for",
    "load_labels",
    "nms",
    "to_detections",
]

FloatArray = npt.NDArray[np.float32]


@dataclass(slots=True, frozen=True)
class Detection:
    """One thing a model found: label, score in [0, 1] and box in source pixels."""

    label: str
    score: float
    box: Box


class Decoder(Protocol):
    """Turns a model's raw outputs into detections in source-image pixels."""

    def decode(
        self, outputs: Sequence[npt.NDArray[Any]], transform: ImageTransform
    ) -> list[Detection]:
        """Return the detections in the outputs of one `invoke`."""
        ...


def describe_outputs(outputs: Sequence[TensorInfo]) -> str:
    """Return the output shapes for an error message, e.g. `[1, 896, 16], [1, 896, 1]`."""
    return ", ".join(f"{o.name!r} {list(o.shape)}" for o in outputs) or "none"


def load_labels(labels: Sequence[str] | Path | str | None) -> tuple[str, ...]:
    """Return labels from a sequence or a one-label-per-line file (empty when None)."""
    if labels is None:
        return ()
    if isinstance(labels, Path | str):
        try:
            text = Path(labels).read_text(encoding="utf-8")
        except OSError as exc:
            msg = f"cannot read labels file {labels}: {exc}"
            raise ModelError(msg) from exc
        return tuple(line.strip() for line in text.splitlines() if line.strip())
    return tuple(labels)


def label_for(labels: Sequence[str], class_id: int) -> str:
    """Return the label of `class_id`, or the id as text when there is no such label."""
    return labels[class_id] if 0 <= class_id < len(labels) else str(class_id)


def nms(
    boxes: FloatArray,
    scores: FloatArray,
    iou_threshold: float,
    *,
    classes: npt.NDArray[np.integer[Any]] | None = None,
    max_detections: int = 100,
) -> npt.NDArray[np.intp]:
    """Return indices of the boxes kept by greedy non-maximum suppression, best first.

    `boxes` is `[N, 4]` as `x1, y1, x2, y2`. With `classes`, boxes of different classes
    never suppress each other.
    """
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.intp)
    b = boxes.astype(np.float32)
    if classes is not None:
        # Shift each class to its own region so that one pass handles all classes.
        offset = (float(b.max()) + 1.0) * classes.astype(np.float32)
        b = b + offset[:, None]
    areas = np.clip(b[:, 2] - b[:, 0], 0, None) * np.clip(b[:, 3] - b[:, 1], 0, None)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and len(keep) < max_detections:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(b[i, 2], b[rest, 2]) - np.maximum(b[i, 0], b[rest, 0]), 0, None)
        h = np.clip(np.minimum(b[i, 3], b[rest, 3]) - np.maximum(b[i, 1], b[rest, 1]), 0, None)
        inter = w * h
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-9)
        order = rest[iou <= iou_threshold]
    return np.asarray(keep, dtype=np.intp)


def to_detections(
    boxes_normalized: FloatArray,
    scores: FloatArray,
    labels: Sequence[str],
    transform: ImageTransform,
) -> list[Detection]:
    """Map `[N, 4]` input-normalised boxes to source pixels and build detections."""
    pixels = transform.to_source(boxes_normalized)
    return [
        Detection(label, float(score), Box(*(float(v) for v in px)))
        for label, score, px in zip(labels, scores, pixels, strict=True)
    ]
