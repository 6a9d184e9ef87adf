"""Tracks in MOT Challenge text format, and CLEAR-MOT/identity scores with py-motmetrics.

The format (MOT16/17 `gt.txt` and result files), one box per line, frames 1-based,
source pixels::

    frame,id,x,y,w,h,conf,class,visibility      (truth: conf 1 = counted, class 1 = person)
    frame,id,x,y,w,h,score,-1,-1,-1             (results)

Internally frames are the 0-based indices `TrackPath` uses everywhere in the lab; the
conversion happens only here, at the file boundary. Scoring follows the MOT Challenge:
a hypothesis matches a truth box at IoU >= 0.5 (`max_iou_distance` 0.5), and MOTA, IDF1,
identity switches and fragmentations come from motmetrics, so any MOT tool agrees.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from gateway.inference.geometry import Box
from lab.evaluation import TrackPath

__all__ = ["MotScore", "iou_distances", "read_mot", "score_mot", "write_mot"]

MAX_IOU_DISTANCE = 0.5
"""A hypothesis matches a truth box when 1 - IoU <= this (IoU >= 0.5), as the MOT Challenge."""


@dataclass(slots=True, frozen=True)
class MotScore:
    """CLEAR-MOT and identity figures of one sequence (motmetrics' definitions)."""

    mota: float
    motp: float
    """Mean IoU distance (1 - IoU) of the matched boxes: lower is better."""
    idf1: float
    idp: float
    idr: float
    recall: float
    precision: float
    id_switches: int
    fragmentations: int
    false_positives: int
    misses: int
    truth_tracks: int
    mostly_tracked: int
    mostly_lost: int


def read_mot(path: Path | str, *, min_visibility: float = 0.0) -> list[TrackPath]:
    """Read a MOT truth or result file into one `TrackPath` per id (0-based frames).

    Truth lines with `conf` 0 (not to be counted) or a visibility below `min_visibility`
    are skipped; result files (`-1` in those columns) keep every line.
    """
    boxes: dict[int, dict[int, Box]] = {}
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split(",")
        if len(fields) < 6:
            msg = f"{path}:{number}: expected frame,id,x,y,w,h,...; got {line!r}"
            raise ValueError(msg)
        frame, track = int(float(fields[0])), int(float(fields[1]))
        x, y, w, h = (float(v) for v in fields[2:6])
        conf = float(fields[6]) if len(fields) > 6 else 1.0
        visibility = float(fields[8]) if len(fields) > 8 else 1.0
        if conf == 0 or (visibility >= 0 and visibility < min_visibility):
            continue
        if frame < 1 or not all(math.isfinite(v) for v in (x, y, w, h)) or w <= 0 or h <= 0:
            msg = f"{path}:{number}: bad box or frame in {line!r}"
            raise ValueError(msg)
        boxes.setdefault(track, {})[frame - 1] = Box(x, y, x + w, y + h)
    return [TrackPath(tid, b) for tid, b in sorted(boxes.items())]


def write_mot(
    tracks: Iterable[TrackPath],
    path: Path | str,
    *,
    scores: Mapping[int, float] | None = None,
) -> int:
    """Write result lines `frame,id,x,y,w,h,score,-1,-1,-1` (1-based frames); return the count.

    `scores` gives each track's score (its best, say); 1.0 when not given.
    """
    lines: list[str] = []
    for t in tracks:
        score = (scores or {}).get(t.id, 1.0)
        for frame, b in sorted(t.boxes.items()):
            lines.append(
                f"{frame + 1},{t.id},{b.x1:.1f},{b.y1:.1f},{b.width:.1f},{b.height:.1f},"
                f"{score:.3f},-1,-1,-1"
            )
    lines.sort(key=lambda s: (int(s.split(",", 2)[0]), int(s.split(",", 2)[1])))
    Path(path).write_text("".join(f"{line}\n" for line in lines))
    return len(lines)


def _by_frame(tracks: Sequence[TrackPath]) -> dict[int, list[tuple[int, Box]]]:
    out: dict[int, list[tuple[int, Box]]] = {}
    for t in tracks:
        for frame, box in t.boxes.items():
            out.setdefault(frame, []).append((t.id, box))
    return out


def iou_distances(truth: Sequence[Box], hypothesis: Sequence[Box]) -> npt.NDArray[np.float64]:
    """1 - IoU per (truth, hypothesis) pair; NaN (no match possible) above `MAX_IOU_DISTANCE`.

    motmetrics 1.4's own `iou_matrix` calls `np.asfarray`, which numpy 2 removed; this is
    the same matrix, and the only part of motmetrics not used as shipped.
    """
    out = np.full((len(truth), len(hypothesis)), np.nan)
    for i, g in enumerate(truth):
        for j, h in enumerate(hypothesis):
            d = 1.0 - g.iou(h)
            if d <= MAX_IOU_DISTANCE:
                out[i, j] = d
    return out


def score_mot(
    truth: Sequence[TrackPath],
    hypothesis: Sequence[TrackPath],
    *,
    frames: Iterable[int] | None = None,
) -> MotScore:
    """Score `hypothesis` against `truth` with motmetrics over `frames` (default: all seen)."""
    import motmetrics as mm  # lab-only dependency: keep it off the import of this module

    gt = _by_frame(truth)
    hyp = _by_frame(hypothesis)
    span = sorted(set(frames) if frames is not None else set(gt) | set(hyp))
    acc = mm.MOTAccumulator(auto_id=False)
    for frame in span:
        g = gt.get(frame, [])
        h = hyp.get(frame, [])
        distances = iou_distances([b for _, b in g], [b for _, b in h])
        acc.update([i for i, _ in g], [i for i, _ in h], distances, frameid=frame)
    names = [
        "mota", "motp", "idf1", "idp", "idr", "recall", "precision", "num_switches",
        "num_fragmentations", "num_false_positives", "num_misses", "num_unique_objects",
        "mostly_tracked", "mostly_lost",
    ]  # fmt: skip
    row = mm.metrics.create().compute(acc, metrics=names, name="seq").iloc[0]

    def num(key: str) -> float:
        value = float(row[key])
        return value if math.isfinite(value) else 0.0

    return MotScore(
        mota=num("mota"),
        motp=num("motp"),
        idf1=num("idf1"),
        idp=num("idp"),
        idr=num("idr"),
        recall=num("recall"),
        precision=num("precision"),
        id_switches=int(num("num_switches")),
        fragmentations=int(num("num_fragmentations")),
        false_positives=int(num("num_false_positives")),
        misses=int(num("num_misses")),
        truth_tracks=int(num("num_unique_objects")),
        mostly_tracked=int(num("mostly_tracked")),
        mostly_lost=int(num("mostly_lost")),
    )
