"""MOT Challenge files and motmetrics scores on tracks built in the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from gateway.inference.geometry import Box
from lab.evaluation import TrackPath
from lab.mot import read_mot, score_mot, write_mot


def walker(tid: int, x0: float, frames: range, dx: float = 5.0) -> TrackPath:
    """A 30x70 box walking right by `dx` pixels a frame."""
    return TrackPath(tid, {f: Box(x0 + dx * f, 100, x0 + dx * f + 30, 170) for f in frames})


def test_write_then_read_round_trips_with_one_based_frames(tmp_path: Path) -> None:
    tracks = [walker(1, 0, range(5)), walker(7, 200, range(3, 6))]
    path = tmp_path / "res.txt"
    assert write_mot(tracks, path, scores={1: 0.9}) == 8
    first = path.read_text().splitlines()[0]
    assert first == "1,1,0.0,100.0,30.0,70.0,0.900,-1,-1,-1"
    back = read_mot(path)
    assert [t.id for t in back] == [1, 7]
    assert back[1].boxes.keys() == {3, 4, 5}
    assert back[0].boxes[4] == Box(20, 100, 50, 170)


def test_truth_lines_not_counted_or_barely_visible_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "gt.txt"
    path.write_text("1,1,10,10,20,40,1,1,1.0\n2,1,12,10,20,40,0,1,1.0\n3,1,14,10,20,40,1,1,0.1\n")
    assert read_mot(path, min_visibility=0.2)[0].boxes.keys() == {0}
    assert read_mot(path)[0].boxes.keys() == {0, 2}


@pytest.mark.parametrize(
    "line", ["1,1,10,10", "0,1,10,10,20,40", "1,1,10,10,-5,40", "1,1,nan,1,2,3"]
)
def test_malformed_lines_name_the_file_and_line(tmp_path: Path, line: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(f"1,1,10,10,20,40\n{line}\n")
    with pytest.raises(ValueError, match=r"bad.txt:2"):
        read_mot(path)


def test_a_perfect_hypothesis_scores_one() -> None:
    truth = [walker(1, 0, range(20)), walker(2, 300, range(5, 25))]
    score = score_mot(truth, [walker(10, 0, range(20)), walker(11, 300, range(5, 25))])
    assert (score.mota, score.idf1, score.id_switches, score.misses) == (1.0, 1.0, 0, 0)
    assert score.truth_tracks == 2


def test_an_identity_switch_costs_idf1_and_is_counted() -> None:
    truth = [walker(1, 0, range(20)), walker(2, 300, range(20))]
    # The hypothesis swaps the two ids half way through.
    a = TrackPath(10, {**walker(0, 0, range(10)).boxes, **walker(0, 300, range(10, 20)).boxes})
    b = TrackPath(11, {**walker(0, 300, range(10)).boxes, **walker(0, 0, range(10, 20)).boxes})
    score = score_mot(truth, [a, b])
    assert score.id_switches == 2
    assert score.idf1 == pytest.approx(0.5)
    assert score.mota == pytest.approx(1 - 2 / 40)


def test_a_fragmented_track_and_a_false_box_are_counted() -> None:
    truth = [walker(1, 0, range(20))]
    split = [walker(5, 0, range(10)), walker(6, 0, range(12, 20))]
    ghost = TrackPath(9, {3: Box(600, 400, 640, 480)})
    score = score_mot(truth, [*split, ghost])
    assert score.misses == 2
    assert score.false_positives == 1
    assert score.id_switches == 1
    assert score.recall == pytest.approx(18 / 20)
