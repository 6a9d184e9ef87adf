"""Sanity checks on the hand-verified person truth of vtest.avi (lab/truth/vtest/gt.txt)."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
TRUTH = REPO / "lab" / "truth" / "vtest"
GT = TRUTH / "gt.txt"
CORRECTIONS = TRUTH / "corrections.yaml"
WIDTH, HEIGHT, N_FRAMES = 768, 576, 795


@dataclass(slots=True, frozen=True)
class GtRow:
    """One line of a MOT Challenge gt file."""

    frame: int
    id: int
    x: float
    y: float
    w: float
    h: float
    conf: float
    cls: int
    visibility: float


def _rows(path: Path) -> list[GtRow]:
    rows = []
    for n, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split(",")
        assert len(parts) == 9, f"line {n}: {len(parts)} fields, expected 9: {line!r}"
        rows.append(
            GtRow(
                frame=int(parts[0]),
                id=int(parts[1]),
                x=float(parts[2]),
                y=float(parts[3]),
                w=float(parts[4]),
                h=float(parts[5]),
                conf=float(parts[6]),
                cls=int(parts[7]),
                visibility=float(parts[8]),
            )
        )
    return rows


@pytest.fixture(scope="module")
def rows() -> list[GtRow]:
    """The committed truth."""
    return _rows(GT)


def _documented_gaps() -> dict[int, list[tuple[int, int]]]:
    gaps: dict[int, list[tuple[int, int]]] = {}
    for op in yaml.safe_load(CORRECTIONS.read_text()) or []:
        if op.get("op") == "gap":
            gaps.setdefault(int(op["id"]), []).append((int(op["first"]), int(op["last"])))
    return gaps


def test_fields_are_mot_gt(rows: list[GtRow]) -> None:
    assert rows, "gt.txt is empty"
    for r in rows:
        assert 1 <= r.frame <= N_FRAMES, r
        assert r.id > 0, r
        assert r.conf == 1, r
        assert r.cls == 1, r
        assert 0.0 <= r.visibility <= 1.0, r


def test_no_duplicate_frame_id(rows: list[GtRow]) -> None:
    seen: set[tuple[int, int]] = set()
    for r in rows:
        key = (r.frame, r.id)
        assert key not in seen, f"duplicate box for id {r.id} in frame {r.frame}"
        seen.add(key)


def test_boxes_inside_frame(rows: list[GtRow]) -> None:
    for r in rows:
        assert r.w > 0, r
        assert r.h > 0, r
        assert r.x >= 0, r
        assert r.y >= 0, r
        assert r.x + r.w <= WIDTH + 0.05, r
        assert r.y + r.h <= HEIGHT + 0.05, r


def test_tracks_continuous_except_documented_gaps(rows: list[GtRow]) -> None:
    frames: dict[int, set[int]] = {}
    for r in rows:
        frames.setdefault(r.id, set()).add(r.frame)
    gaps = _documented_gaps()
    for tid, fs in frames.items():
        missing = set(range(min(fs), max(fs) + 1)) - fs
        allowed = {f for a, b in gaps.get(tid, []) for f in range(a, b + 1)}
        assert missing <= allowed, (
            f"track {tid} misses frames {sorted(missing - allowed)[:10]} not documented as a gap"
        )


def test_gt_is_rebuilt_from_proposals_and_corrections(tmp_path: Path) -> None:
    """gt.txt is exactly what the aid makes from the committed proposals and corrections."""
    out = tmp_path / "gt.txt"
    subprocess.run(
        [sys.executable, str(REPO / "tools" / "truth_aid.py"), "build", "--out", str(out)],
        check=True,
        cwd=REPO,
        capture_output=True,
    )
    assert out.read_text() == GT.read_text(), "gt.txt is stale: run tools/truth_aid.py build"
