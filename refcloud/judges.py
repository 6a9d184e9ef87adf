"""The hard-case judges the reference cloud can host, built by name.

`edgegw cloud serve` and `edgegw demo` both build their judge here, so the demo's cloud,
the served cloud and the hybrid bench judge hard cases with the same model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from refcloud.app import ModelFn

JudgeKind = Literal["ensemble", "oracle", "segmentation"]

DEFAULT_JUDGE: JudgeKind = "ensemble"
"""The best judge on the hand-verified truth (`python -m bench.judge_accuracy`)."""

JUDGE_MODELS: dict[JudgeKind, tuple[str, ...]] = {
    "ensemble": ("deeplabv3", "pose_detection", "visual_wake_words", "person_ssdlite"),
    "oracle": ("deeplabv3", "pose_detection"),
    "segmentation": ("deeplabv3",),
}
"""Model-store names each judge needs (`edgegw models fetch ...`)."""


def make_judge(kind: JudgeKind, *, name: str, model_path: Path | None = None) -> ModelFn:
    """Load the judge `kind` under the OIP model name `name` (loads its models)."""
    if kind == "segmentation":
        from refcloud.cloud_model import SegmentationJudge

        return SegmentationJudge(name=name, model_path=model_path)
    if kind == "ensemble":
        from refcloud.ensemble import PersonEnsemble
        from refcloud.ensemble_judge import EnsembleJudge

        return EnsembleJudge(PersonEnsemble(threads=2), name=name)
    from refcloud.oracle import PersonOracle
    from refcloud.oracle_judge import OracleJudge

    return OracleJudge(PersonOracle(threads=2), name=name)
