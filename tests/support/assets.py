"""What the tests fetch: model names, grouped by who needs them.

The session fixtures in tests/conftest.py fetch each group before its first user.
"""

from __future__ import annotations

from gateway.vision.redact import FACE_MODEL
from refcloud.judges import DEFAULT_JUDGE, JUDGE_MODELS
from refcloud.namer import NAMING_MODEL

__all__ = ["DEFAULT_RUN_MODELS", "JUDGE_MODEL_NAMES", "ORACLE_MODELS", "TEST_MODELS", "VWW"]

VWW = "visual_wake_words"
"""The person classifier the camera tests and `configs/demo.yaml` run."""

TEST_MODELS = ("blazeface_short", "blazeface_full", "efficientnet_lite0", VWW)
"""The models the vision tests run directly."""

ORACLE_MODELS = ("deeplabv3", "pose_detection")
"""The models of the person oracle (evaluation)."""

JUDGE_MODEL_NAMES = (*JUDGE_MODELS[DEFAULT_JUDGE], NAMING_MODEL)
"""The models `edgegw cloud serve` loads: its default judge and the naming judge."""

DEFAULT_RUN_MODELS = (FACE_MODEL, *JUDGE_MODEL_NAMES)
"""What a gateway with any camera (faces are blurred by default: `privacy.redact_faces`)
and a default `cloud serve` load, whichever test starts them."""
