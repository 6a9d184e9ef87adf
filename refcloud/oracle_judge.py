"""The oracle as the reference cloud server's hard-case judge (an Open Inference Protocol model).

Host it with `refcloud.serve(..., models={"person": OracleJudge(PersonOracle())})`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from gateway.inference.geometry import Box
from refcloud import read_model_image
from refcloud.oracle import PERSON, PersonOracle

__all__ = ["OracleJudge", "person_outputs"]


class OracleJudge:
    """A sync Open Inference Protocol model for `refcloud`: the oracle on a crop.

    Answers `label` (BYTES: `person` or `background`) and `score` (FP32), the outputs
    `cloud_bridge.uplink.hard_cases.verdict_from_response` reads, and `boxes` (FP32,
    `[N, 4]`): the people found, as `x1, y1, x2, y2` fractions of the crop's width and
    height, so a group the edge saw as one blob comes back as N people.
    """

    def __init__(self, oracle: PersonOracle, *, name: str = PERSON) -> None:
        self.name = name
        self.oracle = oracle
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, request: InferenceRequest) -> InferenceResponse:
        """Judge the request's image."""
        image = read_model_image(request)
        with self._lock:
            verdict = self.oracle.judge_crop(image)
            self.calls += 1
        height, width = image.shape[:2]
        return InferenceResponse(
            model_name=self.name,
            outputs=person_outputs(
                verdict.is_person, verdict.score, verdict.boxes, width=width, height=height
            ),
        )


def person_outputs(
    is_person: bool, score: float, boxes: Sequence[Box], *, width: int, height: int
) -> list[ResponseOutput]:
    """A person judge's answer on a `width` x `height` crop: `label` (`person` or
    `background`), `score` (for that label: `score` for a person, one minus it for
    background) and `boxes` (the people found, as fractions of the crop, `[N, 4]`)."""
    fractions = np.asarray(
        [[b.x1 / width, b.y1 / height, b.x2 / width, b.y2 / height] for b in boxes],
        dtype=np.float32,
    ).reshape(-1, 4)
    label = PERSON if is_person else "background"
    answer = score if is_person else 1.0 - score
    return [
        ResponseOutput.from_strings("label", [label]),
        ResponseOutput.from_numpy("score", np.asarray([answer], dtype=np.float32)),
        ResponseOutput.from_numpy("boxes", fractions),
    ]
