"""`python -m bench.vision_robustness`: the shipped camera, and four near variants, scored."""

from __future__ import annotations

import json

import pytest

from bench.vision_pipeline import shipped_person_camera
from bench.vision_robustness import main, variants, with_settings
from lab.playback import Footage

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
    assert changed == [0, 1, 1, 1, 1, 0, 0]  # one knob each, the rest as shipped
    assert [v.footage for v in runs] == [Footage.AS_SHOT] * 5 + [
        Footage.MIRRORED,
        Footage.REVERSED,
    ]
    # the lower threshold reaches the tracker: its low stage comes down with it
    lower = runs[1]
    assert lower.model.score_threshold < model.score_threshold
    assert lower.camera.tracker.min_score == pytest.approx(cam.tracker.min_score - 0.05)
    assert all(v.camera.tracker.min_score == cam.tracker.min_score for v in runs[2:])
    assert runs[5].camera == runs[6].camera == cam  # the footage runs: the camera as shipped
    assert all(v.model.num_threads == 1 for v in runs)


def test_the_summary_line_covers_every_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--frames", "60", "--threads", "1"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    result = json.loads(last)
    assert len(result["runs"]) == 7
    for key in ("idf1", "event_recall", "event_precision"):
        values = [run[key] for run in result["runs"]]
        assert result[f"{key}_min"] == min(values)
        assert min(values) <= result[f"{key}_mean"] <= max(values)
        assert all(0.0 <= v <= 1.0 for v in values)
    assert all(run["tracks"] >= 1 for run in result["runs"])  # people walk in 60 frames


def test_set_changes_the_shipped_camera_before_the_steps() -> None:
    cam, _ = shipped_person_camera()
    runs = variants(threads=1, settings=["tracker.max_cost=0", "objects.full_frame_interval_s=3"])
    assert all(v.camera.tracker.max_cost == 0 for v in runs)
    assert cam.tracker.max_cost > 0  # shipped with the cap: the setting took
    intervals = sorted(v.camera.objects.full_frame_interval_s for v in runs)
    assert (intervals[0], intervals[-1]) == (2.5, 3.5)  # the steps are taken from the new value
    assert runs[0].camera.tracker.model_copy(update={"max_cost": cam.tracker.max_cost}) == (
        cam.tracker
    )  # nothing else moved


@pytest.mark.parametrize(
    ("item", "says"),
    [
        ("tracker.nope=1", "tracker has no setting 'nope'"),
        ("nope.max_cost=1", "the camera has no setting 'nope'"),
        ("tracker.max_cost", "expected SECTION.KEY=VALUE"),
        ("tracker.max_cost=-1", "tracker.max_cost"),
        ("tracker.max_cost=[1, 2]", "tracker.max_cost"),
    ],
)
def test_a_bad_setting_is_a_clear_error(
    item: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cam, _ = shipped_person_camera()
    with pytest.raises(ValueError, match="--set"):
        with_settings(cam, [item])
    with pytest.raises(SystemExit) as exited:
        main(["--set", item])
    assert exited.value.code == 2
    assert says in capsys.readouterr().err


def test_the_summary_line_names_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--frames", "30", "--threads", "1", "--set", "tracker.max_cost=0"]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert json.loads(last)["settings"] == ["tracker.max_cost=0"]
