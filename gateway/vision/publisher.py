"""Turn a camera's frame outcomes into events, counts, snapshots and hard cases (on the loop).

Only tracks whose best score reached the band's `low` are announced: a track below it
is dropped (DESIGN.md, the cascade) and never appears in events or counts.

`vision.detection` (source: the camera) is one lifecycle per announced track:

- `start` once, when the track is announced;
- `update` when its label, its zones or its best score (by `events.update_score_step` or
  more) changed since its last event, at most once per `events.update_interval_s`
  (0: never). A change held back by that limit goes out on the next matched frame after
  it; a still object sends nothing, a zone flickering at its edge one update per interval;
- `end` once, when the tracker ends the track (or the camera stops).

Its `data`:

- `camera`, `track_id`: the camera, and the track's id (unique per camera run);
- `phase`: `start`, `update` or `end`;
- `label`: the track's label (the latest, should the tracker relabel it);
- `score`, `best_score`: the latest matched score, the best so far;
- `box`, `best_box`: the latest box, the box of the best score (`{x1,y1,x2,y2}`, source
  pixels);
- `zones`, `zones_entered`: zones the track is in now, every zone it has been in (sorted);
- `first_seen`, `last_seen`: Unix times of its first and latest match; `duration_s` the
  seconds between them; `hits` the frames it was matched on;
- `snapshot`: `{"topic", "score", "ts"}`, the retained JPEG of this track's best frame so
  far, published on `topic` at Unix time `ts` when its best score was `score` (refreshed
  at the end when the end's is better); `null` when none was published for this track
  (snapshots off, or announced before a picture was kept). The topic holds the latest
  picture of the camera: a later track replaces it;
- `changed` (`update` only): what changed, a sorted subset of `label`, `score`, `zones`;
- `decision` (`end` only): `settled` or `hard_case` (the cascade band).

Retained, under `<prefix>/cameras/<cam>/` (see `Topics`):

- `<label>`: the number of announced live tracks of that label, on change;
- `<label>/occupancy`: `ON` while there is at least one, else `OFF`, on change. Both are
  published as 0 / `OFF` when the publisher is made, for the camera's configured labels
  (`tracked_labels`), so a value left by a previous run does not linger;
- `snapshot`: JPEG of a track's best frame (box drawn), at its start, and at its end
  when the end's is better.

`vision.hard_case`: at most one per track, at its end, when its best score is in
`[low, high)` or its best box is group-shaped (`escalation.group_aspect`); its crop goes
on `<prefix>/cameras/<cam>/hard_case` (not retained).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.config.vision import CameraConfig
from gateway.events import Events, Kind
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.payloads import Decision, DetectionData, Phase, SnapshotRef
from gateway.vision.analyzer import FrameOutcome, TrackReport
from gateway.vision.camera_stats import CameraStats
from gateway.vision.cascade import Band, hard_case_event
from gateway.vision.tracker import Track

__all__ = ["CameraPublisher", "detection_data"]

DETECTION = Kind.VISION_DETECTION
OCCUPIED = "ON"
VACANT = "OFF"


@dataclass(slots=True, frozen=True)
class _Snapshot:
    """The JPEG published for a track: its best score then, and when (Unix time)."""

    score: float
    ts: float


@dataclass(slots=True)
class _Announced:
    """An announced track, as its last event described it."""

    event_id: str
    last_event: float
    """Monotonic time of its `start` or latest `update`."""
    label: str
    best_score: float
    zones: frozenset[str]
    snapshot: _Snapshot | None = None


def _wall(monotonic_ts: float) -> float:
    return round(time.time() - (time.monotonic() - monotonic_ts), 3)


def detection_data(
    camera: str,
    track: Track,
    phase: Phase,
    *,
    snapshot: SnapshotRef | None = None,
    decision: Decision | None = None,
    changed: list[str] | None = None,
) -> DetectionData:
    """Return the `vision.detection` data of `track` at `phase`."""
    return DetectionData(
        camera=camera,
        phase=phase,
        track_id=track.id,
        label=track.label,
        score=round(track.score, 4),
        best_score=round(track.best_score, 4),
        box=track.box,
        best_box=track.best_box,
        zones=tuple(sorted(track.zones)),
        zones_entered=tuple(sorted(track.zones_entered)),
        first_seen=_wall(track.first_seen),
        last_seen=_wall(track.last_seen),
        duration_s=round(track.last_seen - track.first_seen, 3),
        hits=track.hits,
        snapshot=snapshot,
        changed=None if changed is None else tuple(sorted(changed)),
        decision=decision,
    )


class CameraPublisher:
    """Publish what one camera's tracker reports; call `handle` on the loop only."""

    def __init__(
        self,
        *,
        camera: CameraConfig,
        events: Events,
        bus: MqttBus,
        topics: Topics,
        stats: CameraStats,
        labels: Iterable[str] = (),
    ) -> None:
        self.camera = camera.id
        self._cfg = camera.events
        self._escalate = camera.escalation.enabled
        esc = camera.escalation
        self.band = Band(esc.low, esc.high, esc.group_aspect)
        self._events = events
        self._bus = bus
        self._topics = topics
        self._stats = stats
        self._announced: dict[int, _Announced] = {}
        self._labels: dict[int, str] = {}
        self._counts: dict[str, int] = {}
        self.hard_case_tracks: set[int] = set()
        # No track is live yet: say so for the labels the camera is known to report.
        self._publish_counts(labels)

    @property
    def media_topic(self) -> str:
        """Topic of hard-case crops published locally."""
        return self._topics.camera_hard_case(self.camera)

    def count_topic(self, label: str) -> str:
        """Topic of the live-track count of `label`."""
        return self._topics.camera_count(self.camera, label)

    def handle(self, outcome: FrameOutcome) -> None:
        """Publish the events of one processed frame."""
        now = outcome.received_at  # frame time: the update limit holds for replays too
        for report in outcome.started:
            self._maybe_announce(report.track, report.snapshot, now)
        for track in outcome.updated:
            announced = self._announced.get(track.id)
            if announced is None:
                # Its best score may have just reached `low`; the snapshot waits for the end.
                self._maybe_announce(track, None, now)
            else:
                self._maybe_update(track, announced, now)
        for report in outcome.ended:
            self._end(report)
        self._publish_counts()

    def _maybe_announce(self, track: Track, snapshot: bytes | None, now: float) -> None:
        if self.band.decide(track.best_score) is Decision.DROPPED:
            return
        self._announce(track, snapshot, now)

    def _announce(self, track: Track, snapshot: bytes | None, now: float) -> _Announced:
        announced = _Announced("", now, track.label, track.best_score, track.zones)
        if snapshot is not None:
            announced.snapshot = self._snapshot(snapshot, track.best_score)
        announced.event_id = self._emit_detection(track, "start", announced.snapshot)
        self._announced[track.id] = announced
        self._labels[track.id] = track.label
        self._stats.tracks.inc()
        return announced

    def _changes(self, track: Track, announced: _Announced) -> list[str]:
        changed: list[str] = []
        if track.label != announced.label:
            changed.append("label")
        if track.best_score - announced.best_score >= self._cfg.update_score_step:
            changed.append("score")
        if track.zones != announced.zones:
            changed.append("zones")
        return changed

    def _maybe_update(self, track: Track, announced: _Announced, now: float) -> None:
        self._labels[track.id] = track.label  # counts follow a relabelled track at once
        interval = self._cfg.update_interval_s
        if not interval or now - announced.last_event < interval:
            return
        changed = self._changes(track, announced)
        if not changed:
            return
        announced.last_event = now
        announced.label = track.label
        announced.best_score = track.best_score
        announced.zones = track.zones
        self._emit_detection(track, "update", announced.snapshot, changed=changed)

    def _end(self, report: TrackReport) -> None:
        track = report.track
        announced = self._announced.pop(track.id, None)
        self._labels.pop(track.id, None)
        decision = self.band.decide_track(track)
        if announced is None:
            if decision is Decision.DROPPED:
                return
            # Reached `low` on the frame it ended: announce it now, then end it.
            announced = self._announce(track, report.snapshot, 0.0)
            self._announced.pop(track.id)
            self._labels.pop(track.id)
        elif report.snapshot is not None and (
            announced.snapshot is None or track.best_score > announced.snapshot.score
        ):
            announced.snapshot = self._snapshot(report.snapshot, track.best_score)
        self._emit_detection(track, "end", announced.snapshot, decision=decision)
        if (
            self._escalate
            and decision is Decision.HARD_CASE
            and report.crop is not None
            and track.id not in self.hard_case_tracks
        ):
            self.hard_case_tracks.add(track.id)
            event = hard_case_event(
                self._events,
                camera=self.camera,
                track=track,
                crop=report.crop,
                band=self.band,
                crop_box=report.crop_box,
                detection_event=announced.event_id,
                media_topic=self.media_topic,
            )
            self._bus.publish(self.media_topic, report.crop, qos=0)
            self._events.emit(event)
            self._stats.hard_cases.inc()
            self._stats.events.inc()

    def _emit_detection(
        self,
        track: Track,
        phase: Phase,
        snapshot: _Snapshot | None,
        *,
        decision: Decision | None = None,
        changed: list[str] | None = None,
    ) -> str:
        ref = None
        if snapshot is not None:
            topic = self._topics.camera_snapshot(self.camera)
            ref = SnapshotRef(topic=topic, score=round(snapshot.score, 4), ts=snapshot.ts)
        data = detection_data(
            self.camera, track, phase, snapshot=ref, decision=decision, changed=changed
        )
        event = self._events.make(source=self.camera, kind=DETECTION, data=data.to_data())
        self._events.emit(event)
        self._stats.events.inc()
        return event.id

    def _snapshot(self, jpeg: bytes, score: float) -> _Snapshot:
        self._bus.publish(self._topics.camera_snapshot(self.camera), jpeg, qos=1, retain=True)
        return _Snapshot(score, round(time.time(), 3))

    def _publish_counts(self, labels: Iterable[str] = ()) -> None:
        counts: dict[str, int] = dict.fromkeys([*self._counts, *labels], 0)
        for label in self._labels.values():
            counts[label] = counts.get(label, 0) + 1
        for label, n in counts.items():
            before = self._counts.get(label)
            if before != n:
                self._bus.publish(self.count_topic(label), str(n), qos=1, retain=True)
            if before is None or (before > 0) != (n > 0):
                occupancy = OCCUPIED if n > 0 else VACANT
                topic = self._topics.camera_occupancy(self.camera, label)
                self._bus.publish(topic, occupancy, qos=1, retain=True)
        self._counts = counts
