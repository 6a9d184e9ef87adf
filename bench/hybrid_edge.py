"""The edge side of `bench.hybrid`: the camera pipeline on a clip, and what it reported.

`run_edge` drives the gateway's own `FrameAnalyzer` (built as `CameraComponent` builds
it, from a camera and a model config) frame by frame and records each track's boxes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from gateway.config.vision import CameraConfig, ModelConfig
from gateway.events import Event, Kind
from gateway.inference.geometry import Box
from gateway.vision.analyzer import FrameAnalyzer
from gateway.vision.cascade import Band, Decision
from gateway.vision.component import build_detector
from gateway.vision.motion import MotionConfig
from gateway.vision.publisher import detection_data
from gateway.vision.tracker import Track, TrackerConfig
from lab.evaluation import TrackPath, TrackRecorder
from lab.oracle_store import ORACLE_TRACKER, read_frames
from refcloud.oracle import PERSON

__all__ = ["SHIPPED", "EdgeRun", "EdgeSettings", "EndedTrack", "kept_by_edge", "run_edge"]


@dataclass(slots=True, frozen=True)
class EndedTrack:
    """A track the edge ended, with its best crop (JPEG) and event size."""

    track: Track
    crop: bytes | None
    event_bytes: int
    crop_box: Box | None = None
    """Where the crop was cut from its frame (source pixels)."""


@dataclass(slots=True, frozen=True)
class EdgeRun:
    """What the edge pipeline did on the clip."""

    ended: tuple[EndedTrack, ...]
    paths: tuple[TrackPath, ...]
    cpu_s: float


@dataclass(slots=True, frozen=True)
class EdgeSettings:
    """The knobs of the edge run that the bench varies; the rest is the shipped config."""

    motion: Literal["average", "mog2"] = "average"
    min_score: float = 0.5
    """Tracker `min_score` and the model's `score_threshold` (shipped: 0.5)."""
    split_wide: bool = True
    """Motion's `split_wide`: cut wide blobs (people side by side) into one box each."""
    lost_s: float = TrackerConfig.model_fields["lost_s"].default
    """Tracker `lost_s`: an unseen track can be continued this long after its last match."""
    lenient_tracker: bool = False
    """Tracker settings as the oracle's: IoU 0.2, centre matching, 10 misses (config only)."""


SHIPPED = EdgeSettings()


def edge_config(settings: EdgeSettings) -> tuple[CameraConfig, ModelConfig]:
    """Return the camera and model of `configs/gateway.example.yaml`, with `settings`."""
    camera = CameraConfig(
        id="bench",
        source="vtest.avi",
        model="person",
        motion=MotionConfig(method=settings.motion, split_wide=settings.split_wide),
        tracker=_tracker(settings),
    )
    model = ModelConfig(
        id="person", name="visual_wake_words", num_threads=1, score_threshold=settings.min_score
    )
    return camera, model


def _tracker(settings: EdgeSettings) -> TrackerConfig:
    if not settings.lenient_tracker:
        return TrackerConfig(
            labels=[PERSON],
            min_score=settings.min_score,
            min_hits=3,
            max_misses=5,
            lost_s=settings.lost_s,
        )
    lenient = ORACLE_TRACKER.model_dump(exclude={"labels", "min_score", "min_hits"})
    return TrackerConfig(labels=[PERSON], min_score=settings.min_score, min_hits=3, **lenient)


def run_edge(clip: Path, indices: list[int], src_fps: float, settings: EdgeSettings) -> EdgeRun:
    """Run the camera pipeline on the frames and record its tracks, timing its CPU."""
    camera, model = edge_config(settings)
    analyzer = FrameAnalyzer(camera, model, build_detector(model))
    recorder = TrackRecorder()
    ended: list[EndedTrack] = []
    cpu = 0.0
    ts = 0.0
    for frame in read_frames(clip, indices):
        ts = frame.index / src_fps
        t0 = time.process_time()
        outcome = analyzer.process(frame.image, ts)
        cpu += time.process_time() - t0
        recorder.record(frame.index, outcome.active)
        ended += [_ended(r.track, r.crop, r.crop_box) for r in outcome.ended]
    ended += [_ended(r.track, r.crop, r.crop_box) for r in analyzer.flush(ts + 1.0).ended]
    return EdgeRun(tuple(ended), tuple(recorder.paths()), cpu)


def kept_by_edge(run: EdgeRun, band: Band) -> list[TrackPath]:
    """Return the tracks the edge alone reports: every one the band does not drop."""
    keep = {e.track.id for e in run.ended if band.decide_track(e.track) is not Decision.DROPPED}
    return [p for p in run.paths if p.id in keep]


def _ended(track: Track, crop: bytes | None, crop_box: Box | None) -> EndedTrack:
    data = detection_data("bench", track, "end").to_data()  # its `end` event, for its uplink size
    event = Event(gateway="bench", source="bench", kind=Kind.VISION_DETECTION, data=data)
    return EndedTrack(track, crop, len(event.to_json()), crop_box)
