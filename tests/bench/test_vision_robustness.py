"""`python -m bench.vision_robustness`: the shipped camera, and four near variants, scored."""

from __future__ import annotations

import json

import pytest

from bench.vision_pipeline import shipped_person_camera
from bench.vision_robustness import main, variants

pytestmark = pytest.mark.usefixtures("footage_paths")


def test_each_variant_moves_one_setting_a_small_step() -> None:
    cam, model = shipped_person_camera()
    runs = variants(threads=1)
    assert runs[0].name == "shipped"
    thresholds = sorted(v.model.score_threshold for v in runs)
    assert thresholds[0] == pytest.approx(model.score_threshold - 0.05)
    assert thresholds[-1] == pytest.approx(model.score_threshold + 0.05)
    intervals = sorted(v.camera.objects.full_frame_interval_s for v in runs)
    base = cam.objects.full_frame_interval_s
    assert (intervals[0], intervals[-1]) == (base - 0.5, base + 0.5)
    changed = [
        (v.model.score_threshold != model.score_threshold)
        + (v.camera.objects.full_frame_interval_s != base)
        for v in runs
    ]
    assert changed == [0, 1, 1, 1, 1]  # one knob each, the rest as shipped
    # the lower threshold reaches the tracker: its low stage comes down with it
    lower = runs[1]
    assert lower.model.score_threshold < model.score_threshold
    assert lower.camera.tracker.min_score == pytest.approx(cam.tracker.min_score - 0.05)
    assert all(v.camera.tracker.min_score == cam.tracker.min_score for v in runs[2:])
    assert all(v.model.num_threads == 1 for v in runs)


def test_the_summary_line_covers_every_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--frames", "60", "--threads", "1"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert len(result["runs"]) == 5
    for key in ("idf1", "event_recall", "event_precision"):
        values = [run[key] for run in result["runs"]]
        assert result[f"{key}_min"] == min(values)
        assert min(values) <= result[f"{key}_mean"] <= max(values)
        assert all(0.0 <= v <= 1.0 for v in values)
    assert all(run["tracks"] >= 1 for run in result["runs"])  # people walk in 60 frames
