"""Where edgegw keeps what it fetches and stores: models, footage, samples, the outbox."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

__all__ = ["DATA_DIR_ENV", "default_data_dir"]

DATA_DIR_ENV = "EDGEGW_DATA_DIR"


def default_data_dir() -> Path:
    """Return `$EDGEGW_DATA_DIR`, or the user cache dir for edgegw."""
    env = os.environ.get(DATA_DIR_ENV)
    return Path(env) if env else Path(platformdirs.user_cache_dir("edgegw"))
