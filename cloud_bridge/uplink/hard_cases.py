"""Hard cases in the outbox, and the cloud model's answer turned into a verdict.

A hard case waits in the outbox as a small JSON document (`HardCase.to_payload`) with
the JPEG crop as the item's media. The cloud model answers with two outputs, `label`
(BYTES, one string) and `score` (one number: the model's confidence in that label);
`verdict_from_response` compares that with the edge's guess. A judge that finds objects
may also answer `boxes` (`[N, 4]`, `x1, y1, x2, y2` as fractions of the crop): the
verdict's `people`, so a group the edge saw as one object comes back as N objects.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass
from typing import Any

from cloud_bridge.errors import UplinkProtocolError
from cloud_bridge.oip.protocol import InferenceResponse

__all__ = [
    "NEGATIVE_LABELS",
    "CropBox",
    "HardCase",
    "Outcome",
    "Verdict",
    "verdict_from_message",
    "verdict_from_response",
]

NEGATIVE_LABELS = frozenset({"", "background", "none", "no_object", "non_person"})
"""Cloud labels that mean "nothing there": the edge's guess is rejected."""


@dataclass(slots=True, frozen=True)
class HardCase:
    """What the edge could not settle: its guess about `source`'s crop, and the band.

    `band_middle` is the middle of the escalation band the score fell into; the
    distance from it orders hard cases by uncertainty (closest first).
    """

    id: str
    source: str
    label: str
    score: float
    band_middle: float
    extra: dict[str, Any]

    @property
    def uncertainty(self) -> float:
        """1.0 at the band's middle, falling to 0.0 one unit of score away."""
        return max(0.0, 1.0 - abs(self.score - self.band_middle))

    def to_payload(self) -> bytes:
        """The outbox payload (JSON)."""
        return json.dumps(
            {
                "id": self.id,
                "source": self.source,
                "label": self.label,
                "score": self.score,
                "band_middle": self.band_middle,
                "extra": self.extra,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_payload(cls, payload: bytes) -> HardCase:
        """Read an outbox payload back; ValueError when it is not one."""
        try:
            raw = json.loads(payload)
            return cls(
                id=str(raw["id"]),
                source=str(raw["source"]),
                label=str(raw["label"]),
                score=float(raw["score"]),
                band_middle=float(raw["band_middle"]),
                extra=dict(raw.get("extra") or {}),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a hard-case payload: {exc}") from exc


class Outcome(enum.StrEnum):
    """What the cloud made of the edge's guess."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    RELABELLED = "relabelled"
    UNSURE = "unsure"
    """A weak no: the cloud neither confirms nor is sure enough to reject; the edge stands."""


@dataclass(slots=True, frozen=True)
class CropBox:
    """One object the cloud found in a crop, as fractions (0-1) of the crop's size."""

    x1: float
    y1: float
    x2: float
    y2: float

    def to_json(self) -> dict[str, float]:
        """Return the box as a JSON-ready mapping."""
        return {k: round(getattr(self, k), 4) for k in ("x1", "y1", "x2", "y2")}


@dataclass(slots=True, frozen=True)
class Verdict:
    """The cloud's judgement of one hard case."""

    hard_case: HardCase
    outcome: Outcome
    cloud_label: str
    cloud_score: float
    model_name: str
    model_version: str | None
    round_trip_ms: float
    people: tuple[CropBox, ...] = ()
    """The objects the cloud found in the crop (its `boxes` output; empty without one)."""


def verdict_from_response(
    case: HardCase,
    response: InferenceResponse,
    *,
    min_score: float,
    round_trip_ms: float,
    reject_score: float = 0.0,
) -> Verdict:
    """Compare the cloud's `label`/`score` outputs with the edge's guess.

    Confirmed: same label with score >= `min_score`. Relabelled: another label. A no (a
    negative label, or the same label below `min_score`) is rejected when the cloud is
    sure of it: the negative label scored >= `reject_score`, or the edge's label scored
    <= 1 - `reject_score` (a two-way judge's complement); a weaker no is unsure, and the
    edge's answer stands (0: every no rejects). Raises UplinkProtocolError when the
    outputs are missing or malformed (the model is not a hard-case judge).
    """
    try:
        labels = response.output("label").as_strings()
        scores = response.output("score").as_numpy().reshape(-1)
        if len(labels) != 1 or scores.size != 1:
            raise ValueError(f"expected one label and one score, got {len(labels)}/{scores.size}")
        label, score = labels[0], float(scores[0])
    except (KeyError, ValueError, TypeError) as exc:
        raise UplinkProtocolError(
            f"model {response.model_name!r} answered without usable label/score outputs: {exc}"
        ) from exc
    if label.lower() in NEGATIVE_LABELS or (label == case.label and score < min_score):
        outcome = Outcome.REJECTED if _sure_no(label, score, reject_score) else Outcome.UNSURE
    elif label == case.label:
        outcome = Outcome.CONFIRMED
    else:
        outcome = Outcome.RELABELLED
    people = _crop_boxes(response) if outcome is Outcome.CONFIRMED else ()
    return Verdict(
        hard_case=case,
        outcome=outcome,
        cloud_label=label,
        cloud_score=score,
        model_name=response.model_name,
        model_version=response.model_version,
        round_trip_ms=round_trip_ms,
        people=people,
    )


def _sure_no(label: str, score: float, reject_score: float) -> bool:
    """Whether a no is sure enough to retract: its negative label scored `reject_score`, or
    the edge's label (a two-way judge's complement) at most 1 - `reject_score`."""
    if label.lower() in NEGATIVE_LABELS:
        return score >= reject_score
    return score <= 1.0 - reject_score


def _crop_boxes(response: InferenceResponse) -> tuple[CropBox, ...]:
    """Read the optional `boxes` output; UplinkProtocolError when it is malformed."""
    try:
        tensor = response.output("boxes")
    except KeyError:
        return ()
    try:
        rows = tensor.as_numpy().astype(float).reshape(-1, 4)
    except (ValueError, TypeError) as exc:
        raise UplinkProtocolError(f"model {response.model_name!r}: bad `boxes`: {exc}") from exc
    out = []
    for x1, y1, x2, y2 in rows.clip(0.0, 1.0).tolist():
        if x2 > x1 and y2 > y1:
            out.append(CropBox(x1, y1, x2, y2))
    return tuple(out)


def verdict_from_message(payload: bytes, *, reject_score: float = 0.0) -> Verdict:
    """Read a verdict the cloud published on a broker topic; ValueError when it is not one.

    The cloud decided the outcome; a `rejected` one is still weighed as an OIP answer is:
    unless the no is sure (`reject_score`, see `verdict_from_response`) it is `unsure`.

    The message is one JSON object: ``{"hard_case": {"id", "source", "label", "score",
    "band_middle"?, "extra"?}, "verdict": "confirmed" | "rejected" | "relabelled" | "unsure",
    "cloud_label", "cloud_score", "model", "model_version"?, "people"?: [{"x1", "y1",
    "x2", "y2"}]}`` (boxes as fractions of the crop, as the `boxes` output).
    """
    try:
        raw = json.loads(payload)
        case_raw = raw["hard_case"]
        case = HardCase(
            id=str(case_raw["id"]),
            source=str(case_raw["source"]),
            label=str(case_raw["label"]),
            score=float(case_raw["score"]),
            band_middle=float(case_raw.get("band_middle", case_raw["score"])),
            extra=dict(case_raw.get("extra") or {}),
        )
        people = tuple(
            CropBox(*(min(1.0, max(0.0, float(box[k]))) for k in ("x1", "y1", "x2", "y2")))
            for box in raw.get("people") or ()
        )
        version = raw.get("model_version")
        scores = (case.score, case.band_middle, float(raw["cloud_score"]))
        if not all(math.isfinite(x) for x in scores):
            raise ValueError("scores must be finite numbers")
        outcome = Outcome(raw["verdict"])
        label, score = str(raw["cloud_label"]), float(raw["cloud_score"])
        if outcome is Outcome.REJECTED and not _sure_no(label, score, reject_score):
            outcome = Outcome.UNSURE
        return Verdict(
            hard_case=case,
            outcome=outcome,
            cloud_label=label,
            cloud_score=score,
            model_name=str(raw["model"]),
            model_version=None if version is None else str(version),
            round_trip_ms=0.0,
            people=tuple(p for p in people if p.x2 > p.x1 and p.y2 > p.y1),
        )
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"not a verdict message: {exc!r}") from exc
