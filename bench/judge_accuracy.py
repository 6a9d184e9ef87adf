"""The cloud's person judges on hard-case crops labelled by the hand-verified truth.

    python -m bench.judge_accuracy [--per-person N] [--out DIR]

Crops (`lab.judge_crops`, cut as the shipped camera cuts a hard case: its margin, faces
blurred, JPEG at its crop quality): truth people of vtest.avi, and non-people (the same
boxes where no one stands, motion blobs and low-score edge detections that touch no
one). Each judge answers through the Open Inference Protocol as the cloud would, and its
answer is read as the gateway reads it (`verdict_from_response`, confirmed = person):

- `edge_detector`: the bundled SSDLite person detector alone on the crop (person when
  its best box scores the band's `low`), what the edge would say without a cloud;
- `oracle`: `OracleJudge` (DeepLab mask + BlazePose on the crop, the previous default);
- `ensemble`: `EnsembleJudge` (refcloud.ensemble), and each of its members at 0.5;
- `ensemble_unredacted`: the same judge on the same crops without redaction, so the
  table shows what blurring faces costs the judge.

Also (JSON `redaction`): crops in which the full-range face detector finds a face at
0.5 before and after redaction (`faces_before`, `faces_after`), and `retracted` (JSON
`reject_score`): what the ensemble's no would retract at the gateway's default
`cloud.verdict_reject_score` (people wrongly retracted, non-people retracted; the rest of
its noes are `unsure` and leave the edge's event standing) next to every no retracting.

Per judge: accuracy, recall on people (all, and the small ones under `--small` px tall),
rejection of non-people (all, and per kind), and accuracy on frames before and from
frame 400 (the ensemble's rule was chosen looking at the whole clip; the halves show
whether it holds on each). The last stdout line is the JSON summary.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from apps.demo.faces import FACE_CHECK, count_faces
from bench.hybrid_run import VERDICT_MIN_SCORE as MIN_SCORE
from bench.hybrid_run import VERDICT_REJECT_SCORE
from bench.vision_pipeline import shipped_person_camera
from cloud_bridge.oip import InferenceResponse, build_hard_case_request
from cloud_bridge.uplink import HardCase, Outcome, verdict_from_response
from gateway.inference.detector import Detector
from gateway.vision.component import build_detector
from gateway.vision.redact import FACE_MODEL, FaceRedactor
from lab.footage import fetch_vtest
from lab.judge_crops import LabelledCrop, judge_crops
from lab.truth import vtest_truth
from refcloud.app import ModelFn
from refcloud.judges import make_judge
from refcloud.oracle import PERSON

RESULTS = Path(__file__).parent / "results"
SPLIT_FRAME = 400
MEMBERS = ("detector", "wake_words", "mask", "pose")


@dataclass(slots=True, frozen=True)
class JudgeScore:
    """One judge's answers on the crop set."""

    accuracy: float
    people_recall: float
    small_people_recall: float
    non_people_rejected: float
    rejected_by_kind: dict[str, float]
    accuracy_before_400: float
    accuracy_from_400: float
    ms_per_crop: float


def score(
    crops: Sequence[LabelledCrop], said: Sequence[bool], ms: float, small: float
) -> JudgeScore:
    """Score `said` (person or not, one per crop) against the crops' labels."""
    truth = np.array([c.label == "person" for c in crops])
    pred = np.array(said)
    right = pred == truth
    tiny = np.array([c.box.height < small for c in crops]) & truth
    kinds = sorted({c.source.split(":")[0] for c in crops if c.label != "person"})
    by_kind = {
        k: _mean(~pred[[c.label != "person" and c.source.startswith(k) for c in crops]])
        for k in kinds
    }
    early = np.array([c.frame < SPLIT_FRAME for c in crops])
    return JudgeScore(
        accuracy=_mean(right),
        people_recall=_mean(pred[truth]),
        small_people_recall=_mean(pred[tiny]),
        non_people_rejected=_mean(~pred[~truth]),
        rejected_by_kind=by_kind,
        accuracy_before_400=_mean(right[early]),
        accuracy_from_400=_mean(right[~early]),
        ms_per_crop=round(ms, 1),
    )


def _mean(values: np.ndarray) -> float:
    return round(float(values.mean()), 4) if values.size else float("nan")


def oip_answers(
    judge: ModelFn, crops: Sequence[LabelledCrop]
) -> tuple[list[bool], list[InferenceResponse], float]:
    """Ask `judge` about each crop as the uplink would; read each answer as the gateway."""
    said: list[bool] = []
    responses: list[InferenceResponse] = []
    t0 = time.perf_counter()
    for i, crop in enumerate(crops):
        case = HardCase(f"case-{i}", "bench", PERSON, 0.7, 0.7, {})
        request = build_hard_case_request(crop.jpeg, hard_case_id=case.id, label=PERSON, score=0.7)
        response = judge(request)
        assert isinstance(response, InferenceResponse)  # the refcloud judges are sync
        verdict = verdict_from_response(case, response, min_score=MIN_SCORE, round_trip_ms=0.0)
        said.append(verdict.outcome is Outcome.CONFIRMED)
        responses.append(response)
    return said, responses, 1000 * (time.perf_counter() - t0) / max(1, len(crops))


@dataclass(slots=True, frozen=True)
class Retracted:
    """What a judge's noes would retract at the gateway: people (wrongly) and non-people."""

    people: int
    non_people: int


def retracted(
    crops: Sequence[LabelledCrop], responses: Sequence[InferenceResponse], reject_score: float
) -> Retracted:
    """Count the crops the gateway would retract on these answers at `reject_score`."""
    people = non_people = 0
    for i, (crop, response) in enumerate(zip(crops, responses, strict=True)):
        case = HardCase(f"case-{i}", "bench", PERSON, 0.7, 0.7, {})
        verdict = verdict_from_response(
            case,
            response,
            min_score=MIN_SCORE,
            round_trip_ms=0.0,
            reject_score=reject_score,
        )
        if verdict.outcome is Outcome.REJECTED:
            people += crop.label == "person"
            non_people += crop.label != "person"
    return Retracted(people, non_people)


def detector_answers(
    detector: Detector, crops: Sequence[LabelledCrop], low: float
) -> tuple[list[bool], float]:
    """The edge's detector alone on each crop: a person when its best box scores `low`."""
    t0 = time.perf_counter()
    said = []
    for crop in crops:
        image = np.asarray(cv2.imdecode(np.frombuffer(crop.jpeg, np.uint8), cv2.IMREAD_COLOR))
        said.append(max((d.score for d in detector.detect(image)), default=0.0) >= low)
    return said, 1000 * (time.perf_counter() - t0) / max(1, len(crops))


def table(rows: dict[str, JudgeScore]) -> list[str]:
    """The scores as a small table."""
    lines = [
        f"{'judge':<22}{'acc':>7}{'people':>8}{'small':>7}{'non-p':>7}"
        f"{'<400':>7}{'>=400':>7}{'ms':>7}"
    ]
    for name, s in rows.items():
        lines.append(
            f"{name:<22}{s.accuracy:>7.3f}{s.people_recall:>8.3f}{s.small_people_recall:>7.3f}"
            f"{s.non_people_rejected:>7.3f}{s.accuracy_before_400:>7.3f}"
            f"{s.accuracy_from_400:>7.3f}{s.ms_per_crop:>7.1f}"
        )
    return lines


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(
        prog="python -m bench.judge_accuracy", description=__doc__.split("\n")[0]
    )
    p.add_argument("--per-person", type=int, default=6, help="crops per truth person")
    p.add_argument("--small", type=float, default=60.0, help="'small': boxes under this tall")
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Build the crops, run the judges, print the table and the JSON summary line."""
    args = parse_args(argv)
    cam, model = shipped_person_camera()
    edge = build_detector(model)
    face_detector = Detector.from_catalogue(FACE_MODEL, num_threads=1, score_threshold=0.1)
    redactor = FaceRedactor(
        face_detector,
        threshold=cam.privacy.face_threshold,
        jpeg_quality=cam.events.crop_quality,  # checked as the JPEG it leaves as
    )
    crops = judge_crops(
        fetch_vtest(),
        vtest_truth(),
        edge,
        redactor,
        motion=cam.motion,
        per_person=args.per_person,
        margin=cam.events.crop_margin,
        quality=cam.events.crop_quality,
    )
    people = sum(c.label == "person" for c in crops)
    rows: dict[str, JudgeScore] = {}
    said, ms = detector_answers(edge, crops, cam.escalation.low)
    rows["edge_detector"] = score(crops, said, ms, args.small)
    said, _, ms = oip_answers(make_judge("oracle", name=PERSON), crops)
    rows["oracle"] = score(crops, said, ms, args.small)
    ensemble = make_judge("ensemble", name=PERSON)
    said, responses, ms = oip_answers(ensemble, crops)
    rows["ensemble"] = score(crops, said, ms, args.small)
    plain = [replace(c, jpeg=c.unredacted) for c in crops]
    said_plain, _, ms_plain = oip_answers(ensemble, plain)
    rows["ensemble_unredacted"] = score(plain, said_plain, ms_plain, args.small)
    members = np.array([r.output("members").as_numpy().reshape(-1) for r in responses])
    for i, name in enumerate(MEMBERS):
        rows[f"  member {name}"] = score(crops, list(members[:, i] >= MIN_SCORE), 0.0, args.small)
    tracks = len({c.source for c in crops if c.label == "person"})
    print(
        f"{len(crops)} crops: {people} of {tracks} truth people, {len(crops) - people} non-people"
    )
    for line in table(rows):
        print(line)
    redaction = {
        "faces_before": sum(count_faces(face_detector, c.unredacted) > 0 for c in crops),
        "faces_after": sum(count_faces(face_detector, c.jpeg) > 0 for c in crops),
    }
    sure, every_no = (
        retracted(crops, responses, VERDICT_REJECT_SCORE),
        retracted(crops, responses, 0.0),
    )
    print(
        f"faces at {FACE_CHECK} in crops: {redaction['faces_before']} before redaction, "
        f"{redaction['faces_after']} after"
    )
    for name, r in (("reject_score", sure), ("every no", every_no)):
        print(
            f"retracted ({name}): {r.people} of {people} people, "
            f"{r.non_people} of {len(crops) - people} non-people"
        )
    report = {
        "command": "python -m bench.judge_accuracy",
        "redaction": redaction,
        "retracted": {
            "reject_score": VERDICT_REJECT_SCORE,
            "sure": asdict(sure),
            "every_no": asdict(every_no),
        },
        "crops": len(crops),
        "people": people,
        "small_below_px": args.small,
        "judges": {k.strip(): asdict(v) for k, v in rows.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "judge_accuracy.json").write_text(json.dumps(report, indent=2) + "\n")
    summary = {
        k.strip().replace("member ", "member_"): {
            "accuracy": v.accuracy,
            "people_recall": v.people_recall,
            "non_people_rejected": v.non_people_rejected,
        }
        for k, v in rows.items()
    }
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
