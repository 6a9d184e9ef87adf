"""`python -m bench.trackers`: edgegw's tracker and norfair on the same recorded detections."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.trackers import RULES, TrackerTape, main, plain, record, replay, sources, without
from bench.vision_pipeline import read_video
from gateway.inference.geometry import Box
from lab.footage import fetch_vtest
from lab.norfair_env import NorfairFrame, NorfairSettings, norfair_tracks
from lab.playback import Footage

pytestmark = pytest.mark.usefixtures("model_paths", "footage_paths")

FRAMES = 120


def test_a_replay_of_the_recorded_detections_is_the_live_run() -> None:
    cam, model = sources(threads=1)["regions"]
    live = record(cam, model, Footage.AS_SHOT, FRAMES)
    assert len(live.seen) == FRAMES
    assert sum(len(s.detections) for s in live.seen) > FRAMES  # people on most frames
    assert any(s.looked for s in live.seen)  # the regions the detector ran on are kept
    assert len(live.tracks) >= 3
    again = replay(cam.tracker, live.seen, read_video(str(fetch_vtest()), FRAMES))
    assert again == live.tracks
    # The replay is not blind to the tracker: without its rules, the same detections
    # make other tracks.
    other = replay(plain(cam.tracker), live.seen, read_video(str(fetch_vtest()), FRAMES))
    assert other != live.tracks


def test_the_tape_records_what_the_tracker_is_given() -> None:
    cam, _model = sources(threads=1)["regions"]
    tape = TrackerTape(cam.tracker)
    region = (Box(0, 0, 300, 300),)
    tape.update([], 0.0, 7, looked=region, frame=Box(0, 0, 768, 576))
    tape.update([], 0.1)
    assert [(s.index, s.ts, s.looked) for s in tape.seen] == [(7, 0.0, region), (1, 0.1, None)]


def _walkers(frames: int, *, second: float = 0.8) -> list[NorfairFrame]:
    """Two people walking towards each other along a pavement, 5 px a frame; the second
    scores `second` on every frame."""
    out = []
    for i in range(frames):
        a = Box(10 + 5 * i, 100, 40 + 5 * i, 170)
        b = Box(400 - 5 * i, 140, 430 - 5 * i, 210)
        out.append(NorfairFrame(i, ((a, 0.9), (b, second))))
    return out


@pytest.mark.parametrize("distance", ["bottom", "iou"])
def test_norfair_keeps_two_walkers_apart(norfair_python: Path, distance: str) -> None:
    threshold = 2.5 if distance == "bottom" else 0.7
    settings = NorfairSettings("t", distance, threshold, 3, 25)  # type: ignore[arg-type]
    tracks = norfair_tracks(norfair_python, settings, _walkers(30))
    assert len(tracks) == 2
    for t in tracks:
        assert sorted(t.boxes) == list(range(3, 30))  # reported from the 4th match on
    left = min(tracks, key=lambda t: t.boxes[3].x1)
    assert left.boxes[29] == Box(155, 100, 185, 170)  # the detection it was matched with


def test_norfair_is_only_given_detections_above_its_min_score(norfair_python: Path) -> None:
    settings = NorfairSettings("t", "iou", 0.7, 3, 25, min_score=0.5)
    tracks = norfair_tracks(norfair_python, settings, _walkers(30, second=0.4))
    assert len(tracks) == 1


def test_norfair_reports_a_track_once_its_median_score_is_sure(norfair_python: Path) -> None:
    # Frigate's true-positive rule: the second walker (0.6 on every frame) is tracked but
    # never reported under a median threshold of 0.7; under 0.5 both are.
    sure = NorfairSettings("t", "iou", 0.7, 0, 25, median_threshold=0.7)
    assert len(norfair_tracks(norfair_python, sure, _walkers(20, second=0.6))) == 1
    lax = NorfairSettings("t", "iou", 0.7, 0, 25, median_threshold=0.5)
    assert len(norfair_tracks(norfair_python, lax, _walkers(20, second=0.6))) == 2


def test_the_bench_prints_every_tracker_and_the_means(
    capsys: pytest.CaptureFixture[str], norfair_python: Path
) -> None:
    del norfair_python  # built by the fixture; the bench finds it under the data dir
    argv = ["--frames", "60", "--footage", "as-shot", "--source", "regions", "--threads", "1"]
    argv.append("--ablate")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "replay differs" not in out
    summary = json.loads(out.strip().splitlines()[-1])
    names = {r["score"]["name"] for r in summary["rows"]}
    assert {"edgegw", "edgegw plain", "norfair as Frigate"} <= names
    assert {f"edgegw without {rule}" for rule in RULES} <= names
    assert all(0.0 <= r["score"]["idf1"] <= 1.0 for r in summary["rows"])
    assert summary["means"]["edgegw / regions"]["idf1_mean"] > 0.3


def test_each_ablation_turns_one_rule_off() -> None:
    cam, _model = sources(threads=1)["regions"]
    shipped = cam.tracker
    assert all(getattr(shipped, rule) > 0 for rule in RULES)  # the shipped camera uses each
    for rule in RULES:
        changed = without(shipped, rule)
        assert [r for r in RULES if getattr(changed, r) != getattr(shipped, r)] == [rule]
        assert getattr(changed, rule) == 0
    assert all(getattr(plain(shipped), rule) == 0 for rule in RULES)
    with pytest.raises(ValueError, match="min_hits"):
        without(shipped, "min_hits")
