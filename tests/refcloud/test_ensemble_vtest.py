"""The ensemble judge on real hard-case crops of vtest.avi, labelled by the truth (~40 s).

One crop per truth person (its middle frame among those a checked proposal shows it),
cut as the shipped camera cuts a hard case (margin, faces blurred, JPEG), and the same
box where nobody stands; judged through the Open Inference Protocol as the gateway reads
the answer. The oracle's crop judge (the previous default) on the same crops is the bar.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from bench.vision_pipeline import shipped_person_camera
from cloud_bridge.oip import (
    InferenceRequest,
    InferenceResponse,
    RequestInput,
    build_hard_case_request,
)
from cloud_bridge.uplink import HardCase, Outcome, Verdict, verdict_from_response
from devices.cameras import encode_jpeg
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.vision.groups import crop_box
from gateway.vision.redact import FACE_MODEL, FaceRedactor
from lab.judge_crops import PROPOSALS, read_proposals
from lab.truth import vtest_truth
from refcloud import InferenceInputError
from refcloud.ensemble import PersonEnsemble
from refcloud.ensemble_judge import EnsembleJudge
from refcloud.oracle import PERSON, PersonOracle
from refcloud.oracle_judge import OracleJudge
from tests.support.footage import clip_frame

Image = npt.NDArray[np.uint8]


@dataclass(slots=True, frozen=True)
class Case:
    person: bool
    jpeg: bytes


@pytest.fixture(scope="module")
def cases(
    vtest_path: Path, judge_models: dict[str, Path], model_paths: dict[str, Path]
) -> list[Case]:
    del judge_models, model_paths  # fetched: the judges and the redactor find them
    cam, _ = shipped_person_camera()
    redactor = FaceRedactor(
        Detector.from_catalogue(FACE_MODEL, score_threshold=0.1),
        threshold=cam.privacy.face_threshold,
    )
    proposals = read_proposals(PROPOSALS)
    truth = vtest_truth()
    people: dict[int, list[Box]] = {}
    for t in truth:
        for f, b in t.boxes.items():
            people.setdefault(f, []).append(b)
    wanted: dict[int, list[tuple[bool, Box]]] = {}
    for t in truth:
        seen = sorted(
            f for f, b in t.boxes.items() if any(b.iou(p) >= 0.5 for p in proposals.get(f, ()))
        )
        f = seen[len(seen) // 2]
        box = t.boxes[f]
        wanted.setdefault(f, []).append((True, box))
        for g in (f + 200, f - 200, f + 400, f - 400):  # the same place, with nobody there
            if g in people and all(box.expand(12).intersection(p) <= 0 for p in people[g]):
                wanted.setdefault(g, []).append((False, box))
                break
    out: list[Case] = []
    cap = cv2.VideoCapture(str(vtest_path))
    index = 0
    while index <= max(wanted):
        ok, image = cap.read()
        assert ok
        for person, box in wanted.get(index, ()):
            h, w = image.shape[:2]
            x1, y1, x2, y2 = crop_box(box, cam.events.crop_margin, w, h).to_int()
            piece = redactor.redact(np.ascontiguousarray(image[y1:y2, x1:x2])).image
            out.append(Case(person, encode_jpeg(piece, cam.events.crop_quality)))
        index += 1
    cap.release()
    return out


def ask(judge: EnsembleJudge | OracleJudge, jpeg: bytes, name: str) -> Verdict:
    request = build_hard_case_request(jpeg, hard_case_id=name, label=PERSON, score=0.7)
    wire = InferenceRequest.model_validate_json(request.model_dump_json())
    response = InferenceResponse.model_validate_json(judge(wire).model_dump_json())
    case = HardCase(name, "cam", PERSON, 0.7, 0.7, {})
    return verdict_from_response(case, response, min_score=0.5, round_trip_ms=1)


@pytest.fixture(scope="module")
def ensemble(judge_models: dict[str, Path]) -> EnsembleJudge:
    del judge_models
    return EnsembleJudge(PersonEnsemble())


def test_ensemble_confirms_people_and_rejects_empty_places(
    cases: list[Case], ensemble: EnsembleJudge, oracle_models: dict[str, Path]
) -> None:
    del oracle_models
    oracle = OracleJudge(PersonOracle())
    people = [c for c in cases if c.person]
    empty = [c for c in cases if not c.person]
    assert len(people) == len(vtest_truth())
    assert len(empty) >= 20

    def confirmed(judge: EnsembleJudge | OracleJudge, group: list[Case]) -> int:
        return sum(
            ask(judge, c.jpeg, f"c{i}").outcome is Outcome.CONFIRMED for i, c in enumerate(group)
        )

    ens_people, ens_empty = confirmed(ensemble, people), confirmed(ensemble, empty)
    oracle_people = confirmed(oracle, people)
    assert ens_people >= 0.85 * len(people)
    # At least the previous judge on these people. Since faces are blurred head-shaped
    # (not pixelated) both confirm every one here; `python -m bench.judge_accuracy`
    # measures the difference on 334 crops.
    assert ens_people >= oracle_people
    assert ens_empty <= 1  # pavement, tape, the sign: not people


def test_ensemble_verdict_carries_people_boxes_and_members(
    cases: list[Case], ensemble: EnsembleJudge
) -> None:
    person = next(c for c in cases if c.person)
    image = cv2.imdecode(np.frombuffer(person.jpeg, np.uint8), cv2.IMREAD_COLOR)
    request = build_hard_case_request(person.jpeg, hard_case_id="p", label=PERSON, score=0.7)
    response = ensemble(request)
    members = response.output("members").as_numpy().reshape(-1)
    assert members.shape == (4,)
    assert ((members >= 0) & (members <= 1)).all()
    verdict = ask(ensemble, person.jpeg, "p")
    assert verdict.outcome is Outcome.CONFIRMED
    assert verdict.cloud_score == pytest.approx(float(members[:3].max()), abs=1e-4)
    for box in verdict.people:  # fractions of the crop
        assert 0.0 <= box.x1 < box.x2 <= 1.0
        assert 0.0 <= box.y1 < box.y2 <= 1.0
    assert image is not None


def test_ensemble_never_fails_on_thin_tiny_or_bad_input(ensemble: EnsembleJudge) -> None:
    for shape in ((1, 1, 3), (2, 40, 3), (120, 3, 3), (9, 9, 3)):
        crop = np.full(shape, 128, np.uint8)
        verdict = ensemble.ensemble.judge(crop)
        assert not verdict.is_person
        assert verdict.boxes == ()
    with pytest.raises(InferenceInputError):
        ensemble(InferenceRequest(inputs=[RequestInput.from_bytes("text", [b"hi"])]))


@pytest.mark.parametrize(
    ("frame_index", "box"),
    [
        # people the judge confirms unredacted (0.86-0.996) and, on lab.judge_crops'
        # copies, scored 0.11-0.40 when their heads were pixelated into square blocks (the
        # redaction before 2026-11-30; it fails this test on frame 544): a head-shaped
        # blur leaves them people (0.82-0.91)
        (21, Box(417.0, 211.2, 465.2, 314.5)),
        (544, Box(434.2, 173.6, 458.2, 266.3)),
        (711, Box(605.2, 207.4, 639.2, 297.8)),
    ],
)
def test_redacted_people_stay_people_to_the_judge(
    vtest_path: Path,
    ensemble: EnsembleJudge,
    model_paths: dict[str, Path],
    frame_index: int,
    box: Box,
) -> None:
    """Faces leave blurred, and the judge still gets enough to judge a person (issue 10)."""
    del model_paths
    cam, _ = shipped_person_camera()
    frame = clip_frame(vtest_path, frame_index)
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = crop_box(box, cam.events.crop_margin, w, h).to_int()
    crop = np.ascontiguousarray(frame[y1:y2, x1:x2], dtype=np.uint8)
    check = Detector.from_catalogue(FACE_MODEL, score_threshold=0.1)
    redactor = FaceRedactor(
        Detector.from_catalogue(FACE_MODEL, score_threshold=0.1),
        threshold=cam.privacy.face_threshold,
        jpeg_quality=cam.events.crop_quality,
    )
    out = redactor.redact(crop)
    assert out.faces >= 1  # something was blurred: the judge sees the redacted picture
    jpeg = encode_jpeg(out.image, cam.events.crop_quality)
    sent = np.asarray(cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR), np.uint8)
    assert [d for d in check.detect(sent) if d.score >= 0.5] == []
    verdict = ask(ensemble, jpeg, f"f{frame_index}")
    assert verdict.outcome is Outcome.CONFIRMED, verdict.cloud_score
