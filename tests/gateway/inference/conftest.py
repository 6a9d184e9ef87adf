"""Helpers for the vision tests; their models and images come from tests/conftest.py."""

from __future__ import annotations

from gateway.inference.preprocess import ImageTransform


def identity_transform(width: int = 640, height: int = 640) -> ImageTransform:
    """Return the transform of an image that already had the model's input size."""
    return ImageTransform(1.0, 1.0, 0.0, 0.0, width, height, width, height)
