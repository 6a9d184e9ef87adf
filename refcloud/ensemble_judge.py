"""The ensemble as the reference cloud server's hard-case judge (an Open Inference Protocol model).

The same outputs as `refcloud.oracle_judge.OracleJudge` (`label`, `score`, `boxes`), so the
gateway reads either the same way; `members` (FP32, `[4]`: detector, wake words, mask,
pose) says why.
"""

from __future__ import annotations

import threading

import numpy as np

from cloud_bridge.oip import InferenceRequest, InferenceResponse, ResponseOutput
from refcloud import InferenceInputError
from refcloud.ensemble import PersonEnsemble
from refcloud.images import read_image
from refcloud.oracle import PERSON

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
        try:
            image = read_image(request)
        except (KeyError, ValueError) as exc:
            raise InferenceInputError.from_error(exc) from exc
        with self._lock:
            verdict = self.ensemble.judge(image)
            self.calls += 1
        h, w = image.shape[:2]
        boxes = np.asarray(
            [[b.x1 / w, b.y1 / h, b.x2 / w, b.y2 / h] for b in verdict.boxes], dtype=np.float32
        ).reshape(-1, 4)
        label = PERSON if verdict.is_person else "background"
        score = verdict.score if verdict.is_person else 1.0 - verdict.score
        members = np.asarray(list(verdict.members.as_dict().values()), dtype=np.float32)
        return InferenceResponse(
            model_name=self.name,
            outputs=[
                ResponseOutput.from_strings("label", [label]),
                ResponseOutput.from_numpy("score", np.asarray([score], dtype=np.float32)),
                ResponseOutput.from_numpy("boxes", boxes),
                ResponseOutput.from_numpy("members", members),
            ],
        )
