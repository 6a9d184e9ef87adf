"""Cheap edge vs strong edge, each alone and with the cloud, on the same frames of vtest.avi.

    python -m bench.hybrid --sweep [--frames N] [--threads 2] [--out DIR]

For each camera, one `bench.hybrid_run.run_hybrid` run (the gateway's own analyzer, publisher
and verdict sink, the reference cloud on loopback judging every hard case) gives two
rows, scored against the hand-verified truth (lab/truth/vtest) like `bench.hybrid`:

- `<camera> edge`: the tracks the camera's band does not drop (`edge_paths`); uplink is
  its `vision.detection` events' JSON.
- `<camera> edge+cloud`: what the corrected event stream reports (`hybrid_paths`);
  uplink is the hard-case crops plus every detection/hard-case event's JSON.

Cameras: `strong` is the shipped camera of configs/gateway.example.yaml (motion regions,
a whole-frame look every 5 s, 10 fps); `cheap` the first camera of configs/cheap-edge.yaml
(the whole frame only, squashed to 300x300, 5 fps, low threshold, wide band). Edge CPU
seconds are the process CPU time of the camera's analyzer on the frames it processed
(motion, detector, tracker, crops and face redaction; decoding not included), so both
edge rows of one camera share it. Uplink % is over the all-cloud bytes: every frame of
the clip as a JPEG at `--quality`, the same denominator for every row.

Writes `sweep.json` (rows and each camera's settings) and `sweep.png` (accuracy against
uplink and against edge CPU); the last stdout line is the JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from bench.hybrid_report import Axes, text
from bench.hybrid_run import (
    HybridRun,
    all_cloud_bytes,
    edge_paths,
    hybrid_paths,
    named_camera,
    run_hybrid,
)
from bench.vision_pipeline import VTEST_FPS
from gateway.vision.cascade import Band
from gateway.vision.component import build_redactor
from lab.evaluation import TrackPath, match_events
from lab.footage import fetch_vtest
from lab.mot import score_mot
from lab.truth import vtest_truth

__all__ = ["SweepRow", "draw_sweep_plot", "run_sweep", "sweep_camera"]

SWEEP_CAMERAS = ("cheap", "strong")


@dataclass(slots=True, frozen=True)
class SweepRow:
    """One camera, edge-only or with the cloud: what the edge spent, sent and got right."""

    name: str
    camera: str
    cloud: bool
    edge_cpu_s: float
    processed_frames: int
    detector_calls: int
    uplink_bytes: int
    uplink_ratio: float
    cloud_calls: int
    tracks: int
    event_recall: float
    event_precision: float
    idf1: float
    mota: float

    def to_json(self) -> dict[str, Any]:
        """Return the row as JSON-ready values."""
        out = asdict(self)
        for key in ("event_recall", "event_precision", "idf1", "mota"):
            out[key] = round(out[key], 4)
        out["edge_cpu_s"] = round(self.edge_cpu_s, 2)
        out["uplink_ratio"] = round(self.uplink_ratio, 6)
        return out


def _row(
    name: str,
    camera: str,
    run: HybridRun,
    paths: Sequence[TrackPath],
    truth: Sequence[TrackPath],
    *,
    cloud: bool,
    uplink: int,
    all_cloud: int,
) -> SweepRow:
    mot = score_mot(truth, paths, frames=range(run.frames))
    events = match_events(paths, truth)
    return SweepRow(
        name=name,
        camera=camera,
        cloud=cloud,
        edge_cpu_s=run.cpu_s,
        processed_frames=run.processed,
        detector_calls=run.detector_calls,
        uplink_bytes=uplink,
        uplink_ratio=uplink / all_cloud if all_cloud else 0.0,
        cloud_calls=len(run.crops) if cloud else 0,
        tracks=len(paths),
        event_recall=events.recall,
        event_precision=events.precision,
        idf1=mot.idf1,
        mota=mot.mota,
    )


def sweep_camera(
    name: str, clip: Path, frames: int | None, threads: int, *, all_cloud: int
) -> tuple[list[SweepRow], dict[str, Any]]:
    """Run camera `name` once with the cloud in the loop: its edge and edge+cloud rows."""
    cam, model = named_camera(name)
    redactor = build_redactor(cam)  # as the gateway builds the camera's
    model = model.model_copy(update={"num_threads": threads})
    run = asyncio.run(run_hybrid(clip, frames, threads, redactor, camera=(cam, model)))
    truth = [p for p in vtest_truth() if any(f < run.frames for f in p.boxes)]
    band = Band(cam.escalation.low, cam.escalation.high, cam.escalation.group_aspect)
    crops = sum(len(c) for c in run.crops)
    rows = [
        _row(
            f"{name} edge",
            name,
            run,
            edge_paths(run, band),
            truth,
            cloud=False,
            uplink=run.detection_bytes,
            all_cloud=all_cloud,
        ),
        _row(
            f"{name} edge+cloud",
            name,
            run,
            hybrid_paths(run, VTEST_FPS),
            truth,
            cloud=True,
            uplink=crops + run.events_bytes,
            all_cloud=all_cloud,
        ),
    ]
    settings = {
        "detect_fps": cam.detect_fps,
        "motion": cam.motion.enabled,
        "full_frame_interval_s": cam.objects.full_frame_interval_s,
        "score_threshold": model.score_threshold,
        "tracker_high_score": cam.tracker.high_score,
        "band": [cam.escalation.low, cam.escalation.high],
        "band_at_end": [run.publisher.band.low, run.publisher.band.high],
        "verdicts": run.sink.results,
        "truth_tracks": len(truth),
        "frames": run.frames,
    }
    return rows, settings


def print_rows(rows: Sequence[SweepRow]) -> None:
    """Print the side-by-side table."""
    print(
        f"{'mode':<19}{'CPU s':>7}{'frames':>7}{'calls':>7}{'uplink B':>10}{'% all-cl':>9}"
        f"{'cloud':>6}{'trk':>5}{'evR':>7}{'evP':>7}{'IDF1':>7}{'MOTA':>7}"
    )
    for r in rows:
        print(
            f"{r.name:<19}{r.edge_cpu_s:>7.1f}{r.processed_frames:>7}{r.detector_calls:>7}"
            f"{r.uplink_bytes:>10}{r.uplink_ratio * 100:>8.3f}%{r.cloud_calls:>6}{r.tracks:>5}"
            f"{r.event_recall:>7.3f}{r.event_precision:>7.3f}{r.idf1:>7.3f}{r.mota:>7.3f}"
        )


_W, _H, _M = 1180, 640, 70
_PANEL_BOTTOM = 420
_COLOURS = {  # BGR
    "cheap edge": (0, 140, 255),
    "cheap edge+cloud": (0, 0, 200),
    "strong edge": (0, 150, 0),
    "strong edge+cloud": (200, 90, 0),
}
_OTHER = (120, 120, 120)
_COLUMNS = (  # the plot's table: heading and x offset of each column
    ("", 0),
    ("CPU s", 190),
    ("uplink %", 270),
    ("calls", 370),
    ("recall", 440),
    ("precision", 520),
    ("IDF1", 620),
    ("tracks", 690),
)
_TARGET = (0, 150, 0)


def draw_sweep_plot(rows: Sequence[SweepRow], path: Path) -> None:
    """IDF1 (dot) and event precision (ring) against uplink (log) and against edge CPU s."""
    img = np.full((_H, _W, 3), 255, np.uint8)
    half = _W // 2
    ratios = [r.uplink_ratio * 100 for r in rows]
    uplink = Axes.log_percent(ratios, _M, _M, half - 30, _PANEL_BOTTOM)
    cpu_max = max(r.edge_cpu_s for r in rows) * 1.15 or 1.0
    step = _nice_step(cpu_max / 5)
    cpu = Axes(half + _M - 20, _M, _W - 40, _PANEL_BOTTOM, 0.0, cpu_max)
    uplink.draw(img)
    cpu.draw(img, [step * k for k in range(int(cpu_max / step) + 1)])
    strong = next((r for r in rows if r.name == "strong edge"), None)
    for axes, x_of in ((uplink, _ratio_pct), (cpu, _cpu_s)):
        if strong is not None:  # the target: the strong edge's IDF1
            _, y = axes.xy(10.0**axes.x_lo if axes.log_x else axes.x_lo, strong.idf1)
            for x in range(axes.left, axes.right, 12):
                cv2.line(img, (x, y), (min(x + 6, axes.right), y), _TARGET, 2)
        for camera in SWEEP_CAMERAS:  # edge -> edge+cloud: what the cloud changed
            pair = [r for r in rows if r.camera == camera]
            if len(pair) == 2:
                a, b = (axes.xy(x_of(r), r.idf1) for r in pair)
                _arrow(img, a, b, _COLOURS.get(pair[1].name, _OTHER))
        for r in rows:
            colour = _COLOURS.get(r.name, _OTHER)
            _dot(img, axes.xy(x_of(r), r.idf1), colour, filled=True)
            _dot(img, axes.xy(x_of(r), r.event_precision), colour, filled=False)
    text(img, "uplink, % of all-cloud bytes (log)", (uplink.left + 120, _PANEL_BOTTOM + 42))
    text(
        img,
        "edge CPU seconds on the clip (edge and edge+cloud share them)",
        (cpu.left + 40, _PANEL_BOTTOM + 42),
    )
    text(
        img,
        "vs the hand-verified truth: dot = IDF1, ring = one-to-one event precision; "
        "green dashes = strong edge IDF1; arrows: edge -> edge+cloud",
        (_M - 40, 40),
    )
    # The table under the panels: fixed columns (the font is proportional).
    columns = _COLUMNS
    y = _PANEL_BOTTOM + 80
    for head, x in columns:
        text(img, head, (_M + x, y))
    for r in rows:
        y += 22
        colour = _COLOURS.get(r.name, _OTHER)
        cells = (
            r.name,
            f"{r.edge_cpu_s:.1f}",
            f"{r.uplink_ratio * 100:.3f}%",
            str(r.cloud_calls),
            f"{r.event_recall:.3f}",
            f"{r.event_precision:.3f}",
            f"{r.idf1:.3f}",
            str(r.tracks),
        )
        _dot(img, (_M - 14, y - 5), colour, filled=True)
        for cell, (_, x) in zip(cells, columns, strict=True):
            text(img, cell, (_M + x, y), colour)
    cv2.imwrite(str(path), img)


def _ratio_pct(r: SweepRow) -> float:
    return r.uplink_ratio * 100


def _cpu_s(r: SweepRow) -> float:
    return r.edge_cpu_s


def _nice_step(raw: float) -> float:
    for step in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if step >= raw:
            return float(step)
    return 1000.0


def _dot(
    img: np.ndarray[Any, Any], at: tuple[int, int], colour: tuple[int, int, int], *, filled: bool
) -> None:
    cv2.circle(img, at, 6, colour, -1 if filled else 2, cv2.LINE_AA)


def _arrow(
    img: np.ndarray[Any, Any], a: tuple[int, int], b: tuple[int, int], colour: tuple[int, int, int]
) -> None:
    if a != b:
        cv2.arrowedLine(img, a, b, colour, 1, cv2.LINE_AA, tipLength=0.04)


def summary_of(rows: Sequence[SweepRow]) -> dict[str, Any]:
    """The JSON summary: each row's key figures, and cheap+cloud against strong edge."""
    by = {r.name: r for r in rows}
    out: dict[str, Any] = {}
    for r in rows:
        key = r.name.replace(" edge+cloud", "_cloud").replace(" edge", "_edge")
        out[f"{key}_event_recall"] = round(r.event_recall, 4)
        out[f"{key}_event_precision"] = round(r.event_precision, 4)
        out[f"{key}_idf1"] = round(r.idf1, 4)
        out[f"{key}_cpu_s"] = round(r.edge_cpu_s, 2)
        out[f"{key}_uplink_ratio"] = round(r.uplink_ratio, 6)
        out[f"{key}_cloud_calls"] = r.cloud_calls
    lifted, strong = by.get("cheap edge+cloud"), by.get("strong edge")
    if lifted is not None and strong is not None:
        out["cheap_cloud_reaches_strong_edge"] = (
            lifted.event_recall >= strong.event_recall
            and lifted.event_precision >= strong.event_precision
            and lifted.idf1 >= strong.idf1
        )
    return out


def run_sweep(args: argparse.Namespace) -> int:
    """`python -m bench.hybrid --sweep`: run both cameras, write sweep.json and sweep.png."""
    started = time.perf_counter()
    clip = args.clip if args.clip is not None else fetch_vtest()
    all_cloud = all_cloud_bytes(clip, args.frames, args.quality)
    rows: list[SweepRow] = []
    cameras: dict[str, Any] = {}
    for name in SWEEP_CAMERAS:
        got, settings = sweep_camera(name, clip, args.frames, args.threads, all_cloud=all_cloud)
        rows += got
        cameras[name] = settings
    rows.sort(key=lambda r: (r.camera != "cheap", r.cloud))
    elapsed = time.perf_counter() - started
    frames = rows[0].processed_frames if rows else 0
    print(f"{cameras['strong']['frames']} frames, all-cloud {all_cloud} B; processed: {frames}")
    print_rows(rows)
    summary = summary_of(rows)
    report = {
        "command": "python -m bench.hybrid " + " ".join(sys.argv[1:]),
        "clip": str(clip),
        "all_cloud_bytes": all_cloud,
        "all_cloud_quality": args.quality,
        "cameras": cameras,
        "rows": [r.to_json() for r in rows],
        "runtime_s": round(elapsed, 1),
        "summary": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sweep.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    draw_sweep_plot(rows, args.out / "sweep.png")
    print(f"runtime {elapsed:.0f}s; wrote {args.out / 'sweep.json'} and sweep.png")
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    from bench.hybrid_run import parse_args

    raise SystemExit(run_sweep(parse_args(sys.argv[1:])))
