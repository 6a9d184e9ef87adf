"""Real models on real images: the numbers MODELS.md reports, checked end to end."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gateway.errors import ModelError
from gateway.inference.detector import Detector
from gateway.inference.interpreter import TFLiteModel
from gateway.inference.outputs import make_output_decoder

Images = dict[str, npt.NDArray[np.uint8]]


@pytest.mark.parametrize("name", ["blazeface_short", "blazeface_full"])
def test_blazeface_finds_the_astronauts_face(
    name: str, model_paths: dict[str, Path], data_dir: Path, images: Images
) -> None:
    image = images["astronaut.png"]
    found = Detector.from_catalogue(name, data_dir).detect(image)

    assert len(found) == 1
    face = found[0]
    assert face.label == "face"
    assert face.score > 0.8
    height = image.shape[0]
    # Her face is in the upper half, a little left of centre, about 100 px across.
    assert face.box.y2 < height / 2
    assert 140 < face.box.center.x < 320
    assert 60 < face.box.width < 160
    assert 0.7 < face.box.width / face.box.height < 1.4


def test_blazeface_finds_no_face_in_coffee(
    model_paths: dict[str, Path], data_dir: Path, images: Images
) -> None:
    assert Detector.from_catalogue("blazeface_short", data_dir).detect(images["coffee.png"]) == []


def test_efficientnet_lite0_names_cat_and_espresso(
    model_paths: dict[str, Path], data_dir: Path, images: Images
) -> None:
    classifier = Detector.from_catalogue("efficientnet_lite0", data_dir, top_k=3)

    cat = classifier.detect(images["chelsea.png"])
    coffee = classifier.detect(images["coffee.png"])

    assert cat[0].label in {"Egyptian cat", "tabby", "tiger cat"}
    assert cat[0].score > 0.5
    assert coffee[0].label == "espresso"
    assert coffee[0].score > 0.5
    # A classifier's box is the whole region it was given.
    height, width = images["coffee.png"].shape[:2]
    assert (coffee[0].box.width, coffee[0].box.height) == (width, height)


def test_visual_wake_words_sees_a_person_only_on_the_astronaut(
    model_paths: dict[str, Path], data_dir: Path, images: Images
) -> None:
    vww = Detector.from_catalogue("visual_wake_words", data_dir)

    astronaut = vww.detect(images["astronaut.png"])[0]
    coffee = vww.detect(images["coffee.png"])[0]

    assert (astronaut.label, astronaut.score > 0.8) == ("person", True)
    assert (coffee.label, coffee.score > 0.8) == ("non_person", True)


def test_blazeface_with_the_classifier_decoder_is_refused(model_paths: dict[str, Path]) -> None:
    model = TFLiteModel(model_paths["blazeface_short"])

    with pytest.raises(ModelError, match=r"classifier decoder needs one output.*\[1, 896, 16\]"):
        make_output_decoder("classifier", model.outputs)


def test_classifier_with_the_ssd_decoder_is_refused(model_paths: dict[str, Path]) -> None:
    model = TFLiteModel(model_paths["efficientnet_lite0"])

    with pytest.raises(ModelError, match="mediapipe_ssd decoder needs two outputs"):
        make_output_decoder("mediapipe_ssd", model.outputs)
    with pytest.raises(ModelError, match="tflite_ssd decoder needs the 4"):
        make_output_decoder("tflite_ssd", model.outputs)
    with pytest.raises(ModelError, match="yolo decoder needs one output"):
        make_output_decoder("yolo", model.outputs)


def test_classifier_labels_must_match_classes(model_paths: dict[str, Path]) -> None:
    model = TFLiteModel(model_paths["visual_wake_words"])

    with pytest.raises(ModelError, match="2 classes but 3 labels"):
        make_output_decoder("classifier", model.outputs, labels=["a", "b", "c"])


def test_anchors_that_do_not_fit_the_model_are_refused(model_paths: dict[str, Path]) -> None:
    model = TFLiteModel(model_paths["blazeface_full"])

    with pytest.raises(ModelError, match="yields 2304 anchors"):
        make_output_decoder("mediapipe_ssd", model.outputs, anchors="blazeface_short")
