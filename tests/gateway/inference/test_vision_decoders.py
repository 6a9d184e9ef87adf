"""Decoders on tensors built here: the layouts no package ships a real model for."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs import make_output_decoder, nms
from gateway.inference.outputs.mediapipe_ssd import ANCHOR_PRESETS, generate_anchors
from gateway.inference.preprocess import ImageTransform
from tests.gateway.inference.conftest import identity_transform

F32 = np.dtype(np.float32)


def info(index: int, name: str, shape: tuple[int, ...], dtype: np.dtype[Any] = F32) -> TensorInfo:
    return TensorInfo(index, name, shape, dtype, 0.0, 0)


SSD_OUTPUTS = (
    info(0, "TFLite_Detection_PostProcess", (1, 10, 4)),
    info(1, "TFLite_Detection_PostProcess:1", (1, 10)),
    info(2, "TFLite_Detection_PostProcess:2", (1, 10)),
    info(3, "TFLite_Detection_PostProcess:3", (1,)),
)


def ssd_tensors() -> list[npt.NDArray[np.float32]]:
    boxes = np.zeros((1, 10, 4), np.float32)
    boxes[0, 0] = [0.10, 0.20, 0.50, 0.40]  # ymin, xmin, ymax, xmax
    boxes[0, 1] = [0.60, 0.60, 0.90, 0.95]
    boxes[0, 2] = [0.00, 0.00, 0.10, 0.10]
    classes = np.zeros((1, 10), np.float32)
    classes[0, :3] = [0, 2, 1]
    scores = np.zeros((1, 10), np.float32)
    scores[0, :3] = [0.9, 0.7, 0.3]
    return [boxes, classes, scores, np.array([3.0], np.float32)]


def test_tflite_ssd_maps_boxes_classes_and_labels() -> None:
    decoder = make_output_decoder("tflite_ssd", SSD_OUTPUTS, labels=["person", "bicycle", "car"])

    found = decoder.decode(ssd_tensors(), identity_transform(200, 100))

    assert [(d.label, round(d.score, 2)) for d in found] == [("person", 0.9), ("car", 0.7)]
    box = found[0].box
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((40, 10, 80, 50))


def test_tflite_ssd_label_offset_and_reordered_outputs() -> None:
    # TF2 exports list scores first; names tell the two [1, N] outputs apart.
    reordered = (
        info(0, "scores", (1, 10)),
        info(1, "boxes", (1, 10, 4)),
        info(2, "count", (1,)),
        info(3, "classes", (1, 10)),
    )
    boxes, classes, scores, count = ssd_tensors()
    decoder = make_output_decoder(
        "tflite_ssd", reordered, labels=["???", "person", "bicycle", "car"], label_offset=1
    )

    found = decoder.decode([scores, boxes, count, classes], identity_transform())

    assert [d.label for d in found] == ["person", "car"]


def test_tflite_ssd_unknown_class_falls_back_to_its_id() -> None:
    decoder = make_output_decoder("tflite_ssd", SSD_OUTPUTS, labels=["person"])

    assert [d.label for d in decoder.decode(ssd_tensors(), identity_transform())] == ["person", "2"]


def yolo_rows() -> npt.NDArray[np.float32]:
    """Return 4 candidates, v5 layout [N, 5+3], boxes in 640 px input coordinates."""
    return np.array(
        [
            # cx, cy, w, h, obj, c0, c1, c2
            [100, 100, 50, 50, 0.9, 0.1, 0.95, 0.0],  # class 1, score 0.855
            [104, 102, 50, 50, 0.9, 0.1, 0.90, 0.0],  # duplicate of the first, lower
            [300, 300, 80, 40, 0.8, 0.0, 0.1, 0.9],  # class 2, score 0.72
            [500, 500, 20, 20, 0.1, 0.9, 0.0, 0.0],  # score 0.09: below threshold
        ],
        np.float32,
    )


def test_yolov5_threshold_nms_and_classes() -> None:
    rows = yolo_rows()
    decoder = make_output_decoder("yolo", (info(0, "output0", (1, 4, 8)),), labels=["a", "b", "c"])

    found = decoder.decode([rows[np.newaxis]], identity_transform())

    assert [(d.label, round(d.score, 3)) for d in found] == [("b", 0.855), ("c", 0.72)]
    assert (found[0].box.x1, found[0].box.y1) == pytest.approx((75, 75))
    assert (found[1].box.width, found[1].box.height) == pytest.approx((80, 40))


def test_yolov8_features_first_normalised_boxes() -> None:
    rows = np.delete(yolo_rows(), 4, axis=1)  # no objectness in v8
    rows[:, :4] /= 640.0
    rows[3, 4] = 0.85  # the small box now passes, as class "a"
    tensor = rows.T[np.newaxis]  # [1, 4+C, N]
    decoder = make_output_decoder(
        "yolo", (info(0, "output0", tensor.shape),), labels=["a", "b", "c"]
    )

    found = decoder.decode([tensor], identity_transform())

    assert decoder.version == "v8"  # type: ignore[attr-defined]
    assert [(d.label, round(d.score, 2)) for d in found] == [("b", 0.95), ("c", 0.9), ("a", 0.85)]
    assert found[0].box.center.x == pytest.approx(100, abs=1e-3)


def test_yolo_nms_keeps_overlapping_boxes_of_different_classes() -> None:
    rows = yolo_rows()
    rows[1, 5:] = [0.95, 0.0, 0.0]  # the duplicate is now class 0
    decoder = make_output_decoder("yolo", (info(0, "output0", (1, 4, 8)),), labels=["0", "1", "2"])

    found = decoder.decode([rows[np.newaxis]], identity_transform())

    assert sorted(d.label for d in found) == ["0", "1", "2"]


def test_yolo_quantized_output() -> None:
    rows = yolo_rows()
    rows[:, :4] /= 640.0
    scale, zero = 1 / 255.0, 0
    quantized = np.clip(np.round(rows / scale) + zero, 0, 255).astype(np.uint8)
    out = TensorInfo(0, "output0", (1, 4, 8), np.dtype(np.uint8), scale, zero)
    decoder = make_output_decoder("yolo", (out,), labels=["a", "b", "c"])

    found = decoder.decode([quantized[np.newaxis]], identity_transform())

    assert [d.label for d in found] == ["b", "c"]
    assert found[0].score == pytest.approx(0.855, abs=0.01)


def test_yolo_maps_boxes_through_the_letterbox() -> None:
    # A 1280x640 source letterboxed into 640x640: scale 0.5, 160 px bars top and bottom.
    transform = ImageTransform(0.5, 0.5, 0.0, 160.0, 640, 640, 1280, 640)
    rows = yolo_rows()[:1]
    rows[0, :4] = [320, 320, 64, 64]
    decoder = make_output_decoder("yolo", (info(0, "output0", (1, 1, 8)),), labels=["a", "b", "c"])

    (found,) = decoder.decode([rows[np.newaxis]], transform)

    box = found.box
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((576, 256, 704, 384))


def test_yolo_layout_without_labels_follows_the_shorter_axis() -> None:
    v5 = make_output_decoder("yolo", (info(0, "o", (1, 25200, 85)),))
    v8 = make_output_decoder("yolo", (info(0, "o", (1, 84, 8400)),))

    assert (v5.version, v5.num_classes) == ("v5", 80)  # type: ignore[attr-defined]
    assert (v8.version, v8.num_classes) == ("v8", 80)  # type: ignore[attr-defined]


def test_yolo_shape_and_label_checks() -> None:
    with pytest.raises(ModelError, match="has 3 classes but 2 labels"):
        make_output_decoder("yolo", (info(0, "o", (1, 8400, 8)),), labels=["a", "b"], version="v5")
    with pytest.raises(ModelError, match="needs more than 5 features"):
        make_output_decoder("yolo", (info(0, "o", (1, 8400, 5)),), version="v5")
    with pytest.raises(ModelError, match="needs one output"):
        make_output_decoder("yolo", (info(0, "o", (1, 1000)),))


def test_nms_suppresses_only_overlaps() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30]], np.float32)
    scores = np.array([0.8, 0.9, 0.5], np.float32)

    assert nms(boxes, scores, 0.5).tolist() == [1, 2]
    assert nms(boxes, scores, 0.5, classes=np.array([0, 1, 0])).tolist() == [1, 0, 2]
    assert nms(boxes, scores, 0.5, max_detections=1).tolist() == [1]


@pytest.mark.parametrize(
    ("preset", "count"), [("blazeface_short", 896), ("blazeface_full", 2304), ("blazepose", 2254)]
)
def test_mediapipe_anchor_counts(preset: str, count: int) -> None:
    anchors = generate_anchors(ANCHOR_PRESETS[preset])

    assert anchors.shape == (count, 2)
    assert anchors.min() > 0.0
    assert anchors.max() < 1.0


def test_mediapipe_ssd_decodes_one_anchor() -> None:
    outputs = (info(0, "regressors", (1, 896, 16)), info(1, "classificators", (1, 896, 1)))
    decoder = make_output_decoder("mediapipe_ssd", outputs)  # anchors found from the count
    regressors = np.zeros((1, 896, 16), np.float32)
    logits = np.full((1, 896, 1), -10.0, np.float32)
    # Anchor 0 sits at (0.5/16, 0.5/16); move its centre by 16 px and make it 32 px wide.
    regressors[0, 0, :4] = [16, 16, 32, 32]
    logits[0, 0, 0] = 3.0

    (found,) = decoder.decode([regressors, logits], identity_transform(128, 128))

    assert found.score == pytest.approx(1 / (1 + np.exp(-3.0)))
    box = found.box
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx((4, 4, 36, 36))


def test_unknown_decoder_and_bad_options() -> None:
    with pytest.raises(ModelError, match="unknown decoder type 'ssd'"):
        make_output_decoder("ssd", SSD_OUTPUTS)
    with pytest.raises(ModelError, match="bad options for the tflite_ssd decoder"):
        make_output_decoder("tflite_ssd", SSD_OUTPUTS, colour="red")
