"""Benchmark the camera pipeline on vtest.avi; the last line is JSON.

1. vtest.avi with the default person pipeline (motion blobs -> visual wake words on each
   blob -> tracker), every frame through the camera worker thread, decode included:
   `vtest_fps`, and the process's peak RSS over that run (`peak_rss_mb`; measured first,
   before anything else is loaded).
2. Motion off, EfficientNet-Lite0 on whole frames through the worker (`pipeline_fps`)
   vs a bare loop calling only `invoke()` on the same model, same threads, on the same
   preprocessed inputs (`bare_fps`); `ratio` = pipeline / bare.
3. Still scenes with motion on (vtest's first frame repeated, and that frame with fresh
   sensor noise, sigma 3, on every frame): process CPU time per frame over the motion-off
   CPU time per frame of (2) (`still_cpu_ratio`, the worse of the two scenes).

    .venv/bin/python bench/vision_pipeline.py [--frames 150] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import queue
import resource
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from devices.cameras import Frame, Image
from gateway.config.vision import CameraConfig, ModelConfig
from gateway.inference.catalog import fetch
from gateway.inference.detector import Detector
from gateway.stats_registry import Stats
from gateway.vision.analyzer import FrameAnalyzer, FrameOutcome
from gateway.vision.camera import CameraWorker
from gateway.vision.camera_stats import CameraStats
from gateway.vision.component import analyzer_settings, build_detector
from lab.footage import fetch_vtest

_BATCH = 10


@dataclass(slots=True, frozen=True)
class RunResult:
    """Frames processed, wall seconds and process CPU seconds of one run."""

    frames: int
    wall_s: float
    cpu_s: float

    @property
    def fps(self) -> float:
        """Frames per wall second."""
        return self.frames / self.wall_s

    @property
    def cpu_ms_per_frame(self) -> float:
        """Process CPU milliseconds per frame (all threads)."""
        return 1000.0 * self.cpu_s / self.frames


def camera(model: str | None, *, motion: bool) -> CameraConfig:
    return CameraConfig.model_validate(
        {
            "id": "bench",
            "source": "mqtt:bench",
            "model": model,
            "motion": {"enabled": motion},
            "tracker": {"labels": ["person"] if model == "person" else [], "min_score": 0.5},
        }
    )


class WorkerRun:
    """A camera worker thread fed one frame at a time (none skipped), timed per batch."""

    def __init__(self, cam: CameraConfig, model: ModelConfig | None) -> None:
        detector = build_detector(model) if model is not None else None
        analyzer = FrameAnalyzer(detector, analyzer_settings(cam, model))
        self._done: queue.SimpleQueue[FrameOutcome] = queue.SimpleQueue()
        self.worker = CameraWorker(
            camera_id="bench",
            analyzer=analyzer,
            stats=CameraStats(Stats(), "bench"),
            deliver=self._done.put,
        )
        self.worker.start()

    def feed(self, frames: Iterator[Image]) -> RunResult:
        """Process every frame through the worker and return the time it took."""
        count = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for image in frames:
            self.worker.submit(Frame(image, time.monotonic()))
            self._done.get(timeout=30)
            count += 1
        return RunResult(count, time.perf_counter() - wall, time.process_time() - cpu)


def run_worker(cam: CameraConfig, model: ModelConfig | None, frames: Iterator[Image]) -> RunResult:
    """Feed `frames` through a fresh camera worker and stop it."""
    run = WorkerRun(cam, model)
    result = run.feed(frames)
    run.worker.stop()
    return result


def add(a: RunResult, b: RunResult) -> RunResult:
    """Return two runs as one."""
    return RunResult(a.frames + b.frames, a.wall_s + b.wall_s, a.cpu_s + b.cpu_s)


def timed_invokes(detector: Detector, tensors: list[npt.NDArray[Any]]) -> RunResult:
    """Call only `invoke()` on each preprocessed tensor."""
    wall, cpu = time.perf_counter(), time.process_time()
    for t in tensors:
        detector.model.invoke(t)
    return RunResult(len(tensors), time.perf_counter() - wall, time.process_time() - cpu)


def read_video(path: str, limit: int | None = None) -> Iterator[Image]:
    cap = cv2.VideoCapture(path)
    try:
        n = 0
        while limit is None or n < limit:
            ok, image = cap.read()
            if not ok:
                return
            n += 1
            yield np.asarray(image, dtype=np.uint8)
    finally:
        cap.release()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--frames", type=int, default=150, help="frames for runs 2 and 3")
    parser.add_argument("--threads", type=int, default=2, help="interpreter threads")
    args = parser.parse_args()
    fetch(["visual_wake_words", "efficientnet_lite0"])
    vtest = str(fetch_vtest())
    threads = args.threads

    # 1. vtest.avi, person pipeline on motion blobs, decode included; peak RSS first.
    person = ModelConfig(id="person", name="visual_wake_words", num_threads=threads)
    person = person.model_copy(update={"score_threshold": 0.5})
    vt = run_worker(camera("person", motion=True), person, read_video(vtest))
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    print(f"vtest: {vt.frames} frames, {vt.fps:.1f} fps, {vt.cpu_ms_per_frame:.2f} CPU ms/frame")

    # 2. Motion off, EfficientNet-Lite0 on whole frames vs bare invoke().
    frames = list(read_video(vtest, args.frames))
    effnet = ModelConfig(id="effnet", name="efficientnet_lite0", num_threads=threads)
    pipeline = WorkerRun(camera("effnet", motion=False), effnet)
    bare_detector = build_detector(effnet)
    tensors = [bare_detector.preprocessor(f).tensor for f in frames]
    pipeline.feed(iter(frames[:5]))  # warm-up both
    timed_invokes(bare_detector, tensors[:5])
    # Interleaved batches, so load from other processes falls on both alike.
    off = bare = RunResult(0, 0.0, 0.0)
    for start in range(0, len(frames), _BATCH):
        off = add(off, pipeline.feed(iter(frames[start : start + _BATCH])))
        bare = add(bare, timed_invokes(bare_detector, tensors[start : start + _BATCH]))
    pipeline.worker.stop()
    print(f"motion off: pipeline {off.fps:.1f} fps vs bare invoke {bare.fps:.1f} fps")
    print(f"motion off: {off.cpu_ms_per_frame:.2f} CPU ms/frame")

    # 3. Still scenes with motion on (same model), CPU per frame vs motion off.
    first = frames[0]
    rng = np.random.default_rng(0)
    noisy = [
        np.clip(first + rng.normal(0, 3, first.shape), 0, 255).astype(np.uint8)
        for _ in range(args.frames)
    ]
    still = run_worker(camera("effnet", motion=True), effnet, iter([first] * args.frames))
    noise = run_worker(camera("effnet", motion=True), effnet, iter(noisy))
    print(
        f"still: repeated {still.cpu_ms_per_frame:.3f} CPU ms/frame, "
        f"noise {noise.cpu_ms_per_frame:.3f} CPU ms/frame"
    )
    still_ratio = max(still.cpu_s / still.frames, noise.cpu_s / noise.frames) / (
        off.cpu_s / off.frames
    )
    result = {
        "pipeline_fps": round(off.fps, 2),
        "bare_fps": round(bare.fps, 2),
        "ratio": round(off.fps / bare.fps, 3),
        "still_cpu_ratio": round(still_ratio, 4),
        "vtest_fps": round(vt.fps, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
