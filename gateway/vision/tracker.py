"""Object tracker: one id per object across frames, with a start and an end.

Every track carries a Kalman filter (`BoxKalman`: constant velocity on the box's centre and
size, time in seconds), so a detection is matched against where the object should be now,
not where it was last seen. Each frame is associated in ByteTrack's order, each step one
greedy cheapest-first assignment (`_assign`) with a gate, per label:

1. high-score detections (score >= `high_score`) against every started track, lost ones
   included, by IoU with the predicted box (>= `iou_threshold`);
2. low-score detections (`min_score` <= score < `high_score`) against the started tracks
   still unmatched (IoU >= `low_iou_threshold`): a person half hidden by a post scores low,
   and that keeps the track alive, but a low score never starts one. A low-score box lying
   mostly inside a box matched in step 1 (`duplicate_overlap`) is that object boxed twice,
   not another, and takes no part;
2b. the high-score detections left against hidden tracks (`occlusion_overlap`, below);
3. the high-score detections left against tentative tracks (IoU >= `iou_threshold`);
4. the high-score detections still left start tentative tracks, except a part of an object
   matched on this frame (`part_overlap`: a box mostly inside a matched box, such as an
   upper body, which the detector often also finds) and a group of objects already
   reported (`group_overlap`: a box holding two or more of their predicted boxes, such
   as two walkers boxed as one).

Within a step, pairs whose boxes are smaller than `small_box_area` (their IoU swings with a
pixel of jitter) may then match by centre distance among what is left.

Appearance (optional, `appearance_weight` > 0 and the frame passed as `image`): each
detection is described by the colours of its upper and lower half (`gateway.vision.appearance`)
and each track keeps a moving average of its own, updated only from detections that overlap
no other. A pair's cost then adds `appearance_weight` times their appearance distance, a
track that missed a frame only matches a detection within `appearance_gate` of its look,
and, after the steps above, a high-score detection left over may re-identify a lost track
(unseen up to `reid_s`) that looks alike and is within `reid_reach` box heights of its
prediction, most alike first. Direction (`direction_weight` > 0, as OC-SORT): a pair's cost
also counts how far the detection would turn a moving track. Both are off by default; the
shipped camera turns them on (`configs/gateway.example.yaml`). On vtest.avi, where most
people wear dark coats, they raised the mean IDF1 over the shipped settings and seven
variations of them from 0.694 to 0.741; re-identification and the gate did not help there.
With `max_cost` > 0, a pair whose whole cost (1 - IoU or the centre distance over its reach,
plus both penalties) is above it never matches: where people cross, a track would rather
miss a frame than take a neighbour that looks unlike it and lies the wrong way.

Occlusion (`occlusion_overlap` > 0): a started track missed on a frame while its predicted
box lies inside a box that continues another track is *hidden* in that box: one person
behind another, or two boxed as one. No track learns its look from that box (it shows two
people), and when a high-score detection that nothing took lies inside the box that last
hid the track, and is alike (height, and look with the appearance cue), it continues the
hidden track: the person steps out where they went in, while the prediction, carried on by
the velocity the track had before, may be anywhere by then. On vtest.avi a pair stops
behind each other, turns and comes apart 1.4 s later; without this the one hidden came back
as a new event.

Lifecycle. A track is *tentative* until matched on `min_hits` consecutive frames; then it
*starts* (reported once); a tentative track unmatched on a frame vanishes silently. A started
track that goes unmatched keeps predicting: it is still reported active for `max_misses`
frames, then it is *lost* (not reported active, still matchable) until `lost_s` seconds
after it was last seen; a detection that matches its prediction meanwhile continues it with
the same id. It *ends* when both have run out, or `max_age_s` after it was last seen. So a
person walking behind a lamp post for a second stays one track and one event.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

import numpy as np
import numpy.typing as npt

from gateway.config.tracker import TrackerConfig, ZoneConfig
from gateway.inference.geometry import Box, Polygon
from gateway.logs import RateLimitedLog
from gateway.vision.appearance import Descriptor, describe, distance
from gateway.vision.kalman import BoxKalman, KalmanNoise

__all__ = [
    "DetectionLike",
    "ObjectTracker",
    "Track",
    "TrackState",
    "TrackUpdate",
    "TrackerConfig",
    "ZoneConfig",
]

log = logging.getLogger(__name__)

Matrix = npt.NDArray[np.float64]
Image = npt.NDArray[np.uint8]
_INFEASIBLE = 1e6
"""Cost of a pair the gate forbids; far above any allowed pair or leaving both unmatched."""
_FEASIBLE = _INFEASIBLE / 2
"""Any pair the gates allow costs less than this."""
_CROWDED_IOU = 0.1
"""A detection overlapping another this much (IoU) shows some of it: its colours are mixed."""
_MIN_SPEED = 0.2
"""Slowest track, in box heights per second, whose direction counts (`direction_weight`)."""
_HEIGHT_FACTOR = 2.0
"""A match by appearance alone needs heights within this factor."""
_MIN_STEP = 0.1
"""Shortest step from a track's last box to a detection, in box heights, whose direction counts."""


class DetectionLike(Protocol):
    """What the tracker needs of a detection (the decoders' `Detection` fits)."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def box(self) -> Box: ...


class TrackState(StrEnum):
    """Lifecycle of a track."""

    TENTATIVE = "tentative"  # seen, fewer than min_hits matches, not reported yet
    ACTIVE = "active"
    ENDED = "ended"


@dataclass(slots=True, frozen=True)
class Track:
    """A snapshot of one tracked object; the tracker replaces it on every change."""

    id: int
    label: str
    state: TrackState
    first_seen: float
    last_seen: float
    box: Box
    """Latest matched box."""
    score: float
    """Latest matched score."""
    best_score: float
    best_box: Box
    best_frame_index: int
    hits: int
    misses: int
    """Processed frames since the last match."""
    zones: frozenset[str]
    """Zones the bottom-centre of the latest box is in."""
    zones_entered: frozenset[str]
    """Every zone the track has been in."""


@dataclass(slots=True, frozen=True)
class TrackUpdate:
    """What changed on one frame."""

    started: list[Track]
    updated: list[Track]
    ended: list[Track]
    active: list[Track]
    """Started, not yet ended tracks after this frame, lost ones excluded."""


@dataclass(slots=True, frozen=True)
class _Zone:
    name: str
    polygon: Polygon
    labels: frozenset[str]


@dataclass(slots=True)
class _Live:
    """A live track: its snapshot, its motion model and its appearance (None: not seen yet)."""

    track: Track
    kalman: BoxKalman
    appearance: Descriptor | None = None
    hidden_in: Box | None = None
    """While unmatched: the last box, continuing another track, that held its prediction."""


@dataclass(slots=True, frozen=True)
class _Pair:
    live: _Live
    det: int
    """Index into the frame's accepted detections."""


class ObjectTracker:
    """Kalman + two-stage (ByteTrack) tracker for one camera; `update` once per frame."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self._zones = [
            _Zone(z.name, Polygon.from_pairs(z.points), frozenset(z.labels))
            for z in self.config.zones
        ]
        self._noise = KalmanNoise(self.config.velocity_noise, self.config.measurement_noise)
        self._live: dict[int, _Live] = {}
        self._hidden: set[int] = set()
        """Started tracks held back as nested in a reported one (`nested_overlap`)."""
        self._ids = itertools.count(1)
        self._frame_index = -1
        self._last_ts: float | None = None
        self._ratelog = RateLimitedLog(log)
        self.late_frames = 0
        """Frames whose time was before the previous frame's (handled as no time passing)."""

    @property
    def tracks(self) -> list[Track]:
        """Every live track, tentative and lost ones included."""
        return [live.track for live in self._live.values()]

    def expected_boxes(self, ts: float) -> list[Box]:
        """Return where every live track is expected at `ts` (before `update` for that frame)."""
        return [live.kalman.box_at(ts) for live in self._live.values()]

    def accepts(self, det: DetectionLike) -> bool:
        """Return True when `det` passes the label, score and area filters."""
        cfg = self.config
        return (
            (not cfg.labels or det.label in cfg.labels)
            and det.score >= cfg.min_score
            and det.box.area >= cfg.min_area
        )

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
        """Match this frame's detections at time `ts` (seconds) and return what changed.

        `looked` is where the detector ran on this frame (None: the whole frame). A track
        whose predicted centre lies outside every such region was not looked for, so it is
        neither missed nor dropped this frame: with motion gating, a person standing still
        is only seen by the periodic whole-frame pass, and must survive until the next one.
        It still ends `max_age_s` after it was last seen. `frame` is the picture's extent: a
        track predicted outside it has walked out of view, and counts as looked for (missed).
        `image` is the frame itself (BGR): with it, and `appearance_weight` above 0, what the
        boxes look like takes part in matching, and lost tracks can be re-identified.
        """
        cfg = self.config
        self._frame_index = self._frame_index + 1 if frame_index is None else frame_index
        ts = self._clock(ts)
        dets = [d for d in detections if self.accepts(d)]
        high = [i for i, d in enumerate(dets) if d.score >= cfg.high_score]
        for live in self._live.values():
            live.kalman.predict(ts)
        looks = self._describe(dets, image)
        pairs, recent = self._match(dets, high, looks, ts)
        used = {p.det for p in pairs}
        crowded = _crowded(dets) if any(look is not None for look in looks) else set()
        if cfg.occlusion_overlap > 0:
            crowded |= self._hide(pairs, recent, dets)

        started: list[Track] = []
        updated: list[Track] = []
        ended: list[Track] = []
        matched: set[int] = set()
        for pair in pairs:
            live = pair.live
            was_active = live.track.state is TrackState.ACTIVE
            live.kalman.update(dets[pair.det].box)
            live.track = self._hit(live.track, dets[pair.det], ts)
            live.hidden_in = None
            if pair.det not in crowded:
                self._remember_look(live, looks[pair.det])
            matched.add(live.track.id)
            if live.track.state is TrackState.ACTIVE:
                (updated if was_active else started).append(live.track)
        ended += self._age_unmatched(matched, ts, looked, frame)
        wholes = [dets[p.det].box for p in pairs if p.live.track.state is TrackState.ACTIVE]
        for i in high:
            if i not in used and not self._part_or_group(dets[i].box, wholes):
                live = self._new(dets[i], ts)
                if i not in crowded:
                    live.appearance = looks[i]
                self._live[live.track.id] = live
                if live.track.state is TrackState.ACTIVE:
                    started.append(live.track)
        return self._announce(started, updated, ended)

    def flush(self, ts: float) -> TrackUpdate:
        """End every live track (stream over, camera removed); tentative ones just vanish."""
        del ts  # the ended tracks keep their last_seen
        ended = [
            replace(v.track, state=TrackState.ENDED)
            for v in self._live.values()
            if v.track.state is TrackState.ACTIVE and v.track.id not in self._hidden
        ]
        self._live.clear()
        self._hidden.clear()
        self._last_ts = None
        return TrackUpdate([], [], ended, [])

    def _part_or_group(self, box: Box, wholes: Sequence[Box]) -> bool:
        """Whether `box` is a part of an object matched this frame (`part_overlap`) or a
        group of objects already reported (`group_overlap`): either starts no track."""
        cfg = self.config
        if cfg.part_overlap > 0 and _nested(box, wholes, cfg.part_overlap):
            return True
        if cfg.group_overlap <= 0:
            return False
        held = [
            live
            for live in self._live.values()
            if live.track.state is TrackState.ACTIVE
            and live.track.misses <= cfg.max_misses
            and _nested(live.kalman.box, [box], cfg.group_overlap)
        ]
        return len(held) >= 2

    # ---- association ---------------------------------------------------------------

    def _match(
        self,
        dets: list[DetectionLike],
        high: list[int],
        looks: Sequence[Descriptor | None],
        ts: float,
    ) -> tuple[list[_Pair], list[_Live]]:
        """Pair this frame's detections (`high`: the indices of the sure ones) with tracks,
        step by step (the module docstring); return the pairs and the started tracks recent
        enough to be matched."""
        cfg = self.config
        sure = set(high)
        low = [i for i in range(len(dets)) if i not in sure]
        started_tracks = [v for v in self._live.values() if v.track.state is TrackState.ACTIVE]
        recent = [v for v in started_tracks if self._recent(v.track, ts)]
        tentative = [v for v in self._live.values() if v.track.state is TrackState.TENTATIVE]

        pairs = self._associate(recent, dets, high, cfg.iou_threshold, looks)
        taken = {id(p.live) for p in pairs}
        unmatched = [v for v in recent if id(v) not in taken]
        if cfg.duplicate_overlap > 0:
            firsts = [dets[p.det].box for p in pairs]
            low = [i for i in low if not _nested(dets[i].box, firsts, cfg.duplicate_overlap)]
        pairs += self._associate(unmatched, dets, low, cfg.low_iou_threshold, looks)
        used = {p.det for p in pairs}
        fresh = [i for i in high if i not in used]
        if cfg.occlusion_overlap > 0:
            taken = {id(p.live) for p in pairs}
            hidden = [v for v in recent if id(v) not in taken and v.hidden_in is not None]
            pairs += self._reappear(hidden, dets, fresh, looks)
            used = {p.det for p in pairs}
            fresh = [i for i in high if i not in used]
        pairs += self._associate(tentative, dets, fresh, cfg.iou_threshold, looks)
        if cfg.reid_s > 0 and any(look is not None for look in looks):
            taken = {id(p.live) for p in pairs}
            used = {p.det for p in pairs}
            missing = [v for v in started_tracks if id(v) not in taken and v.track.misses > 0]
            fresh = [i for i in high if i not in used]
            pairs += self._reidentify(missing, dets, fresh, looks, ts)
        return pairs, recent

    def _associate(
        self,
        lives: list[_Live],
        dets: list[DetectionLike],
        candidates: list[int],
        min_iou: float,
        looks: Sequence[Descriptor | None],
    ) -> list[_Pair]:
        """Pair tracks with detections (indices in `candidates`): IoU first, then small boxes.

        The cost of a pair is 1 - IoU, plus `appearance_weight` times their appearance
        distance (when both are known), plus `direction_weight` times how far the detection
        would turn the track (`_turns`); a track that missed a frame never matches a
        detection further from its look than `appearance_gate`, and no pair dearer than
        `max_cost` (when above 0) matches.
        """
        if not lives or not candidates:
            return []
        cfg = self.config
        predicted = [v.kalman.box for v in lives]
        boxes = [dets[i].box for i in candidates]
        same = np.array(
            [[v.track.label == dets[i].label for i in candidates] for v in lives], dtype=bool
        )
        apart = self._apart(lives, candidates, looks)
        missed = np.array([[v.track.misses > 0] for v in lives], dtype=bool)
        alike = ~missed | (apart <= cfg.appearance_gate)
        penalty = cfg.appearance_weight * apart
        if cfg.direction_weight > 0:
            penalty = penalty + cfg.direction_weight * _turns(lives, boxes)
        iou = _iou_matrix(predicted, boxes)
        cost = np.where(same & alike & (iou >= min_iou), 1.0 - iou + penalty, _INFEASIBLE)
        limit = cfg.max_cost if cfg.max_cost > 0 else _FEASIBLE
        found = _assign(cost, limit)
        pairs = [_Pair(lives[r], candidates[c]) for r, c in found]
        if cfg.small_box_area <= 0 or cfg.center_distance <= 0:
            return pairs
        taken_rows = {r for r, _ in found}
        taken_cols = {c for _, c in found}
        rows = [r for r in range(len(lives)) if r not in taken_rows]
        cols = [c for c in range(len(candidates)) if c not in taken_cols]
        if not rows or not cols:
            return pairs
        near = np.full((len(rows), len(cols)), _INFEASIBLE)
        for a, r in enumerate(rows):
            for b, c in enumerate(cols):
                p, d = predicted[r], boxes[c]
                if not (same[r, c] and alike[r, c]) or min(p.area, d.area) >= cfg.small_box_area:
                    continue
                reach = cfg.center_distance * max(p.diagonal, d.diagonal)
                dist = p.center.distance(d.center)
                if reach > 0 and dist <= reach:
                    near[a, b] = dist / reach + penalty[r, c]
        found = _assign(near, limit)
        pairs += [_Pair(lives[rows[a]], candidates[cols[b]]) for a, b in found]
        return pairs

    def _reidentify(
        self,
        lives: list[_Live],
        dets: list[DetectionLike],
        candidates: list[int],
        looks: Sequence[Descriptor | None],
        ts: float,
    ) -> list[_Pair]:
        """Pair unseen tracks with detections nothing else took, by appearance alone.

        A pair needs the same label, an appearance distance of at most `reid_max_distance`,
        a centre within `reid_reach` box heights of the track's prediction and a height
        within a factor of two; the most alike pairs are taken first.
        """
        cfg = self.config
        lives = [v for v in lives if ts - v.track.last_seen <= max(cfg.reid_s, cfg.lost_s)]

        def near(live: _Live, d: Box) -> bool:
            p = live.kalman.box
            return _similar_height(p, d) and p.center.distance(d.center) <= cfg.reid_reach * max(
                p.height, d.height
            )

        return self._pair_alike(lives, dets, candidates, looks, near, need_look=True)

    def _hide(
        self, pairs: Sequence[_Pair], recent: Sequence[_Live], dets: list[DetectionLike]
    ) -> set[int]:
        """Mark the started tracks unmatched this frame whose prediction lies inside a box
        that continues another track (`occlusion_overlap`) as hidden in that box; return the
        indices of such boxes (they show two objects: no track learns its look from them)."""
        paired = {id(p.live) for p in pairs}
        missing = [v for v in recent if id(v) not in paired]
        holding: set[int] = set()
        if not missing:
            return holding
        overlap = self.config.occlusion_overlap
        for pair in pairs:
            box = dets[pair.det].box
            for live in missing:
                if _nested(live.kalman.box, [box], overlap):
                    live.hidden_in = box
                    holding.add(pair.det)
        return holding

    def _reappear(
        self,
        lives: list[_Live],
        dets: list[DetectionLike],
        candidates: list[int],
        looks: Sequence[Descriptor | None],
    ) -> list[_Pair]:
        """Continue hidden tracks with high-score detections nothing took that lie mostly
        inside the box that last hid them, most alike first: a person stepping out from
        behind another is found where they went in, wherever the prediction drifted to.
        Where either look is unknown, place and height alone decide."""
        overlap = self.config.occlusion_overlap

        def near(live: _Live, d: Box) -> bool:
            held = live.hidden_in
            assert held is not None
            return d.overlap_of_smaller(held) >= overlap and _similar_height(live.track.box, d)

        return self._pair_alike(lives, dets, candidates, looks, near, need_look=False)

    def _pair_alike(
        self,
        lives: list[_Live],
        dets: list[DetectionLike],
        candidates: list[int],
        looks: Sequence[Descriptor | None],
        near: Callable[[_Live, Box], bool],
        *,
        need_look: bool,
    ) -> list[_Pair]:
        """Pair tracks with candidate detections of their label that lie `near` them and
        look alike (within `reid_max_distance`), most alike first. `need_look`: a pair
        whose track or detection has no look never matches (else place alone decides)."""
        if not lives or not candidates:
            return []
        limit = self.config.reid_max_distance
        apart = self._apart(lives, candidates, looks)
        cost = np.full(apart.shape, _INFEASIBLE)
        for r, live in enumerate(lives):
            for c, i in enumerate(candidates):
                known = live.appearance is not None and looks[i] is not None
                if (
                    (need_look and not known)
                    or live.track.label != dets[i].label
                    or (known and apart[r, c] > limit)
                    or not near(live, dets[i].box)
                ):
                    continue
                cost[r, c] = apart[r, c]
        return [_Pair(lives[r], candidates[c]) for r, c in _assign(cost, _FEASIBLE)]

    # ---- appearance ----------------------------------------------------------------

    def _describe(
        self, dets: Sequence[DetectionLike], image: Image | None
    ) -> list[Descriptor | None]:
        """Return each detection's appearance (all None when the cue is off or no image)."""
        if image is None or self.config.appearance_weight <= 0:
            return [None] * len(dets)
        return [describe(image, d.box) for d in dets]

    @staticmethod
    def _apart(
        lives: Sequence[_Live], candidates: Sequence[int], looks: Sequence[Descriptor | None]
    ) -> Matrix:
        """Appearance distance of every track to every candidate (0 where either is unknown)."""
        out = np.zeros((len(lives), len(candidates)))
        for r, live in enumerate(lives):
            if live.appearance is None:
                continue
            for c, i in enumerate(candidates):
                look = looks[i]
                if look is not None:
                    out[r, c] = distance(live.appearance, look)
        return out

    def _remember_look(self, live: _Live, look: Descriptor | None) -> None:
        if look is None:
            return
        if live.appearance is None:
            live.appearance = look
            return
        m = self.config.appearance_momentum
        live.appearance = (m * live.appearance + (1.0 - m) * look).astype(np.float32)

    # ---- lifecycle -----------------------------------------------------------------

    def _clock(self, ts: float) -> float:
        """Return `ts`, or the previous frame's time when `ts` went backwards (counted)."""
        if self._last_ts is not None and ts < self._last_ts:
            self.late_frames += 1
            self._ratelog.warning(
                "late",
                "tracker: frame time %.3f is before the previous %.3f; taken as no time passing"
                " (%d so far)",
                ts,
                self._last_ts,
                self.late_frames,
            )
            return self._last_ts
        self._last_ts = ts
        return ts

    def _age_unmatched(
        self, matched: set[int], ts: float, looked: Sequence[Box] | None, frame: Box | None
    ) -> list[Track]:
        """Count a miss on every live track not matched this frame; return those that end."""
        cfg = self.config
        ended: list[Track] = []
        for track_id, live in list(self._live.items()):
            if track_id in matched:
                continue
            if not self._looked_for(live, looked, frame):
                # Unobserved: an active track waits up to max_age_s for the next look, a
                # tentative one only lost_s (so unconfirmed ones do not pile up).
                tentative = live.track.state is TrackState.TENTATIVE
                if ts - live.track.last_seen > (cfg.lost_s if tentative else cfg.max_age_s):
                    del self._live[track_id]
                    if live.track.state is TrackState.ACTIVE:
                        ended.append(replace(live.track, state=TrackState.ENDED))
                continue
            if live.track.state is TrackState.TENTATIVE:
                del self._live[track_id]  # must be matched on every frame until it starts
                continue
            if live.track.misses == 0:
                live.kalman.hold_size()
            live.track = replace(live.track, misses=live.track.misses + 1)
            if self._expired(live.track, ts, known=live.appearance is not None):
                del self._live[track_id]
                ended.append(replace(live.track, state=TrackState.ENDED))
        return ended

    @staticmethod
    def _looked_for(live: _Live, looked: Sequence[Box] | None, frame: Box | None) -> bool:
        if looked is None:
            return True
        c = live.kalman.box.center
        if frame is not None and not (frame.x1 <= c.x <= frame.x2 and frame.y1 <= c.y <= frame.y2):
            return True  # out of the picture: gone, not unobserved
        return any(r.x1 <= c.x <= r.x2 and r.y1 <= c.y <= r.y2 for r in looked)

    def _active(self) -> list[Track]:
        limit = self.config.max_misses
        return [
            v.track
            for v in self._live.values()
            if v.track.state is TrackState.ACTIVE
            and v.track.misses <= limit
            and v.track.id not in self._hidden
        ]

    def _announce(
        self, started: list[Track], updated: list[Track], ended: list[Track]
    ) -> TrackUpdate:
        """Hold back started tracks nested in a reported one (`nested_overlap`) until they
        show themselves; report the rest. Hidden tracks are tracked, never reported."""
        overlap = self.config.nested_overlap
        if overlap <= 0:
            return TrackUpdate(started, updated, ended, self._active())
        shown = [t for t in ended if t.id not in self._hidden]
        self._hidden -= {t.id for t in ended}
        reported = [t.box for t in self._active()]
        newly: list[Track] = []
        for track in started:
            if _nested(track.box, reported, overlap):
                self._hidden.add(track.id)
            else:
                newly.append(track)
        for track_id in sorted(self._hidden):
            live = self._live.get(track_id)
            if live is None:
                self._hidden.discard(track_id)
            elif live.track.misses == 0 and not _nested(live.track.box, reported, overlap):
                self._hidden.discard(track_id)
                newly.append(live.track)
        shown_now = {t.id for t in newly}
        kept = [t for t in updated if t.id not in self._hidden and t.id not in shown_now]
        return TrackUpdate(newly, kept, shown, self._active())

    def _recent(self, track: Track, ts: float) -> bool:
        """Return True while an unseen track may still be matched by its prediction alone."""
        cfg = self.config
        return track.misses <= cfg.max_misses or ts - track.last_seen <= cfg.lost_s

    def _expired(self, track: Track, ts: float, *, known: bool) -> bool:
        cfg = self.config
        unseen = ts - track.last_seen
        if unseen > cfg.max_age_s:
            return True
        memory = max(cfg.lost_s, cfg.reid_s) if known else cfg.lost_s
        return track.misses > cfg.max_misses and unseen > memory

    def _zones_of(self, label: str, box: Box) -> frozenset[str]:
        foot = box.bottom_center
        return frozenset(
            z.name
            for z in self._zones
            if (not z.labels or label in z.labels) and z.polygon.contains(foot)
        )

    def _new(self, det: DetectionLike, ts: float) -> _Live:
        zones = self._zones_of(det.label, det.box)
        state = TrackState.ACTIVE if self.config.min_hits <= 1 else TrackState.TENTATIVE
        track = Track(
            id=next(self._ids),
            label=det.label,
            state=state,
            first_seen=ts,
            last_seen=ts,
            box=det.box,
            score=det.score,
            best_score=det.score,
            best_box=det.box,
            best_frame_index=self._frame_index,
            hits=1,
            misses=0,
            zones=zones,
            zones_entered=zones,
        )
        return _Live(track, BoxKalman(det.box, ts, self._noise))

    def _hit(self, track: Track, det: DetectionLike, ts: float) -> Track:
        zones = self._zones_of(det.label, det.box)
        best = det.score > track.best_score
        hits = track.hits + 1
        return replace(
            track,
            state=TrackState.ACTIVE if hits >= self.config.min_hits else track.state,
            last_seen=ts,
            box=det.box,
            score=det.score,
            best_score=det.score if best else track.best_score,
            best_box=det.box if best else track.best_box,
            best_frame_index=self._frame_index if best else track.best_frame_index,
            hits=hits,
            misses=0,
            zones=zones,
            zones_entered=track.zones_entered | zones,
        )


def _similar_height(predicted: Box, detected: Box) -> bool:
    """Whether a detection is tall enough, and not too tall, to be the predicted object
    (a re-identification by appearance alone needs it)."""
    ratio = detected.height / max(predicted.height, 1.0)
    return 1.0 / _HEIGHT_FACTOR <= ratio <= _HEIGHT_FACTOR


def _nested(box: Box, others: Sequence[Box], overlap: float) -> bool:
    """Whether `overlap` of `box`'s area lies inside one larger box of `others`."""
    return any(o.area > box.area and box.overlap_of_smaller(o) >= overlap for o in others)


def _turns(lives: Sequence[_Live], boxes: Sequence[Box]) -> Matrix:
    """How far each detection would turn each track, from 0 (straight on) to 1 (back).

    The angle between the track's velocity and the way from its last matched box to the
    detection, over pi, as OC-SORT's direction consistency; 0 where the track is too slow or
    the step too short for a direction to mean anything (`_MIN_SPEED`, `_MIN_STEP`).
    """
    out = np.zeros((len(lives), len(boxes)))
    for r, live in enumerate(lives):
        vx, vy = live.kalman.velocity
        last = live.track.box
        h = max(last.height, 1.0)
        speed = float(np.hypot(vx, vy))
        if speed < _MIN_SPEED * h:
            continue
        for c, b in enumerate(boxes):
            dx, dy = b.center.x - last.center.x, b.center.y - last.center.y
            step = float(np.hypot(dx, dy))
            if step < _MIN_STEP * h:
                continue
            cos = (vx * dx + vy * dy) / (speed * step)
            out[r, c] = float(np.arccos(np.clip(cos, -1.0, 1.0))) / np.pi
    return out


def _crowded(dets: Sequence[DetectionLike]) -> set[int]:
    """Return the indices of detections overlapping another one (IoU above `_CROWDED_IOU`)."""
    if len(dets) < 2:
        return set()
    iou = _iou_matrix([d.box for d in dets], [d.box for d in dets])
    np.fill_diagonal(iou, 0.0)
    return {int(i) for i in np.nonzero(iou.max(axis=1) > _CROWDED_IOU)[0]}


def _iou_matrix(a: Sequence[Box], b: Sequence[Box]) -> Matrix:
    """Return the IoU of every box in `a` with every box in `b` (shape len(a) x len(b))."""
    pa = np.array([[x.x1, x.y1, x.x2, x.y2] for x in a], np.float64).reshape(-1, 1, 4)
    pb = np.array([[x.x1, x.y1, x.x2, x.y2] for x in b], np.float64).reshape(1, -1, 4)
    w = np.clip(np.minimum(pa[..., 2], pb[..., 2]) - np.maximum(pa[..., 0], pb[..., 0]), 0, None)
    h = np.clip(np.minimum(pa[..., 3], pb[..., 3]) - np.maximum(pa[..., 1], pb[..., 1]), 0, None)
    inter = w * h
    area_a = (pa[..., 2] - pa[..., 0]) * (pa[..., 3] - pa[..., 1])
    area_b = (pb[..., 2] - pb[..., 0]) * (pb[..., 3] - pb[..., 1])
    union = area_a + area_b - inter
    iou: Matrix = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    return iou


def _assign(cost: Matrix, limit: float) -> list[tuple[int, int]]:
    """Return (row, column) pairs, cheapest first, each pair costing at most `limit`.

    Greedy on the sorted costs (as norfair and Frigate match): the cheapest feasible pair
    is taken, its row and column leave, and so on. Each row and column is used once, and a
    good match is never traded for two poor ones. It is not an optimal assignment, and
    does not need to be: on vtest.avi against the hand-verified truth it scored better than
    SciPy's `linear_sum_assignment` (IDF1 0.698 vs 0.686), without SciPy on the board
    (about 50 MB resident, 140 MB of the image).
    """
    rows, cols = cost.shape
    if rows == 0 or cols == 0:
        return []
    r_idx, c_idx = np.nonzero(cost <= limit)
    order = np.argsort(cost[r_idx, c_idx], kind="stable")
    taken_rows: set[int] = set()
    taken_cols: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for k in order:
        r, c = int(r_idx[k]), int(c_idx[k])
        if r in taken_rows or c in taken_cols:
            continue
        taken_rows.add(r)
        taken_cols.add(c)
        pairs.append((r, c))
    return pairs
