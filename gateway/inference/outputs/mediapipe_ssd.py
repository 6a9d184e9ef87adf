"""MediaPipe SSD detectors: BlazeFace (short and full range) and the BlazePose detector.

The models output raw box regressions against a fixed grid of anchors plus one logit
per anchor. The anchors follow MediaPipe's `SsdAnchorsCalculator` with
`fixed_anchor_size: true`: every anchor is 1x1 at a cell centre, and a layer with an
interpolated aspect ratio contributes 2 anchors per cell; consecutive layers with the
same stride share one grid. The box decode, sigmoid and score threshold follow its
`TensorsToDetectionsCalculator`; overlapping boxes are then removed by plain NMS.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs.base import (
    Detection,
    FloatArray,
    describe_outputs,
    nms,
    to_detections,
)
from gateway.inference.preprocess import ImageTransform

__all__ = ["ANCHOR_PRESETS", "AnchorPreset", "MediapipeSsdDecoder", "generate_anchors"]

BoxSource = Literal["regressor", "keypoints"]


@dataclass(slots=True, frozen=True)
class AnchorPreset:
    """The anchor grid of one MediaPipe SSD model."""

    input_size: int
    strides: tuple[int, ...]
    anchors_per_layer: int  # 2 with an interpolated aspect ratio, else 1
    box_source: BoxSource = "regressor"


ANCHOR_PRESETS: dict[str, AnchorPreset] = {
    "blazeface_short": AnchorPreset(128, (8, 16, 16, 16), 2),
    "blazeface_full": AnchorPreset(192, (4,), 1),
    # The BlazePose detector's own box is the face; keypoint 0 is the hip centre and
    # keypoint 1 a point whose distance from it is the body's half size.
    "blazepose": AnchorPreset(224, (8, 16, 32, 32, 32), 2, box_source="keypoints"),
}


def generate_anchors(preset: AnchorPreset) -> FloatArray:
    """Return `[N, 2]` anchor centres (x, y), normalised, in the model's output order."""
    centres: list[FloatArray] = []
    layer = 0
    while layer < len(preset.strides):
        stride = preset.strides[layer]
        same = layer
        while same < len(preset.strides) and preset.strides[same] == stride:
            same += 1
        per_cell = (same - layer) * preset.anchors_per_layer
        size = math.ceil(preset.input_size / stride)
        ys, xs = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        grid = np.stack([(xs + 0.5) / size, (ys + 0.5) / size], axis=-1).reshape(-1, 2)
        centres.append(np.repeat(grid, per_cell, axis=0).astype(np.float32))
        layer = same
    return np.concatenate(centres)


class MediapipeSsdDecoder:
    """Decode `[1, N, 4+2K]` regressors and `[1, N, 1]` logits against SSD anchors."""

    def __init__(
        self,
        outputs: Sequence[TensorInfo],
        *,
        anchors: str | None = None,
        labels: Sequence[str] = ("face",),
        score_threshold: float = 0.5,
        iou_threshold: float = 0.3,
        max_detections: int = 100,
    ) -> None:
        self._regressors, self._scores = _find_outputs(outputs)
        n = outputs[self._regressors].shape[1]
        self.preset = _pick_preset(anchors, n, outputs)
        self.anchors = generate_anchors(self.preset)
        self.label = labels[0] if labels else "object"
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self._outputs = tuple(outputs)

    def decode(
        self, outputs: Sequence[npt.NDArray[Any]], transform: ImageTransform
    ) -> list[Detection]:
        """Return detections above the score threshold, after NMS, in source pixels."""
        raw = self._outputs[self._regressors].dequantize(outputs[self._regressors])[0]
        logits = self._outputs[self._scores].dequantize(outputs[self._scores])[0, :, 0]
        # Clipped like MediaPipe's sigmoid (and within float32's exp range).
        scores = (1.0 / (1.0 + np.exp(-np.clip(logits, -80.0, 80.0)))).astype(np.float32)
        keep = scores >= self.score_threshold
        if not keep.any():
            return []
        raw, scores, anchors = raw[keep], scores[keep], self.anchors[keep]
        boxes = self._boxes(raw, anchors)
        kept = nms(boxes, scores, self.iou_threshold, max_detections=self.max_detections)
        return to_detections(boxes[kept], scores[kept], [self.label] * len(kept), transform)

    def _boxes(self, raw: FloatArray, anchors: FloatArray) -> FloatArray:
        size = np.float32(self.preset.input_size)
        if self.preset.box_source == "keypoints":
            centre = raw[:, 4:6] / size + anchors
            edge = raw[:, 6:8] / size + anchors
            half = np.linalg.norm(edge - centre, axis=1, keepdims=True)
            return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)
        centre = raw[:, 0:2] / size + anchors
        half = raw[:, 2:4] / size / 2
        return np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)


def _find_outputs(outputs: Sequence[TensorInfo]) -> tuple[int, int]:
    """Return the indices of the regressor and score outputs, or raise `ModelError`."""
    regressors = [
        i
        for i, o in enumerate(outputs)
        if len(o.shape) == 3 and o.shape[0] == 1 and o.shape[2] >= 4
    ]
    scores = [
        i
        for i, o in enumerate(outputs)
        if len(o.shape) == 3 and o.shape[0] == 1 and o.shape[2] == 1
    ]
    if len(outputs) != 2 or len(regressors) != 1 or len(scores) != 1:
        msg = (
            "the mediapipe_ssd decoder needs two outputs, regressors [1, N, >=4] and scores "
            f"[1, N, 1]; the model has: {describe_outputs(outputs)}"
        )
        raise ModelError(msg)
    r, s = regressors[0], scores[0]
    if outputs[r].shape[1] != outputs[s].shape[1]:
        msg = f"regressors and scores disagree on the anchor count: {describe_outputs(outputs)}"
        raise ModelError(msg)
    return r, s


def _pick_preset(name: str | None, n: int, outputs: Sequence[TensorInfo]) -> AnchorPreset:
    """Return the named preset, or the one whose anchor count is `n`; check it fits."""
    if name is not None:
        if name not in ANCHOR_PRESETS:
            msg = f"unknown anchors {name!r}; known: {', '.join(ANCHOR_PRESETS)}"
            raise ModelError(msg)
        candidates = {name: ANCHOR_PRESETS[name]}
    else:
        candidates = ANCHOR_PRESETS
    for preset_name, preset in candidates.items():
        if len(generate_anchors(preset)) == n:
            if preset.box_source == "keypoints" and max(o.shape[2] for o in outputs) < 8:
                msg = f"anchors {preset_name!r} need 2 keypoints in the regressors"
                raise ModelError(msg)
            return preset
    msg = (
        f"no anchor layout ({', '.join(candidates)}) yields {n} anchors; "
        f"the model has: {describe_outputs(outputs)}"
    )
    raise ModelError(msg)
