"""edgegw's tracker beside norfair (Frigate's tracker) on the same detections of vtest.avi.

    python -m bench.trackers [--frames N] [--footage as-shot|mirrored|reversed ...]

Issue 9 asked for a predicting tracker, "or `norfair` (BSD-3, what Frigate uses) if
measured better". This measures it. The shipped camera (configs/gateway.example.yaml)
runs on the clip through the camera worker, as `bench/vision_pipeline.py` runs it, and
every frame's detections (and where the detector looked) are recorded on their way into
the tracker. Then the same detections are tracked again, frame by frame, by:

- `edgegw`: a fresh `ObjectTracker` with the shipped settings, given the frames again (its
  appearance cue reads the pixels). It must reproduce the live run's tracks exactly, and
  the bench says whether it did: the replay is faithful, so the rows below differ only by
  the tracker.
- `edgegw plain`: the same tracker with the cues and rules added on vtest.avi turned off
  (appearance, direction, `max_cost`, `nested_overlap`, `part_overlap`,
  `duplicate_overlap`, `occlusion_overlap`, `group_overlap`):
  Kalman plus ByteTrack's two steps, what issue 9 asked for first.
- norfair 2.3.0 (`lab.norfair_env`: its own venv, since it pins numpy < 2): `norfair as
  Frigate` is the distance Frigate gives it (bottom-centre shift over the box size plus
  the size ratios, threshold 2.5), `initialization_delay` 0 and `hit_counter_max` 50
  (Frigate's `max_disappeared`, 5 s at 10 fps), detections from 0.5 (Frigate's default
  `min_score`), a track reported once the median of its last 10 scores reaches 0.7
  (Frigate's `threshold`, its rule for a true positive); then a small grid of its settings (the
  same distance and norfair's IoU, a start delay of 3 as edgegw's `min_hits` 4, a memory
  of 25 frames as edgegw's `lost_s` 2.5 s), each fed the detections at or above the
  tracker's `min_score`.

Each row is scored against the hand-verified truth (lab/truth/vtest) like
`bench/vision_pipeline.py`: IDF1, MOTA and ID switches (py-motmetrics), and the one-to-one
event rule. A track's box is recorded on the frames it was matched and reported, for
every tracker alike. Two detection sources:

- `regions`: the shipped camera (motion regions, regions around live tracks, a whole-frame
  look every 5 s). Where it looks follows edgegw's tracks, which favours edgegw.
- `whole frame`: the same camera with motion off, the detector on the whole frame every
  frame: detections no tracker chose.

The footages (`lab.playback`) are the clip as shot, mirrored and played backwards, each
against the truth moved with it. It prints one row per tracker and footage, then the mean
and lowest IDF1 and event scores per tracker (JSON last line). About 4 minutes on 2 cores
for all.
`--ablate` adds edgegw with each of its added rules (`RULES`) off in turn: what each buys.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.vision_pipeline import shipped_person_camera
from bench.vision_robustness import (
    VariantScore,
    footage_images,
    play,
    score_tracks,
    summary,
    with_settings,
)
from devices.cameras import Image
from gateway.config.tracker import TrackerConfig
from gateway.config.vision import CameraConfig, ModelConfig
from gateway.inference.geometry import Box
from gateway.vision.tracker import DetectionLike, ObjectTracker, TrackUpdate
from lab.evaluation import TrackPath, TrackRecorder
from lab.norfair_env import NorfairFrame, NorfairSettings, ensure_norfair_python, norfair_tracks
from lab.playback import Footage, footage_truth
from lab.truth import vtest_truth

__all__ = [
    "NORFAIR",
    "RULES",
    "Row",
    "SeenFrame",
    "TrackerTape",
    "main",
    "plain",
    "record",
    "replay",
    "without",
]

NORFAIR: tuple[NorfairSettings, ...] = (
    NorfairSettings(
        "norfair as Frigate", "bottom", 2.5, 0, 50, min_score=0.5, median_threshold=0.7
    ),
    NorfairSettings("norfair bottom 2.5 d3", "bottom", 2.5, 3, 25),
    NorfairSettings("norfair bottom 1.0 d3", "bottom", 1.0, 3, 25),
    NorfairSettings("norfair iou 0.7 d3", "iou", 0.7, 3, 25),
    NorfairSettings("norfair iou 0.7 d3 >=0.6", "iou", 0.7, 3, 25, min_score=0.6),
    NorfairSettings("norfair bottom 2.5 d3 >=0.6", "bottom", 2.5, 3, 25, min_score=0.6),
)
"""Frigate's settings, then a small grid (distance, threshold, start delay, memory)."""


@dataclass(slots=True, frozen=True)
class SeenFrame:
    """What the tracker was given on one frame."""

    index: int
    ts: float
    detections: tuple[DetectionLike, ...]
    looked: tuple[Box, ...] | None
    frame: Box | None


class TrackerTape(ObjectTracker):
    """An `ObjectTracker` that also records what it is given, frame by frame."""

    def __init__(self, config: TrackerConfig) -> None:
        super().__init__(config)
        self.seen: list[SeenFrame] = []

    def update(
        self,
        detections: Sequence[DetectionLike],
        ts: float,
        frame_index: int | None = None,
        *,
        looked: Sequence[Box] | None = None,
        frame: Box | None = None,
        image: Image | None = None,
    ) -> TrackUpdate:
        index = len(self.seen) if frame_index is None else frame_index
        kept = None if looked is None else tuple(looked)
        self.seen.append(SeenFrame(index, ts, tuple(detections), kept, frame))
        return super().update(detections, ts, frame_index, looked=looked, frame=frame, image=image)


@dataclass(slots=True, frozen=True)
class Recording:
    """One live run: what its tracker was given, and the tracks it reported."""

    seen: list[SeenFrame]
    tracks: list[TrackPath]
    width: int


@dataclass(slots=True, frozen=True)
class Row:
    """One tracker (the score's `name`) on one footage and detection source."""

    source: str
    footage: str
    score: VariantScore


def record(cam: CameraConfig, model: ModelConfig, footage: Footage, limit: int | None) -> Recording:
    """Run the camera on the footage through the worker; keep its tracker's input."""
    tape = TrackerTape(cam.tracker)
    played = play(cam, model, footage, limit, tracker=tape)
    return Recording(tape.seen, played.tracks, played.width)


def replay(
    config: TrackerConfig, seen: Sequence[SeenFrame], images: Iterator[Image]
) -> list[TrackPath]:
    """Track recorded frames again with a fresh `ObjectTracker` (images: the same frames)."""
    tracker = ObjectTracker(config)
    recorder = TrackRecorder()
    for step, image in zip(seen, images, strict=True):
        update = tracker.update(
            step.detections,
            step.ts,
            step.index,
            looked=step.looked,
            frame=step.frame,
            image=image,
        )
        recorder.record(step.index, update.active)
    return recorder.paths()


RULES = (
    "appearance_weight",
    "direction_weight",
    "max_cost",
    "nested_overlap",
    "part_overlap",
    "duplicate_overlap",
    "occlusion_overlap",
    "group_overlap",
)
"""The cues and rules added on vtest.avi (`plain` turns all off, `--ablate` one at a time)."""


def without(config: TrackerConfig, rule: str) -> TrackerConfig:
    """`config` with one of `RULES` off (0)."""
    if rule not in RULES:
        raise ValueError(f"not one of the tracker's rules: {rule!r}")
    return config.model_copy(update={rule: 0.0})


def plain(config: TrackerConfig) -> TrackerConfig:
    """`config` with every cue and rule added on vtest.avi off: Kalman + ByteTrack's steps."""
    return config.model_copy(update={**dict.fromkeys(RULES, 0.0), "reid_s": 0.0})


def _norfair_frames(seen: Sequence[SeenFrame], tracker: ObjectTracker) -> list[NorfairFrame]:
    return [
        NorfairFrame(
            s.index,
            tuple((d.box, float(d.score)) for d in s.detections if tracker.accepts(d)),
        )
        for s in seen
    ]


def sources(threads: int) -> dict[str, tuple[CameraConfig, ModelConfig]]:
    """The two detection sources: the shipped camera, and it on the whole frame."""
    cam, model = shipped_person_camera()
    model = model.model_copy(update={"num_threads": threads})
    return {
        "regions": (cam, model),
        "whole frame": (with_settings(cam, ["motion.enabled=false"]), model),
    }


def run_footage(
    source: str,
    cam: CameraConfig,
    model: ModelConfig,
    footage: Footage,
    *,
    limit: int | None,
    norfair_python: Path,
    ablate: bool = False,
) -> list[Row]:
    """Every tracker on one source and footage (the live run's edgegw tracks first)."""
    live = record(cam, model, footage, limit)
    n = len(live.seen)
    truth = footage_truth(vtest_truth(), footage, frames=n, width=live.width)

    def row(name: str, tracks: list[TrackPath]) -> Row:
        return Row(source, footage.value, score_tracks(name, tracks, truth, n))

    again = replay(cam.tracker, live.seen, footage_images(footage, limit))
    rows = [row("edgegw", again)]
    if again != live.tracks:
        print(f"  warning: the edgegw replay differs from the live run ({source}, {footage})")
    rows.append(
        row("edgegw plain", replay(plain(cam.tracker), live.seen, footage_images(footage, limit)))
    )
    if ablate:
        for rule in RULES:
            tracks = replay(without(cam.tracker, rule), live.seen, footage_images(footage, limit))
            rows.append(row(f"edgegw without {rule}", tracks))
    frames = _norfair_frames(live.seen, ObjectTracker(cam.tracker))
    rows += [row(s.name, norfair_tracks(norfair_python, s, frames)) for s in NORFAIR]
    return rows


def main(argv: list[str] | None = None) -> int:
    """Record, replay, score; print the rows and the JSON summary line."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.trackers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--frames", type=int, default=None, help="first N frames (all)")
    parser.add_argument("--threads", type=int, default=2, help="interpreter threads")
    parser.add_argument(
        "--footage",
        action="append",
        choices=[f.value for f in Footage],
        help="footage to run (repeatable; default: all three)",
    )
    parser.add_argument(
        "--source", action="append", choices=["regions", "whole frame"], help="(default: both)"
    )
    parser.add_argument(
        "--ablate",
        action="store_true",
        help="also edgegw with each of its rules off in turn (appearance, direction, ...)",
    )
    args = parser.parse_args(argv)
    footages = [Footage(f) for f in args.footage] if args.footage else list(Footage)
    python = ensure_norfair_python()
    rows: list[Row] = []
    print(
        f"{'tracker':<34}{'source':<13}{'footage':<10}{'IDF1':>7}{'MOTA':>7}{'IDsw':>6}"
        f"{'evR':>7}{'evP':>7}{'tracks':>8}"
    )
    for source, (cam, model) in sources(args.threads).items():
        if args.source and source not in args.source:
            continue
        for footage in footages:
            for r in run_footage(
                source,
                cam,
                model,
                footage,
                limit=args.frames,
                norfair_python=python,
                ablate=args.ablate,
            ):
                rows.append(r)
                t = r.score
                print(
                    f"{t.name:<34}{r.source:<13}{r.footage:<10}{t.idf1:>7.3f}{t.mota:>7.3f}"
                    f"{t.id_switches:>6}{t.event_recall:>7.3f}{t.event_precision:>7.3f}{t.tracks:>8}",
                    flush=True,
                )
    print(
        json.dumps({"means": means(rows), "rows": [asdict(r) for r in rows]}, separators=(",", ":"))
    )
    return 0


def means(rows: Sequence[Row]) -> dict[str, dict[str, float]]:
    """Per tracker and source, the mean and lowest IDF1 and event scores over the footages
    (`bench.vision_robustness.summary`)."""
    keys = sorted({(r.score.name, r.source) for r in rows}, key=lambda k: (k[1], k[0]))
    return {
        f"{name} / {source}": summary(
            [r.score for r in rows if r.score.name == name and r.source == source]
        )
        for name, source in keys
    }


if __name__ == "__main__":
    raise SystemExit(main())
