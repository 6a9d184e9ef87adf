"""Fixtures: the reference cloud process (`edgegw cloud serve`) of the cloud link's tests."""

from __future__ import annotations

from tests.gateway.cloudlink.conftest import cloud, cloud_process

__all__ = ["cloud", "cloud_process"]
