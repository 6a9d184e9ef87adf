"""Raw SSD heads, decoded in numpy: TF Object Detection API anchors, box coder and NMS.

A TF1 SSD graph cut before its postprocessor (as the bundled `person_ssdlite` is) gives
box encodings `[1, N, 4]` (`ty, tx, th, tw` against N anchors) and class scores
`[1, N, C]` (already through a sigmoid; column 0 is the background unless
`background=False`; `labels` name the columns after it). This decoder rebuilds what
the cut-off postprocessor did:

- anchors from the OD API's `ssd_anchor_generator` (`create_ssd_anchors`): per layer a
  scale linearly spaced from `min_scale` to `max_scale`, boxes of each aspect ratio plus
  one at the interpolated scale `sqrt(s_i * s_i+1)`; the lowest layer, when
  `reduce_boxes_in_lowest_layer`, has only (0.1, 1), (s_0, 2), (s_0, 0.5). Anchors are
  ordered y, x, anchor over the feature maps, centred in their cells;
- the Faster R-CNN box coder with scales `ty, tx, th, tw` = 10, 10, 5, 5;
- per class: score threshold, greedy NMS on the decoded boxes, then clipping to the
  image and dropping boxes left empty (the order of `multiclass_non_max_suppression`).

Options may come from a config file, where a list is written as `"19,10,5,3,2,1"`.
The defaults are `ssdlite_mobilenet_v2_coco`'s pipeline config (300x300 input, 1917
anchors), checked against the constants in the graph by `tools/convert_person_detector.py`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs.base import (
    Detection,
    FloatArray,
    describe_outputs,
    label_for,
    nms,
    to_detections,
)
from gateway.inference.preprocess import ImageTransform

__all__ = ["SsdAnchorSpec", "SsdRawDecoder", "decode_boxes", "generate_ssd_anchors"]

# ssdlite_mobilenet_v2_coco.config: ssd_anchor_generator { num_layers: 6 min_scale: 0.2
# max_scale: 0.95 aspect_ratios: 1.0 2.0 0.5 3.0 0.3333 }, feature maps of a 300x300 input.
DEFAULT_FEATURE_MAPS = (19, 10, 5, 3, 2, 1)
DEFAULT_ASPECT_RATIOS = (1.0, 2.0, 0.5, 3.0, 0.3333)
DEFAULT_BOX_CODER_SCALES = (10.0, 10.0, 5.0, 5.0)
_LOWEST_LAYER_SMALL_SCALE = 0.1  # fixed in create_ssd_anchors


@dataclass(slots=True, frozen=True)
class SsdAnchorSpec:
    """The options of the OD API's `ssd_anchor_generator` (square feature maps)."""

    feature_map_sizes: tuple[int, ...] = DEFAULT_FEATURE_MAPS
    min_scale: float = 0.2
    max_scale: float = 0.95
    aspect_ratios: tuple[float, ...] = DEFAULT_ASPECT_RATIOS
    interpolated_scale_aspect_ratio: float = 1.0
    reduce_boxes_in_lowest_layer: bool = True

    def layer_boxes(self) -> list[list[tuple[float, float]]]:
        """Return, per layer, the (scale, aspect ratio) of each anchor in a cell."""
        n = len(self.feature_map_sizes)
        if n == 1:
            scales = [self.min_scale]
        else:
            step = (self.max_scale - self.min_scale) / (n - 1)
            scales = [self.min_scale + step * i for i in range(n)]
        scales.append(1.0)
        layers: list[list[tuple[float, float]]] = []
        for i in range(n):
            scale, scale_next = scales[i], scales[i + 1]
            if i == 0 and self.reduce_boxes_in_lowest_layer:
                boxes = [(_LOWEST_LAYER_SMALL_SCALE, 1.0), (scale, 2.0), (scale, 0.5)]
            else:
                boxes = [(scale, ratio) for ratio in self.aspect_ratios]
                if self.interpolated_scale_aspect_ratio > 0.0:
                    boxes.append(
                        (math.sqrt(scale * scale_next), self.interpolated_scale_aspect_ratio)
                    )
            layers.append(boxes)
        return layers


def generate_ssd_anchors(spec: SsdAnchorSpec) -> FloatArray:
    """Return `[N, 4]` anchors `y_center, x_center, height, width`, normalised, in order."""
    parts: list[FloatArray] = []
    for size, boxes in zip(spec.feature_map_sizes, spec.layer_boxes(), strict=True):
        scales = np.array([s for s, _ in boxes], dtype=np.float64)
        ratio_sqrts = np.sqrt(np.array([r for _, r in boxes], dtype=np.float64))
        heights, widths = scales / ratio_sqrts, scales * ratio_sqrts
        centres = (np.arange(size, dtype=np.float64) + 0.5) / size
        ys, xs, k = np.meshgrid(centres, centres, np.arange(len(boxes)), indexing="ij")
        layer = np.stack([ys, xs, heights[k], widths[k]], axis=-1).reshape(-1, 4)
        parts.append(layer.astype(np.float32))
    return np.concatenate(parts)


def decode_boxes(
    encodings: FloatArray, anchors: FloatArray, scales: Sequence[float] = DEFAULT_BOX_CODER_SCALES
) -> FloatArray:
    """Return `[N, 4]` boxes `x1, y1, x2, y2` from `ty, tx, th, tw` encodings (not clipped)."""
    sy, sx, sh, sw = (np.float32(s) for s in scales)
    ya, xa, ha, wa = anchors[:, 0], anchors[:, 1], anchors[:, 2], anchors[:, 3]
    # exp of a huge code overflows to inf; such a box is garbage either way.
    th = np.clip(encodings[:, 2] / sh, -20.0, 20.0)
    tw = np.clip(encodings[:, 3] / sw, -20.0, 20.0)
    yc = encodings[:, 0] / sy * ha + ya
    xc = encodings[:, 1] / sx * wa + xa
    h, w = np.exp(th) * ha, np.exp(tw) * wa
    return np.stack([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2], axis=1).astype(np.float32)


class SsdRawDecoder:
    """Decode raw SSD box encodings `[1, N, 4]` and class scores `[1, N, C]` against anchors."""

    def __init__(
        self,
        outputs: Sequence[TensorInfo],
        *,
        labels: Sequence[str] = ("person",),
        score_threshold: float = 0.5,
        iou_threshold: float = 0.6,
        max_detections: int = 100,
        background: bool = True,
        feature_map_sizes: Sequence[int] | str = DEFAULT_FEATURE_MAPS,
        min_scale: float = 0.2,
        max_scale: float = 0.95,
        aspect_ratios: Sequence[float] | str = DEFAULT_ASPECT_RATIOS,
        interpolated_scale_aspect_ratio: float = 1.0,
        reduce_boxes_in_lowest_layer: bool = True,
        box_coder_scales: Sequence[float] | str = DEFAULT_BOX_CODER_SCALES,
    ) -> None:
        self.anchor_spec = SsdAnchorSpec(
            feature_map_sizes=tuple(int(v) for v in _numbers(feature_map_sizes)),
            min_scale=float(min_scale),
            max_scale=float(max_scale),
            aspect_ratios=tuple(_numbers(aspect_ratios)),
            interpolated_scale_aspect_ratio=float(interpolated_scale_aspect_ratio),
            reduce_boxes_in_lowest_layer=bool(reduce_boxes_in_lowest_layer),
        )
        scales = tuple(_numbers(box_coder_scales))
        if len(scales) != 4 or any(s <= 0 for s in scales):
            msg = f"box_coder_scales must be 4 positive numbers (ty, tx, th, tw), got {scales}"
            raise ModelError(msg)
        self.box_coder_scales = scales
        self.anchors = generate_ssd_anchors(self.anchor_spec)
        self._boxes, self._scores = _find_outputs(outputs, len(self.anchors), self.anchor_spec)
        self._outputs = tuple(outputs)
        self.labels = tuple(labels)
        self.score_threshold = score_threshold
        self.iou_threshold = iou_threshold
        self.max_detections = max_detections
        self.first_class = 1 if background else 0
        if outputs[self._scores].shape[2] <= self.first_class:
            msg = f"scores have no class column after the background: {describe_outputs(outputs)}"
            raise ModelError(msg)

    def decode(
        self, outputs: Sequence[npt.NDArray[Any]], transform: ImageTransform
    ) -> list[Detection]:
        """Return detections above the score threshold after per-class NMS, best first."""
        encodings = self._outputs[self._boxes].dequantize(outputs[self._boxes])[0]
        scores = self._outputs[self._scores].dequantize(outputs[self._scores])[0]
        scores = scores[:, self.first_class :]
        anchor_ids, class_ids = np.nonzero(scores >= self.score_threshold)
        if anchor_ids.size == 0:
            return []
        kept_scores = scores[anchor_ids, class_ids].astype(np.float32)
        boxes = decode_boxes(encodings[anchor_ids], self.anchors[anchor_ids], self.box_coder_scales)
        kept = nms(
            boxes,
            kept_scores,
            self.iou_threshold,
            classes=class_ids,
            max_detections=self.max_detections,
        )
        boxes = np.clip(boxes[kept], 0.0, 1.0)
        nonempty = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        kept = kept[nonempty]
        names = [label_for(self.labels, int(c)) for c in class_ids[kept]]
        return to_detections(boxes[nonempty], kept_scores[kept], names, transform)


def _numbers(value: Sequence[float] | Sequence[int] | str) -> list[float]:
    """Return a list option given as a sequence or as `"a,b,c"` text (config files)."""
    if isinstance(value, str):
        try:
            return [float(v) for v in value.replace(" ", "").split(",") if v]
        except ValueError:
            msg = f"expected comma-separated numbers, got {value!r}"
            raise ModelError(msg) from None
    return [float(v) for v in value]


def _find_outputs(
    outputs: Sequence[TensorInfo], anchors: int, spec: SsdAnchorSpec
) -> tuple[int, int]:
    """Return the indices of the box encodings and the scores, or raise `ModelError`."""
    heads = [i for i, o in enumerate(outputs) if len(o.shape) == 3 and o.shape[0] == 1]
    if len(outputs) != 2 or len(heads) != 2 or not any(outputs[i].shape[2] == 4 for i in heads):
        msg = (
            "the ssd_raw decoder needs two outputs, box encodings [1, N, 4] and class scores "
            f"[1, N, C]; the model has: {describe_outputs(outputs)}"
        )
        raise ModelError(msg)
    first, second = heads
    # Both heads may be [1, N, 4] (3 classes + background): names decide, else the order
    # the TF converter keeps (box encodings first).
    if outputs[first].shape[2] != 4 or (
        outputs[second].shape[2] == 4
        and _looks_like_scores(outputs[first].name)
        and not _looks_like_scores(outputs[second].name)
    ):
        first, second = second, first
    for i in (first, second):
        if outputs[i].shape[1] != anchors:
            msg = (
                f"the model has {outputs[i].shape[1]} anchors but the anchor options give "
                f"{anchors} (feature maps {list(spec.feature_map_sizes)}); set the ssd_raw "
                f"options from the model's pipeline config; outputs: {describe_outputs(outputs)}"
            )
            raise ModelError(msg)
    return first, second


def _looks_like_scores(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in ("score", "class", "sigmoid"))
