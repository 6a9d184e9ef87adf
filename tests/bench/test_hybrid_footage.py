"""`python -m bench.hybrid --footage`: the hybrid bench on the clip played otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.hybrid import main

pytestmark = pytest.mark.usefixtures("model_paths", "judge_models", "footage_paths")


def test_reversed_footage_is_scored_against_the_reversed_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--frames", "40", "--footage", "reversed", "--allcloud-frames", "2"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not (tmp_path / "hybrid.json").exists()  # the shipped report is left alone
    report = json.loads((tmp_path / "hybrid-reversed.json").read_text(encoding="utf-8"))
    assert report["footage"] == "reversed"
    assert report["frames"] == 40
    assert report["summary"] == summary
    # The reversed first 40 frames are the first 40 frames backwards: the same people, so
    # the edge finds them where the moved truth puts them (a truth left unmoved would put
    # the last frame's people on the first frame and score far lower).
    assert report["truth_tracks"] >= 5
    assert summary["edge_only_event_recall"] >= 0.5
    assert summary["edge_only_idf1"] >= 0.5


def test_footage_is_refused_with_the_sweep() -> None:
    with pytest.raises(SystemExit, match="--footage"):
        main(["--sweep", "--footage", "mirrored"])


def test_late_verdicts_are_all_applied_and_reported_apart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--verdict-delay`: verdicts held past the clip's end are still every one applied."""
    argv = ["--frames", "60", "--verdict-delay", "100", "--allcloud-frames", "2"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert not (tmp_path / "hybrid.json").exists()  # the shipped report is left alone
    report = json.loads((tmp_path / "hybrid-delay100s.json").read_text(encoding="utf-8"))
    assert report["summary"] == summary
    assert summary["verdict_delay_s"] == 100
    # Hard cases are sent in these 6 s (the people walking in), each verdict held 100 s:
    # every one is still due when the clip ends, and each was applied once after it.
    assert summary["cloud_calls"] >= 1
    assert sum(report["verdict_results"].values()) == summary["cloud_calls"]


def test_a_negative_or_swept_verdict_delay_is_refused() -> None:
    with pytest.raises(SystemExit, match="0 or more"):
        main(["--verdict-delay", "-1"])
    with pytest.raises(SystemExit, match="--verdict-delay"):
        main(["--sweep", "--verdict-delay", "5"])
