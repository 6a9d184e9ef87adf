"""The ensemble as the reference cloud server's hard-case judge (an Open Inference Protocol model).

The same outputs as `refcloud.oracle_judge.OracleJudge` (`label`, `score`, `boxes`), so the
gateway reads either the same way; `members` (FP32, `[4]`: detector, wake words, mask,
pose) says why.
"""

from __future__ import annotations

import threading

import numpy as np

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from refcloud import read_model_image
from refcloud.ensemble import PersonEnsemble
from refcloud.oracle import PERSON
from refcloud.oracle_judge import person_outputs

__all__ = ["EnsembleJudge"]


class EnsembleJudge:
    """A sync Open Inference Protocol model for `refcloud`: the ensemble on a crop.

    Answers `label` (BYTES: `person` or `background`), `score` (FP32: the ensemble's
    score for a person, one minus it for background), `boxes` (FP32, `[N, 4]`: the people
    found, `x1, y1, x2, y2` as fractions of the crop) and `members` (FP32, `[4]`).
    """

    def __init__(self, ensemble: PersonEnsemble, *, name: str = PERSON) -> None:
        self.name = name
        self.ensemble = ensemble
        self._lock = threading.Lock()
        self.calls = 0

    def __call__(self, request: InferenceRequest) -> InferenceResponse:
        """Judge the request's image."""
        image = read_model_image(request)
        with self._lock:
            verdict = self.ensemble.judge(image)
            self.calls += 1
        height, width = image.shape[:2]
        members = np.asarray(list(verdict.members.as_dict().values()), dtype=np.float32)
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                *person_outputs(
                    verdict.is_person, verdict.score, verdict.boxes, width=width, height=height
                ),
                ResponseOutput.from_numpy("members", members),
            ],
        )
