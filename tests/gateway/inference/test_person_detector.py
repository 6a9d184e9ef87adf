"""The bundled person detector: its pinned bytes and tensors, and LiteRT + `ssd_raw` vs TF.

The fixture holds the boxes the original TensorFlow graph (with its own postprocessor)
found on real images; `tools/convert_person_detector.py` wrote it, and its `command`
key says how. The images are rebuilt here from the footage module, so no TensorFlow.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import ModelError, ModelNotFoundError
from gateway.inference import catalog as models
from gateway.inference.archive import sha256_file
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.inference.interpreter import TFLiteModel
from gateway.inference.outputs.base import Detection

FIXTURE = Path(__file__).with_name("fixtures") / "person_ssdlite_tf_boxes.json"
NAME = "person_ssdlite"
MIN_IOU = 0.9
# Full-integer int8 moves scores: measured against the TF graph on these images the worst
# box is 0.155 off (a 23 px tall person), the mean 0.036; float32 reproduces TF exactly
# (IoU >= 0.999, scores equal to 3 decimals). A wrong decode is far outside both bounds.
MAX_SCORE_DIFFERENCE = 0.16
MEAN_SCORE_DIFFERENCE = 0.05

Image = npt.NDArray[np.uint8]


@dataclass(slots=True, frozen=True)
class TfBox:
    """One box the TF graph found: source pixels and score."""

    box: Box
    score: float


@dataclass(slots=True, frozen=True)
class FixtureImage:
    """A fixture image rebuilt from the footage, with the TF graph's boxes on it."""

    id: str
    image: Image
    boxes: tuple[TfBox, ...]


@pytest.fixture(scope="module")
def fixture_doc() -> dict[str, Any]:
    """Return the TF fixture."""
    doc: dict[str, Any] = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return doc


@pytest.fixture(scope="module")
def fixture_images(
    fixture_doc: dict[str, Any], footage_paths: dict[str, Path]
) -> list[FixtureImage]:
    """Rebuild each fixture image (vtest.avi frame, crop, messi5.jpg) from the footage."""
    footage = footage_paths
    wanted = {e["frame"] for e in fixture_doc["images"] if e["frame"] is not None}
    frames: dict[int, Image] = {}
    capture = cv2.VideoCapture(str(footage["vtest.avi"]))
    index = 0
    while index <= max(wanted):
        ok, frame = capture.read()
        assert ok, f"vtest.avi ended before frame {index}"
        if index in wanted:
            frames[index] = np.asarray(frame, dtype=np.uint8)
        index += 1
    capture.release()
    out = []
    for entry in fixture_doc["images"]:
        if entry["source"] == "messi5.jpg":
            image = np.asarray(cv2.imread(str(footage["messi5.jpg"])), dtype=np.uint8)
        else:
            image = frames[entry["frame"]]
        if entry["crop"] is not None:
            x1, y1, x2, y2 = entry["crop"]
            image = np.ascontiguousarray(image[y1:y2, x1:x2])
        assert (image.shape[1], image.shape[0]) == (entry["width"], entry["height"])
        boxes = tuple(TfBox(Box(*d["box"]), d["score"]) for d in entry["detections"])
        out.append(FixtureImage(entry["id"], image, boxes))
    return out


def match_one_to_one(
    truth: tuple[TfBox, ...], found: list[Detection]
) -> list[tuple[TfBox, Detection]]:
    """Pair boxes greedily by IoU (best pair first), each box used at most once."""
    pairs = sorted(
        ((t.box.iou(d.box), ti, di) for ti, t in enumerate(truth) for di, d in enumerate(found)),
        reverse=True,
    )
    used_t: set[int] = set()
    used_d: set[int] = set()
    matched = []
    for iou, ti, di in pairs:
        if iou < MIN_IOU or ti in used_t or di in used_d:
            continue
        used_t.add(ti)
        used_d.add(di)
        matched.append((truth[ti], found[di]))
    return matched


def test_committed_model_is_the_catalogued_one() -> None:
    spec = models.CATALOGUE[NAME]
    path = models.resolve(NAME)  # checks size and sha256 too

    assert spec.bundled is not None
    assert path == models.bundled_dir() / spec.bundled
    assert path.stat().st_size == spec.size
    assert sha256_file(path) == spec.sha256
    notice = (path.parent / "NOTICE.md").read_text(encoding="utf-8")
    assert spec.sha256 in notice
    assert "Apache" in notice
    assert "MIT" in notice


def test_bundled_model_is_listed_present_in_any_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {r.name: r for r in models.list_models(tmp_path)}
    assert rows[NAME].present
    assert rows[NAME].path == models.resolve(NAME, tmp_path)

    paths = models.fetch([NAME], tmp_path, progress=print)  # nothing to download
    assert paths[NAME] == rows[NAME].path
    assert "bundled" in capsys.readouterr().out
    assert not (tmp_path / "models").exists()


def test_litert_and_ssd_raw_reproduce_the_tf_graphs_boxes(
    fixture_doc: dict[str, Any], fixture_images: list[FixtureImage]
) -> None:
    threshold = float(fixture_doc["score_threshold"])
    # Decode below the fixture's threshold so a TF box near it is not lost to int8 noise.
    detector = Detector.from_catalogue(NAME, score_threshold=threshold - MAX_SCORE_DIFFERENCE)
    differences = []
    for item in fixture_images:
        found = detector.detect(item.image)
        matched = match_one_to_one(item.boxes, found)

        unmatched = [t for t in item.boxes if all(t is not m[0] for m in matched)]
        assert unmatched == [], f"{item.id}: TF boxes with no LiteRT box at IoU >= {MIN_IOU}"
        extra = [
            d
            for d in found
            if d.score >= threshold + MAX_SCORE_DIFFERENCE and all(d is not m[1] for m in matched)
        ]
        assert extra == [], f"{item.id}: LiteRT boxes the TF graph did not find"
        for tf_box, detection in matched:
            assert detection.label == "person"
            differences.append(abs(detection.score - tf_box.score))
    assert len(differences) == sum(len(i.boxes) for i in fixture_images) >= 20
    assert max(differences) <= MAX_SCORE_DIFFERENCE
    assert float(np.mean(differences)) <= MEAN_SCORE_DIFFERENCE


def test_a_changed_byte_fails_with_the_model_name_and_the_fix(tmp_path: Path) -> None:
    spec = models.CATALOGUE[NAME]
    copy = tmp_path / "person.tflite"
    data = bytearray(models.resolve(NAME).read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))

    with pytest.raises(ModelError, match=r"model 'person_ssdlite'.*reinstall edgegw"):
        models.check_file(spec, copy)


def test_a_damaged_fetched_model_fails_resolve_with_the_fetch_command(tmp_path: Path) -> None:
    stored = models.model_path("blazeface_short", tmp_path)
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"TFL3" * 1000)

    with pytest.raises(ModelError, match=r"'blazeface_short'.*edgegw models fetch blazeface_short"):
        models.resolve("blazeface_short", tmp_path)
    stored.unlink()
    with pytest.raises(ModelNotFoundError):
        models.resolve("blazeface_short", tmp_path)


def test_tensor_shapes_differing_from_the_entry_fail_with_the_model_name() -> None:
    spec = models.CATALOGUE[NAME]
    model = TFLiteModel(models.resolve(NAME))
    models.check_tensors(spec, model)  # the real entry fits

    other = dataclasses.replace(spec, output_shapes=((1, 2034, 4), (1, 2034, 91)))
    with pytest.raises(ModelError, match=r"model 'person_ssdlite'.*outputs \[\[1, 1917, 4\]"):
        models.check_tensors(other, model)
    wrong_input = dataclasses.replace(spec, input_shape=(1, 320, 320, 3))
    with pytest.raises(ModelError, match=r"input \[1, 300, 300, 3\], expected \[1, 320, 320, 3\]"):
        models.check_tensors(wrong_input, model)


def test_detects_on_grey_and_tiny_frames() -> None:
    detector = Detector.from_catalogue(NAME)
    grey = np.full((40, 30), 128, dtype=np.uint8)

    assert detector.detect(grey) == []
    assert detector.detect(np.zeros((1, 1, 3), dtype=np.uint8)) == []
