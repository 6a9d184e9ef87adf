"""`ssd_raw`: TF OD API anchors, the 10/10/5/5 box coder, per-class NMS, shape checks."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import ModelError
from gateway.inference.interpreter import TensorInfo
from gateway.inference.outputs import SsdRawDecoder, make_output_decoder
from gateway.inference.outputs.ssd_raw import SsdAnchorSpec, generate_ssd_anchors
from gateway.inference.preprocess import ImageTransform

N = 1917


def info(index: int, name: str, shape: tuple[int, ...]) -> TensorInfo:
    """Return a float32 output tensor description."""
    return TensorInfo(index, name, shape, np.dtype(np.float32), 0.0, 0)


def outputs(classes: int = 2) -> list[TensorInfo]:
    """Return the two raw heads of a 300x300 SSD with `classes` score columns."""
    return [info(0, "Squeeze", (1, N, 4)), info(1, "Postprocessor/convert_scores", (1, N, classes))]


def square(size: int = 300) -> ImageTransform:
    """Return the transform of a `size` x `size` source resized to the 300x300 input."""
    return ImageTransform(300 / size, 300 / size, 0.0, 0.0, 300, 300, size, size)


def test_anchor_layout_of_ssdlite_mobilenet_v2() -> None:
    anchors = generate_ssd_anchors(SsdAnchorSpec())

    assert anchors.shape == (N, 4)
    # Layer 0: 19x19 cells x 3 anchors, ordered y, x, anchor; the first is 0.1 x 0.1.
    np.testing.assert_allclose(anchors[0], [0.5 / 19, 0.5 / 19, 0.1, 0.1], rtol=1e-6)
    np.testing.assert_allclose(anchors[3, :2], [0.5 / 19, 1.5 / 19], rtol=1e-6)
    # Ratio 2 at scale 0.2: wider than tall by 2, area 0.2^2.
    h, w = anchors[1, 2:]
    assert w / h == pytest.approx(2.0, rel=1e-5)
    assert w * h == pytest.approx(0.04, rel=1e-5)
    # The last layer is one cell with 6 anchors; the last is the interpolated scale.
    np.testing.assert_allclose(anchors[-1], [0.5, 0.5, np.sqrt(0.95), np.sqrt(0.95)], rtol=1e-5)
    assert (
        len(generate_ssd_anchors(SsdAnchorSpec(reduce_boxes_in_lowest_layer=False)))
        == 19 * 19 * 6 + 834
    )


def put(
    scores: npt.NDArray[np.float32], codes: npt.NDArray[np.float32], anchor: int, cls: int, s: float
) -> None:
    """Give `anchor` the score `s` in column `cls` (codes stay zero: the anchor box itself)."""
    scores[0, anchor, cls] = s
    codes[0, anchor] = 0.0


def test_zero_codes_decode_to_the_anchor_and_background_is_skipped() -> None:
    decoder = SsdRawDecoder(outputs(), score_threshold=0.5)
    codes = np.zeros((1, N, 4), dtype=np.float32)
    scores = np.zeros((1, N, 2), dtype=np.float32)
    scores[0, :, 0] = 0.99  # background everywhere: never a detection
    last = N - 6  # the 1x1 layer's first anchor: scale 0.95, ratio 1, centred
    put(scores, codes, last, 1, 0.9)

    found = decoder.decode([codes, scores], square(600))

    assert len(found) == 1
    assert found[0].label == "person"
    assert found[0].score == pytest.approx(0.9)
    half = 0.95 / 2 * 600
    box = found[0].box
    assert (box.x1, box.y1, box.x2, box.y2) == pytest.approx(
        (300 - half, 300 - half, 300 + half, 300 + half), abs=1e-3
    )


def test_box_coder_scales_and_clipping() -> None:
    decoder = SsdRawDecoder(outputs(), score_threshold=0.5)
    codes = np.zeros((1, N, 4), dtype=np.float32)
    scores = np.zeros((1, N, 2), dtype=np.float32)
    # Anchor 0 (0.1 x 0.1 at the top-left cell): move y by 10 * 0.5 anchor heights
    # (ty = 5 / 10 * h), and double the width (tw = 5 * ln 2).
    codes[0, 0] = [5.0, 0.0, 0.0, 5.0 * np.log(2.0)]
    scores[0, 0, 1] = 0.8

    (det,) = decoder.decode([codes, scores], square())

    cy = (0.5 / 19 + 0.5 * 0.1) * 300
    assert (det.box.y1, det.box.y2) == pytest.approx((cy - 15, cy + 15), abs=1e-3)
    # Width 0.2 around x = 0.5/19 reaches past the left edge: clipped to 0.
    assert det.box.x1 == 0.0
    assert det.box.x2 == pytest.approx((0.5 / 19 + 0.1) * 300, abs=1e-3)


def test_nms_per_class_and_multi_class_labels() -> None:
    decoder = SsdRawDecoder(
        outputs(classes=4), labels=["person", "bicycle", "car"], score_threshold=0.3
    )
    codes = np.zeros((1, N, 4), dtype=np.float32)
    scores = np.zeros((1, N, 4), dtype=np.float32)
    last = N - 6  # anchors N-6 (ratio 1) and N-1 (interpolated, ratio 1) overlap heavily
    scores[0, last, 1] = 0.9  # person
    scores[0, N - 1, 1] = 0.6  # person again, suppressed (IoU > 0.6)
    scores[0, N - 1, 3] = 0.7  # car at the same place: another class, kept
    scores[0, 0, 2] = 0.2  # bicycle below the threshold

    found = decoder.decode([codes, scores], square())

    assert [(d.label, round(d.score, 2)) for d in found] == [("person", 0.9), ("car", 0.7)]


def test_options_from_a_config_file_as_text() -> None:
    decoder = make_output_decoder(
        "ssd_raw",
        [info(0, "boxes", (1, 2 * 2 * 6 + 6, 4)), info(1, "scores", (1, 30, 2))],
        feature_map_sizes="2,1",
        aspect_ratios="1, 2, 0.5, 3, 0.3333",
        reduce_boxes_in_lowest_layer=False,
    )
    assert isinstance(decoder, SsdRawDecoder)
    assert len(decoder.anchors) == 30


@pytest.mark.parametrize(
    ("heads", "message"),
    [
        ([info(0, "boxes", (1, N, 4))], "needs two outputs"),
        ([info(0, "a", (1, N, 4)), info(1, "b", (1, N, 2)), info(2, "c", (1,))], "two outputs"),
        ([info(0, "a", (1, N, 5)), info(1, "b", (1, N, 2))], r"box encodings \[1, N, 4\]"),
        ([info(0, "a", (1, 2034, 4)), info(1, "b", (1, 2034, 2))], "2034 anchors"),
        ([info(0, "a", (1, 10, 4)), info(1, "b", (10, 2))], "needs two outputs"),
    ],
)
def test_outputs_that_do_not_fit_fail_at_construction(
    heads: list[TensorInfo], message: str
) -> None:
    with pytest.raises(ModelError, match=message):
        make_output_decoder("ssd_raw", heads)


def test_bad_options_fail_clearly() -> None:
    with pytest.raises(ModelError, match="comma-separated numbers"):
        make_output_decoder("ssd_raw", outputs(), feature_map_sizes="19;10")
    with pytest.raises(ModelError, match="box_coder_scales"):
        make_output_decoder("ssd_raw", outputs(), box_coder_scales=(10, 10, 5))
    with pytest.raises(ModelError, match="no class column"):
        make_output_decoder("ssd_raw", [info(0, "a", (1, N, 4)), info(1, "b", (1, N, 1))])


def test_scores_named_first_are_told_apart_from_boxes() -> None:
    # 3 classes + background gives [1, N, 4] scores: the names decide which is which.
    heads = [info(0, "class_scores", (1, N, 4)), info(1, "box_encodings", (1, N, 4))]
    decoder = SsdRawDecoder(heads, labels=["a", "b", "c"], score_threshold=0.5)
    codes = np.zeros((1, N, 4), dtype=np.float32)
    scores = np.zeros((1, N, 4), dtype=np.float32)
    scores[0, N - 6, 2] = 0.8

    (det,) = decoder.decode([scores, codes], square())

    assert det.label == "b"
