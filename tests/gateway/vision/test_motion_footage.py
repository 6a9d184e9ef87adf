"""Footage fetch: pinned checksums, cache, and a clear error without apt."""

from __future__ import annotations

import hashlib
from pathlib import Path

import cv2
import pytest

from gateway.errors import EdgegwError
from lab.footage import FOOTAGE_FILES, FootageError, default_data_dir, fetch_footage


def test_cached_files_match_their_pins(vtest_path: Path) -> None:
    paths = fetch_footage(vtest_path.parent.parent)  # cached: no apt call
    for f in FOOTAGE_FILES:
        assert hashlib.sha256(paths[f.name].read_bytes()).hexdigest() == f.sha256
    cap = cv2.VideoCapture(str(paths["vtest.avi"]))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 795
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (768, 576)
    cap.release()
    assert cv2.imread(str(paths["messi5.jpg"])) is not None


def test_data_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EDGEGW_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path


def test_without_apt_the_error_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(FootageError, match="apt-get") as info:
        fetch_footage(tmp_path)
    assert isinstance(info.value, EdgegwError)
    assert "footage" in str(info.value)
