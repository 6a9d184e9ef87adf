"""IoU tracker: one id per object across frames, with a start and an end.

Detections are matched to live tracks of the same label greedily, best IoU first; small
boxes (whose IoU swings with a pixel of jitter) fall back to centre distance. A track is
*started* (reported once) after `min_hits` matches; it *ends* after `max_misses` frames
without a match or `max_age_s` seconds unseen. Tracks that never started vanish silently.

Stitching (`stitch_s` > 0): a started track that missed frames is *lost*, not gone: a
detection no live track took, whose centre lies within `stitch_distance` diagonals of the
lost track's last box, continues it (same id) instead of starting a new track, until
`stitch_s` seconds after it was last seen. So a person whose blob broke up for a moment
(merged into a passer-by's, cut by a pole, scored low) stays one track and one event;
the end of a track is reported when its stitch window closes.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol

from gateway.config.tracker import TrackerConfig, ZoneConfig
from gateway.inference.geometry import Box, Polygon

__all__ = [
    "DetectionLike",
    "IoUTracker",
    "Track",
    "TrackState",
    "TrackUpdate",
    "TrackerConfig",
    "ZoneConfig",
]


class DetectionLike(Protocol):
    """What the tracker needs of a detection (the decoders' `Detection` fits)."""

    @property
    def label(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def box(self) -> Box: ...


_STITCH_SIZE = 0.7  # a stitched detection's height is within [0.7, 1/0.7] of the track's


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
    """Every started, not yet ended track after this frame."""


@dataclass(slots=True, frozen=True)
class _Zone:
    name: str
    polygon: Polygon
    labels: frozenset[str]


class IoUTracker:
    """Greedy per-label IoU tracker for one camera; call `update` once per processed frame."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config if config is not None else TrackerConfig()
        self._zones = [
            _Zone(z.name, Polygon.from_pairs(z.points), frozenset(z.labels))
            for z in self.config.zones
        ]
        self._tracks: dict[int, Track] = {}
        self._ids = itertools.count(1)
        self._frame_index = -1

    @property
    def tracks(self) -> list[Track]:
        """Every live track, tentative ones included."""
        return list(self._tracks.values())

    def accepts(self, det: DetectionLike) -> bool:
        """Return True when `det` passes the label, score and area filters."""
        cfg = self.config
        return (
            (not cfg.labels or det.label in cfg.labels)
            and det.score >= cfg.min_score
            and det.box.area >= cfg.min_area
        )

    def update(
        self, detections: Sequence[DetectionLike], ts: float, frame_index: int | None = None
    ) -> TrackUpdate:
        """Match this frame's detections at time `ts` (seconds) and return what changed."""
        self._frame_index = self._frame_index + 1 if frame_index is None else frame_index
        dets = [d for d in detections if self.accepts(d)]
        started: list[Track] = []
        updated: list[Track] = []
        ended: list[Track] = []
        matched_tracks: set[int] = set()
        matched_dets: set[int] = set()
        pairs = self._match(dets)
        pairs += self._stitch(dets, {t for t, _ in pairs}, {i for _, i in pairs})
        for track_id, det_index in pairs:
            matched_tracks.add(track_id)
            matched_dets.add(det_index)
            track = self._hit(self._tracks[track_id], dets[det_index], ts)
            self._tracks[track_id] = track
            if track.state is TrackState.ACTIVE:
                was_active = track.hits > self.config.min_hits
                (updated if was_active else started).append(track)
        for track_id, track in list(self._tracks.items()):
            if track_id in matched_tracks:
                continue
            missed = replace(track, misses=track.misses + 1)
            expired = self._expired(missed, ts)
            if track.state is TrackState.TENTATIVE:
                # A tentative track must be matched on every frame until it starts.
                del self._tracks[track_id]
            elif expired:
                del self._tracks[track_id]
                ended.append(replace(missed, state=TrackState.ENDED))
            else:
                self._tracks[track_id] = missed
        for i, det in enumerate(dets):
            if i not in matched_dets:
                track = self._new(det, ts)
                self._tracks[track.id] = track
                if track.state is TrackState.ACTIVE:
                    started.append(track)
        return TrackUpdate(started, updated, ended, self._active())

    def _active(self) -> list[Track]:
        """Started tracks, lost ones (waiting to be stitched) excluded."""
        limit = self.config.max_misses
        return [
            t for t in self._tracks.values() if t.state is TrackState.ACTIVE and t.misses <= limit
        ]

    def _expired(self, track: Track, ts: float) -> bool:
        cfg = self.config
        unseen = ts - track.last_seen
        if unseen > cfg.max_age_s:
            return True
        return track.misses > cfg.max_misses and (cfg.stitch_s <= 0 or unseen > cfg.stitch_s)

    def _stitch(
        self, dets: list[DetectionLike], used_tracks: set[int], used_dets: set[int]
    ) -> list[tuple[int, int]]:
        """Pair leftover detections with started tracks that missed frames, nearest first."""
        cfg = self.config
        if cfg.stitch_s <= 0:
            return []
        near: list[tuple[float, int, int]] = []
        for track in self._tracks.values():
            if track.id in used_tracks or track.misses == 0 or track.state is not TrackState.ACTIVE:
                continue
            for i, det in enumerate(dets):
                if i in used_dets or det.label != track.label:
                    continue
                ratio = det.box.height / track.box.height if track.box.height else 0.0
                if not _STITCH_SIZE <= ratio <= 1 / _STITCH_SIZE:
                    continue  # a blob of another size: a group, a part, someone else
                dist = track.box.center.distance(det.box.center)
                if dist <= cfg.stitch_distance * max(track.box.diagonal, det.box.diagonal):
                    near.append((dist, track.id, i))
        pairs: list[tuple[int, int]] = []
        taken_t: set[int] = set()
        taken_d: set[int] = set()
        for _, track_id, i in sorted(near):
            if track_id not in taken_t and i not in taken_d:
                taken_t.add(track_id)
                taken_d.add(i)
                pairs.append((track_id, i))
        return pairs

    def flush(self, ts: float) -> TrackUpdate:
        """End every live track (stream over, camera removed); tentative ones just vanish."""
        ended = [
            replace(t, state=TrackState.ENDED)
            for t in self._tracks.values()
            if t.state is TrackState.ACTIVE
        ]
        self._tracks.clear()
        return TrackUpdate([], [], ended, [])

    def _match(self, dets: list[DetectionLike]) -> list[tuple[int, int]]:
        """Return (track id, detection index) pairs, greedy: best IoU, then nearest centre."""
        cfg = self.config
        iou_pairs: list[tuple[float, int, int]] = []
        near_pairs: list[tuple[float, int, int]] = []
        for track in self._tracks.values():
            for i, det in enumerate(dets):
                if det.label != track.label:
                    continue
                iou = track.box.iou(det.box)
                if iou >= cfg.iou_threshold:
                    iou_pairs.append((-iou, track.id, i))
                elif min(track.box.area, det.box.area) < cfg.small_box_area:
                    reach = cfg.center_distance * max(track.box.diagonal, det.box.diagonal)
                    dist = track.box.center.distance(det.box.center)
                    if dist <= reach:
                        near_pairs.append((dist, track.id, i))
        pairs: list[tuple[int, int]] = []
        used_tracks: set[int] = set()
        used_dets: set[int] = set()
        for _, track_id, i in sorted(iou_pairs) + sorted(near_pairs):
            if track_id not in used_tracks and i not in used_dets:
                used_tracks.add(track_id)
                used_dets.add(i)
                pairs.append((track_id, i))
        return pairs

    def _zones_of(self, label: str, box: Box) -> frozenset[str]:
        foot = box.bottom_center
        return frozenset(
            z.name
            for z in self._zones
            if (not z.labels or label in z.labels) and z.polygon.contains(foot)
        )

    def _new(self, det: DetectionLike, ts: float) -> Track:
        zones = self._zones_of(det.label, det.box)
        state = TrackState.ACTIVE if self.config.min_hits <= 1 else TrackState.TENTATIVE
        return Track(
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
