"""Hand-verified truth: every person in vtest.avi, in MOT Challenge format.

`vtest/gt.txt` was made with `tools/truth_aid.py` (detector proposals, offline linking,
contact sheets of every track) and checked by eye; `vtest/README.md` says how, and
`vtest/corrections.yaml` holds every hand correction, so the file can be rebuilt.
"""

from __future__ import annotations

from pathlib import Path

from lab.evaluation import TrackPath
from lab.mot import read_mot

__all__ = ["VTEST_GT", "vtest_truth"]

VTEST_GT = Path(__file__).with_name("vtest") / "gt.txt"


def vtest_truth() -> list[TrackPath]:
    """Every person in vtest.avi as one `TrackPath` per id (0-based frames)."""
    return read_mot(VTEST_GT)
