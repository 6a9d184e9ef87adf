"""The cheap-edge camera (configs/cheap-edge.yaml) and `bench.hybrid --sweep` on real frames."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from bench.hybrid_run import CAMERAS, config_camera, parse_args
from bench.sweep import run_sweep
from bench.vision_pipeline import read_video, shipped_person_camera
from gateway.config import load_config
from gateway.vision.analyzer import FrameAnalyzer
from gateway.vision.component import build_detector
from lab.footage import fetch_vtest

REPO = Path(__file__).resolve().parents[2]

# The sweep blurs faces (BlazeFace), names unknown objects (EfficientNet-Lite0) and runs
# the reference cloud's default judge: fetched here, not by whichever test ran first.
pytestmark = pytest.mark.usefixtures("model_paths", "judge_models", "footage_paths")


def test_cheap_edge_config_loads_and_is_cheaper_than_the_shipped_camera() -> None:
    config = load_config(REPO / "configs" / "cheap-edge.yaml")
    assert config.cloud.enabled  # the cheap edge is meant to lean on the cloud
    cheap, cheap_model = config_camera(CAMERAS["cheap"])
    strong, strong_model = shipped_person_camera()
    assert not cheap.motion.enabled
    assert strong.motion.enabled
    assert cheap.detect_fps < strong.detect_fps
    assert cheap_model.score_threshold < strong_model.score_threshold
    cheap_band = cheap.escalation.high - cheap.escalation.low
    assert cheap_band > strong.escalation.high - strong.escalation.low


def test_cheap_edge_runs_the_detector_once_per_frame_on_the_whole_frame() -> None:
    cam, model = config_camera(CAMERAS["cheap"])
    analyzer = FrameAnalyzer(cam, model, build_detector(model))
    outcomes = [
        analyzer.process(image, i / 10) for i, image in enumerate(read_video(str(fetch_vtest()), 8))
    ]
    assert [o.detector_calls for o in outcomes] == [1] * 8
    assert analyzer.full_frame_passes == 0  # no periodic extra look: the whole frame is all
    assert sum(o.detections for o in outcomes) > 0  # vtest's first frames have people


def test_sweep_writes_four_rows_and_a_plot(tmp_path: Path) -> None:
    args = parse_args(["--sweep", "--frames", "30", "--out", str(tmp_path)])
    assert run_sweep(args) == 0
    doc = json.loads((tmp_path / "sweep.json").read_text(encoding="utf-8"))
    rows = {r["name"]: r for r in doc["rows"]}
    assert set(rows) == {"cheap edge", "cheap edge+cloud", "strong edge", "strong edge+cloud"}
    assert rows["cheap edge"]["processed_frames"] == 15  # detect_fps 5 on a 10 fps clip
    assert rows["strong edge"]["processed_frames"] == 30
    assert rows["cheap edge"]["detector_calls"] == 15  # one whole-frame call per frame
    for r in rows.values():
        assert r["edge_cpu_s"] > 0
        assert 0 < r["uplink_bytes"] < doc["all_cloud_bytes"]
        assert r["cloud_calls"] == 0 or r["cloud"]
    # With the cloud, the uplink is the edge-only events plus crops and hard-case events.
    for camera in ("cheap", "strong"):
        edge, cloud = rows[f"{camera} edge"], rows[f"{camera} edge+cloud"]
        assert cloud["uplink_bytes"] >= edge["uplink_bytes"]
    plot = cv2.imread(str(tmp_path / "sweep.png"))
    assert plot is not None
    assert plot.shape[0] > 100
    assert np.any(plot != 255)
