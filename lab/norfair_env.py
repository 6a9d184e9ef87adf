"""norfair (BSD-3, Frigate's tracker) in its own venv, to score it beside edgegw's tracker.

norfair 2.3.0 pins numpy < 2; the project runs numpy 2 (LiteRT, OpenCV), so norfair lives
in `<data dir>/venvs/norfair-<version>`, made on first use (or by `scripts/bootstrap.sh
--test`: `python -m lab.norfair_env`), from PyPI with the ordinary pip client, and runs
`lab/norfair_track.py` there as a subprocess: detections go in as JSON, tracks come back.
Only the benches and their tests use it; nothing on the board does.

    python -m lab.norfair_env      build it if missing; print its python
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

from gateway.inference.geometry import Box
from lab.evaluation import TrackPath
from lab.venvs import pip_venv

__all__ = [
    "NORFAIR_VERSION",
    "NorfairEnvError",
    "NorfairFrame",
    "NorfairSettings",
    "ensure_norfair_python",
    "norfair_tracks",
]

NORFAIR_VERSION = "2.3.0"
_REQUIREMENTS = (f"norfair=={NORFAIR_VERSION}",)
_RUNNER = Path(__file__).with_name("norfair_track.py")
_PIP_TIMEOUT_S = 900
_RUN_TIMEOUT_S = 600


class NorfairEnvError(RuntimeError):
    """The norfair venv cannot be built, or its runner failed."""


@dataclass(slots=True, frozen=True)
class NorfairSettings:
    """One norfair `Tracker` (see `lab/norfair_track.py` for the distances)."""

    name: str
    distance: Literal["bottom", "iou"]
    distance_threshold: float
    initialization_delay: int
    """Matches before norfair reports a track (edgegw's `min_hits` - 1)."""
    hit_counter_max: int
    """Frames an unmatched track survives (Frigate: `detect.max_disappeared`)."""
    min_score: float = 0.0
    """Detections below this are not given to norfair (Frigate: `objects.filters.min_score`)."""
    median_threshold: float = 0.0
    """A track is reported once the median of its last 10 scores reaches this (Frigate:
    `objects.filters.threshold`); 0 reports it from norfair's first report."""


@dataclass(slots=True, frozen=True)
class NorfairFrame:
    """One processed frame's detections: boxes with their scores."""

    index: int
    boxes: tuple[tuple[Box, float], ...]


def ensure_norfair_python(data_dir: Path | None = None) -> Path:
    """Return the norfair venv's python, building the venv first if it is missing."""
    return pip_venv(
        f"norfair-{NORFAIR_VERSION}",
        _REQUIREMENTS,
        data_dir=data_dir,
        error=NorfairEnvError,
        timeout_s=_PIP_TIMEOUT_S,
    )


def norfair_tracks(
    python: Path, settings: NorfairSettings, frames: Sequence[NorfairFrame]
) -> list[TrackPath]:
    """Track `frames` with norfair under `settings`; return the reported tracks' boxes."""
    request = {
        "settings": {k: v for k, v in asdict(settings).items() if k not in {"name", "min_score"}},
        "frames": [
            {
                "index": f.index,
                "boxes": [
                    [b.x1, b.y1, b.x2, b.y2, score]
                    for b, score in f.boxes
                    if score >= settings.min_score
                ],
            }
            for f in frames
        ],
    }
    try:
        done = subprocess.run(
            [str(python), str(_RUNNER)],
            input=json.dumps(request),
            capture_output=True,
            text=True,
            timeout=_RUN_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NorfairEnvError(f"cannot run {_RUNNER.name}: {exc}") from exc
    if done.returncode != 0:
        raise NorfairEnvError(f"{_RUNNER.name} exited {done.returncode}:\n{done.stderr[-2000:]}")
    answer: dict[str, dict[str, list[float]]] = json.loads(done.stdout)
    return [
        TrackPath(int(tid), {int(f): Box(*box) for f, box in boxes.items()})
        for tid, boxes in sorted(answer.items(), key=lambda kv: int(kv[0]))
    ]


if __name__ == "__main__":
    print(ensure_norfair_python())
