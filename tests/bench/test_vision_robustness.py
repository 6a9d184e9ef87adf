"""`python -m bench.vision_robustness`: the shipped camera, and four near variants, scored."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bench.vision_pipeline import read_video, shipped_person_camera
from bench.vision_robustness import (
    Footage,
    footage_frames,
    footage_truth,
    main,
    variants,
    with_settings,
)
from gateway.inference.geometry import Box
from lab.evaluation import TrackPath, match_events
from lab.footage import fetch_vtest
from lab.truth import vtest_truth

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


def test_mirrored_and_reversed_footage_carry_their_truth_with_them() -> None:
    """Each played frame shows the person where the changed truth says: the pixels under a
    truth box in the played frame are the pixels under the original box in the original."""
    frames = 40
    original = list(read_video(str(fetch_vtest()), frames))
    width = original[0].shape[1]
    truth = vtest_truth()
    person = next(p for p in truth if 0 in p.boxes and 39 in p.boxes)
    for footage in Footage:
        played = list(footage_frames(iter([f.copy() for f in original]), footage))
        assert len(played) == frames
        moved = {p.id: p for p in footage_truth(truth, footage, frames=frames, width=width)}
        assert all(f < frames for p in moved.values() for f in p.boxes)  # clipped to the run
        assert len(moved[person.id].boxes) == sum(f < frames for f in person.boxes)
        for f in (0, 39):
            shown = moved[person.id]
            g = {Footage.REVERSED: frames - 1 - f}.get(footage, f)
            b = shown.boxes[g]
            cut = played[g][int(b.y1) : int(b.y2), int(b.x1) : int(b.x2)]
            src = person.boxes[f]
            want = original[f][int(src.y1) : int(src.y2), int(src.x1) : int(src.x2)]
            if footage is Footage.MIRRORED:
                want = original[f][int(src.y1) : int(src.y2), width - int(b.x2) : width - int(b.x1)]
                want = want[:, ::-1]
            assert cut.shape == want.shape
            assert np.array_equal(cut, want), footage


def test_changed_truth_keeps_every_person_and_box() -> None:
    truth = vtest_truth()
    for footage in (Footage.MIRRORED, Footage.REVERSED):
        moved = footage_truth(truth, footage, frames=795, width=768)
        assert [len(p.boxes) for p in moved] == [len(p.boxes) for p in truth]
        assert match_events(moved, moved).precision == 1.0


def test_a_mirrored_box_keeps_its_size() -> None:
    path = TrackPath(1, {0: Box(10.0, 20.0, 40.0, 90.0)})
    (out,) = footage_truth([path], Footage.MIRRORED, frames=1, width=100)
    assert out.boxes[0] == Box(60.0, 20.0, 90.0, 90.0)
    (back,) = footage_truth([path], Footage.REVERSED, frames=5, width=100)
    assert back.boxes == {4: path.boxes[0]}
