"""The oracle's detections cached on disk, and the oracle's person tracks.

The oracle takes about a second per frame, so its detections are stored under
`<data_dir>/oracle/<clip sha256[:16]>-<model sha256[:16]>-<params hash>.json`, keyed by
source frame index: a rerun (or a run at another fps, or on a longer prefix) computes
only the frames missing. The file is rewritten atomically every `save_every` frames, so
an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from gateway.inference import archive
from gateway.inference.catalog import default_data_dir
from gateway.inference.geometry import Box
from gateway.inference.outputs import Detection
from gateway.vision.tracker import ObjectTracker, TrackerConfig
from lab.evaluation import TrackPath, TrackRecorder
from refcloud.oracle import PERSON, OracleConfig, PersonOracle, model_digest

__all__ = [
    "OracleRun",
    "StaticFilter",
    "cache_file",
    "oracle_detections",
    "oracle_tracks",
    "read_frames",
]

log = logging.getLogger(__name__)

# Lenient association: the oracle's boxes jitter (a mask splits or merges for a frame), so
# every box may match by centre distance and a track survives 10 missed frames. With the
# edge's tracker settings the oracle cut the first 175 frames of vtest into 41 tracks;
# with these, 29 (about the people walking through, some still cut where paths cross).
ORACLE_TRACKER = TrackerConfig(
    min_hits=2,
    max_misses=10,
    max_age_s=2.0,
    iou_threshold=0.2,
    small_box_area=20_000.0,
    center_distance=0.5,
)
Progress = Callable[[int, int], None]


@dataclass(slots=True, frozen=True)
class IndexedFrame:
    """One decoded frame of a clip and its index in the source."""

    index: int
    image: npt.NDArray[np.uint8]


@dataclass(slots=True, frozen=True)
class OracleRun:
    """The oracle's detections on the frames asked for, and how many had to be computed."""

    detections: Mapping[int, tuple[Detection, ...]]
    cache_path: Path
    computed: int
    seconds: float


@dataclass(slots=True, frozen=True)
class StaticFilter:
    """An oracle track that stays put this long is scenery (a cone, a bollard), not a person."""

    min_frames: int = 50
    max_shift_px: float = 6.0


def read_frames(clip: Path, indices: Sequence[int]) -> Iterator[IndexedFrame]:
    """Yield the frames of `clip` whose index is in `indices` (ascending), in order."""
    wanted = set(indices)
    last = max(wanted, default=-1)
    cap = cv2.VideoCapture(str(clip))
    try:
        index = 0
        while index <= last:
            ok, image = cap.read()
            if not ok:
                return
            if index in wanted:
                yield IndexedFrame(index, np.asarray(image, dtype=np.uint8))
            index += 1
    finally:
        cap.release()


def cache_file(
    clip: Path, config: OracleConfig, data_dir: Path | None = None, cache_dir: Path | None = None
) -> Path:
    """Return the cache file of the oracle's detections on `clip` with `config`.

    The models come from `data_dir`; the file lies in `cache_dir` (`<data_dir>/oracle`).
    """
    root = data_dir if data_dir is not None else default_data_dir()
    folder = cache_dir if cache_dir is not None else root / "oracle"
    clip_sha = archive.sha256_file(clip)[:16]
    models_sha = model_digest(config, data_dir)[:16]
    return folder / f"{clip_sha}-{models_sha}-{config.digest()}.json"


def oracle_detections(
    clip: Path,
    indices: Sequence[int],
    *,
    config: OracleConfig | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    threads: int = 1,
    save_every: int = 50,
    progress: Progress | None = None,
) -> OracleRun:
    """Return the oracle's detections on the frames `indices` of `clip`, using the cache."""
    import time

    cfg = config if config is not None else OracleConfig()
    path = cache_file(clip, cfg, data_dir, cache_dir)
    cached = _load(path)
    missing = [i for i in indices if i not in cached]
    started = time.perf_counter()
    if missing:
        oracle = PersonOracle(cfg, data_dir=data_dir, threads=threads)
        for n, frame in enumerate(read_frames(clip, missing), start=1):
            cached[frame.index] = tuple(oracle.detect(frame.image))
            if n % save_every == 0:
                _save(path, cached)
            if progress is not None:
                progress(n, len(missing))
        _save(path, cached)
    found = {i: cached[i] for i in indices if i in cached}
    return OracleRun(found, path, len(missing), time.perf_counter() - started)


def oracle_tracks(
    detections: Mapping[int, Sequence[Detection]],
    *,
    fps: float,
    tracker: TrackerConfig = ORACLE_TRACKER,
    min_frames: int = 3,
    static: StaticFilter | None = None,
) -> list[TrackPath]:
    """Track the oracle's people; drop tracks shorter than `min_frames` and scenery."""
    still = static if static is not None else StaticFilter()
    iou = ObjectTracker(tracker)
    recorder = TrackRecorder()
    for index in sorted(detections):
        update = iou.update(detections[index], index / fps, index)
        recorder.record(index, update.active)
    return [p for p in recorder.paths() if p.frames >= min_frames and not _is_static(p, still)]


def _is_static(path: TrackPath, rule: StaticFilter) -> bool:
    if path.frames < rule.min_frames:
        return False
    xs = [b.center.x for b in path.boxes.values()]
    ys = [b.center.y for b in path.boxes.values()]
    return max(max(xs) - min(xs), max(ys) - min(ys)) <= rule.max_shift_px


def _load(path: Path) -> dict[int, tuple[Detection, ...]]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("oracle cache %s unreadable (%s); recomputing", path, exc)
        return {}
    return {
        int(k): tuple(Detection(PERSON, float(d["score"]), Box(*d["box"])) for d in dets)
        for k, dets in raw["frames"].items()
    }


def _save(path: Path, frames: Mapping[int, Sequence[Detection]]) -> None:
    body = {
        "frames": {
            str(k): [
                {"score": round(d.score, 4), "box": [d.box.x1, d.box.y1, d.box.x2, d.box.y2]}
                for d in dets
            ]
            for k, dets in sorted(frames.items())
        }
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    staged = path.with_suffix(f".{os.getpid()}.part")
    staged.write_text(json.dumps(body, separators=(",", ":")), encoding="utf-8")
    staged.replace(path)
