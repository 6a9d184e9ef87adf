"""Accuracy against the oracle: frame-level person presence and event (track) matching.

The event rule (issue 6):

- A reported track and an oracle track *match in a frame* when both have a box in it and
  the boxes overlap with IoU >= `iou` (0.3), or the oracle box's centre lies inside the
  reported box.
- Pairs are assigned *one to one*, greedily by the number of frames they match in (most
  first, ties by ids), and a pair needs at least `min_frames` (3) such frames. So a second
  reported track on the same person is a false positive, and a group reported as one
  track recalls one person.
- *Lenient* figures: an oracle track is recalled when any reported track matches it in
  `min_frames` frames; a reported track is correct when it so matches any oracle track.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from gateway.inference.geometry import Box
from gateway.vision.tracker import Track

__all__ = [
    "EventScore",
    "PresenceScore",
    "TrackPath",
    "TrackRecorder",
    "frame_presence",
    "match_events",
    "matched_frames",
]

IOU_MATCH = 0.3
MIN_FRAMES = 3


@dataclass(slots=True, frozen=True)
class TrackPath:
    """One track as the box it had in each frame it was seen in (frame index -> box)."""

    id: int
    boxes: Mapping[int, Box]

    @property
    def frames(self) -> int:
        """Number of frames with a box."""
        return len(self.boxes)


@dataclass(slots=True, frozen=True)
class PresenceScore:
    """Frame-level "is anyone there" against the oracle."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


@dataclass(slots=True, frozen=True)
class MatchedPair:
    """A reported track assigned to an oracle track, and in how many frames they match."""

    reported: int
    oracle: int
    frames: int


@dataclass(slots=True, frozen=True)
class EventScore:
    """Event figures: one-to-one (the targets) and lenient (per track, any match)."""

    reported: int
    oracle: int
    matched: int
    recall: float
    precision: float
    lenient_recall: float
    lenient_precision: float
    duplicates: int = 0
    """Reported tracks on a person that another reported track was assigned (fragments)."""
    spurious: int = 0
    """Reported tracks on no oracle person at all (tape, cones, shadows)."""
    merged: int = 0
    """Oracle people seen only inside another person's reported track (groups)."""
    missed: int = 0
    """Oracle people no reported track matched at all."""
    pairs: tuple[MatchedPair, ...] = field(default=())


def _ratio(num: int, den: int, empty: float = 1.0) -> float:
    return num / den if den else empty


def frame_presence(
    reported: Iterable[int], oracle: Iterable[int], frames: Iterable[int]
) -> PresenceScore:
    """Score presence per frame: `reported`/`oracle` are the frames with at least one person."""
    rep, ora = set(reported), set(oracle)
    tp = fp = fn = 0
    for f in frames:
        tp += f in rep and f in ora
        fp += f in rep and f not in ora
        fn += f in ora and f not in rep
    precision, recall = _ratio(tp, tp + fp), _ratio(tp, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PresenceScore(tp, fp, fn, precision, recall, f1)


def frames_with_boxes(tracks: Iterable[TrackPath]) -> set[int]:
    """Return every frame in which at least one of `tracks` has a box."""
    return {f for t in tracks for f in t.boxes}


def box_matches(reported: Box, oracle: Box, iou: float = IOU_MATCH) -> bool:
    """Return True when the boxes match in a frame (IoU, or oracle centre inside)."""
    c = oracle.center
    inside = reported.x1 <= c.x <= reported.x2 and reported.y1 <= c.y <= reported.y2
    return inside or reported.iou(oracle) >= iou


def matched_frames(reported: TrackPath, oracle: TrackPath, iou: float = IOU_MATCH) -> int:
    """Return the number of frames in which the two tracks match."""
    shared = reported.boxes.keys() & oracle.boxes.keys()
    return sum(box_matches(reported.boxes[f], oracle.boxes[f], iou) for f in shared)


def match_events(
    reported: Sequence[TrackPath],
    oracle: Sequence[TrackPath],
    *,
    iou: float = IOU_MATCH,
    min_frames: int = MIN_FRAMES,
) -> EventScore:
    """Match reported tracks to oracle tracks one to one (see the module docstring)."""
    candidates: list[MatchedPair] = []
    for r in reported:
        for o in oracle:
            n = matched_frames(r, o, iou)
            if n >= min_frames:
                candidates.append(MatchedPair(r.id, o.id, n))
    candidates.sort(key=lambda p: (-p.frames, p.reported, p.oracle))
    used_r: set[int] = set()
    used_o: set[int] = set()
    pairs: list[MatchedPair] = []
    for pair in candidates:
        if pair.reported not in used_r and pair.oracle not in used_o:
            used_r.add(pair.reported)
            used_o.add(pair.oracle)
            pairs.append(pair)
    any_r = {p.reported for p in candidates}
    any_o = {p.oracle for p in candidates}
    return EventScore(
        reported=len(reported),
        oracle=len(oracle),
        matched=len(pairs),
        recall=_ratio(len(pairs), len(oracle)),
        precision=_ratio(len(pairs), len(reported)),
        lenient_recall=_ratio(len(any_o), len(oracle)),
        lenient_precision=_ratio(len(any_r), len(reported)),
        duplicates=len(any_r - used_r),
        spurious=len(reported) - len(any_r),
        merged=len(any_o - used_o),
        missed=len(oracle) - len(any_o),
        pairs=tuple(pairs),
    )


class TrackRecorder:
    """Collect each track's box per frame from the tracker's output, frame by frame."""

    def __init__(self) -> None:
        self._boxes: dict[int, dict[int, Box]] = {}

    def record(self, frame: int, tracks: Iterable[Track]) -> None:
        """Record the tracks matched on `frame` (a track that missed keeps no box there)."""
        for t in tracks:
            if t.misses == 0:
                self._boxes.setdefault(t.id, {})[frame] = t.box

    def paths(self, keep: Iterable[int] | None = None) -> list[TrackPath]:
        """Return the recorded tracks (only the ids in `keep`, when given)."""
        wanted = None if keep is None else set(keep)
        return [
            TrackPath(tid, dict(boxes))
            for tid, boxes in sorted(self._boxes.items())
            if wanted is None or tid in wanted
        ]
