"""The hard-case judges the reference cloud can host, built by name.

`edgegw cloud serve` and `edgegw demo` both build their judge here, so the demo's cloud,
the served cloud and the hybrid bench judge hard cases with the same model. Next to the
person judge they host the naming judge (`make_namer`, EfficientNet-Lite0) under
`NAMING_MODEL_NAME`, the model the gateway sends unknown objects to (`cloud.unknown_model`).
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

NAMING_MODEL_NAME = "objects"
"""The OIP name the naming judge is hosted under (the gateway's `cloud.unknown_model`)."""
NAMER_MODELS: tuple[str, ...] = ("efficientnet_lite0",)
"""Model-store names the naming judge needs."""


def make_namer(*, name: str = NAMING_MODEL_NAME) -> ModelFn:
    """Load the naming judge (EfficientNet-Lite0, coarse labels) under the OIP name `name`."""
    from refcloud.namer import NamingJudge

    return NamingJudge(name=name)


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
