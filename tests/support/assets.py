"""What the tests fetch: model names, grouped by who needs them.

The session fixtures in tests/conftest.py fetch each group before its first user.
"""

from __future__ import annotations

from refcloud.judges import DEFAULT_JUDGE, JUDGE_MODELS

__all__ = ["JUDGE_MODEL_NAMES", "ORACLE_MODELS", "TEST_MODELS", "VWW"]

VWW = "visual_wake_words"
"""The person classifier the camera tests and `configs/demo.yaml` run."""

TEST_MODELS = ("blazeface_short", "blazeface_full", "efficientnet_lite0", VWW)
"""The models the vision tests run directly."""

ORACLE_MODELS = ("deeplabv3", "pose_detection")
"""The models of the person oracle (evaluation)."""

JUDGE_MODEL_NAMES = JUDGE_MODELS[DEFAULT_JUDGE]
"""The models `edgegw cloud serve` loads for its default judge."""
