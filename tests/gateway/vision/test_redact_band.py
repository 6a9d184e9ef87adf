"""Faces blurred before an image leaves, and the band that moves with the cloud's agreement."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from devices.cameras import encode_jpeg
from gateway.config.vision import AdaptiveBandConfig
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.vision.cascade import AdaptiveBand, Band
from gateway.vision.redact import FACE_MODEL, FaceRedactor, find_faces
from tests.support.footage import clip_frame


def test_faces_found_before_are_gone_after_and_the_rest_is_kept(
    images: dict[str, npt.NDArray[np.uint8]], model_paths: dict[str, Path]
) -> None:
    del model_paths  # fetched blazeface_full into the data dir
    check = Detector.from_catalogue(FACE_MODEL, score_threshold=0.1)
    redactor = FaceRedactor(Detector.from_catalogue(FACE_MODEL, score_threshold=0.1))
    person = images["astronaut.png"]
    assert len(find_faces(check, person, 0.5)) >= 1
    out = redactor.redact(person)
    assert out.faces >= 1
    assert find_faces(check, out.image, 0.5) == []
    changed = np.any(out.image != person, axis=2)
    assert 0 < changed.mean() < 0.25  # the face, not the picture
    nobody = images["coffee.png"]
    same = redactor.redact(nobody)
    assert same.faces == 0
    assert same.image is nobody


@pytest.mark.parametrize(
    ("frame_index", "crop_box"),
    [
        # a woman in a white hooded coat: after her head is blurred and a false face on her
        # chest filled, the fill left a face-like pattern beside it (one check round)
        (127, Box(614.59, 195.98, 665.18, 301.92)),
        # two men shaking hands: the picture shows no face above 0.3 after blurring, its
        # JPEG at quality 90 (as the crop leaves) one at 0.55 (checks on the raw picture)
        (43, Box(370.0, 173.0, 423.0, 270.0)),
    ],
)
def test_no_face_is_left_in_the_crop_as_it_leaves(
    vtest_path: Path, model_paths: dict[str, Path], frame_index: int, crop_box: Box
) -> None:
    """vtest.avi crops in which `edgegw demo`'s faces check found a face after redaction."""
    del model_paths
    frame = clip_frame(vtest_path, frame_index)
    sent = cv2.imdecode(np.frombuffer(encode_jpeg(frame, 80), np.uint8), cv2.IMREAD_COLOR)
    assert sent is not None  # the camera's JPEG, as the gateway decoded it
    x1, y1, x2, y2 = crop_box.to_int()
    crop = np.asarray(sent[y1:y2, x1:x2], np.uint8)
    check = Detector.from_catalogue(FACE_MODEL, score_threshold=0.1)
    redactor = FaceRedactor(
        Detector.from_catalogue(FACE_MODEL, score_threshold=0.1), jpeg_quality=90
    )
    assert find_faces(check, crop, 0.3) != []
    out = redactor.redact(crop)
    assert out.faces >= 1
    uploaded = cv2.imdecode(np.frombuffer(encode_jpeg(out.image, 90), np.uint8), cv2.IMREAD_COLOR)
    assert find_faces(check, np.asarray(uploaded, np.uint8), 0.5) == []


def test_band_edges_follow_agreement_within_bounds() -> None:
    cfg = AdaptiveBandConfig(window=4, step=0.05, min_high=0.7, max_low=0.6)
    band = AdaptiveBand(Band(0.5, 0.9), cfg)
    for _ in range(20):  # the cloud confirms everything near the top
        band.observe(0.85, (band.band.low, band.band.high), confirmed=True)
    assert band.band.high == 0.7  # came down to its bound
    for _ in range(20):  # and rejects everything near the bottom
        band.observe(0.5, (band.band.low, band.band.high), confirmed=False)
    assert band.band.low == 0.6
    for _ in range(20):  # it starts confirming low scores again: back, never past 0.5
        band.observe(band.band.low, (band.band.low, band.band.high), confirmed=True)
    assert band.band.low == 0.5
    off = AdaptiveBand(Band(0.5, 0.9), AdaptiveBandConfig(enabled=False, window=4))
    for _ in range(20):
        off.observe(0.85, (0.5, 0.9), confirmed=True)
    assert off.band == Band(0.5, 0.9)
