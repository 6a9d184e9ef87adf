"""The oracle as the reference cloud server's hard-case judge (an Open Inference Protocol model).

Host it with `refcloud.serve(..., models={"person": OracleJudge(PersonOracle())})`.
"""

from __future__ import annotations

import threading

import numpy as np

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from refcloud import InferenceInputError
from refcloud.images import read_image
from refcloud.oracle import PERSON, PersonOracle

__all__ = ["OracleJudge"]


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
        try:
            image = read_image(request)
        except (KeyError, ValueError) as exc:
            raise InferenceInputError.from_error(exc) from exc
        with self._lock:
            verdict = self.oracle.judge_crop(image)
            self.calls += 1
        h, w = image.shape[:2]
        boxes = np.asarray(
            [[b.x1 / w, b.y1 / h, b.x2 / w, b.y2 / h] for b in verdict.boxes], dtype=np.float32
        ).reshape(-1, 4)
        label = PERSON if verdict.is_person else "background"
        score = verdict.score if verdict.is_person else 1.0 - verdict.score
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                ResponseOutput.from_strings("label", [label]),
                ResponseOutput.from_numpy("score", np.asarray([score], dtype=np.float32)),
                ResponseOutput.from_numpy("boxes", boxes),
            ],
        )
