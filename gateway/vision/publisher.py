"""Turn a camera's frame outcomes into events, counts, snapshots and hard cases (on the loop).

- `vision.detection` on a track's start and end (and `update` at most once per
  `update_interval_s`), only for tracks whose best score reached the band's `low`: a
  track below it is dropped (DESIGN.md, the cascade) and never announced.
- `<prefix>/cameras/<cam>/<label>`: the number of announced live tracks per label,
  retained, published when it changes.
- `<prefix>/cameras/<cam>/snapshot`: retained JPEG of the best frame, at start and end.
- `vision.hard_case`: at most one per track, at its end, when its best score is in
  `[low, high)` or its best box is group-shaped (`escalation.group_aspect`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from gateway.config.vision import CameraConfig
from gateway.events import Events, Kind
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.vision.analyzer import FrameOutcome, TrackReport
from gateway.vision.camera_stats import CameraStats
from gateway.vision.cascade import Band, Decision, hard_case_event
from gateway.vision.tracker import Track

__all__ = ["CameraPublisher"]

DETECTION = Kind.VISION_DETECTION


@dataclass(slots=True)
class _Announced:
    event_id: str
    last_update: float
    snapshot_score: float


def _wall(monotonic_ts: float) -> float:
    return round(time.time() - (time.monotonic() - monotonic_ts), 3)


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

    @property
    def media_topic(self) -> str:
        """Topic of hard-case crops published locally."""
        return f"{self._topics.prefix}/cameras/{self.camera}/hard_case"

    def count_topic(self, label: str) -> str:
        """Topic of the live-track count of `label`."""
        return f"{self._topics.prefix}/cameras/{self.camera}/{label}"

    def handle(self, outcome: FrameOutcome) -> None:
        """Publish the events of one processed frame."""
        now = time.monotonic()
        for report in outcome.started:
            self._maybe_announce(report.track, report.snapshot, now)
        for track in outcome.updated:
            announced = self._announced.get(track.id)
            if announced is None:
                # Its best score may have just reached `low`; the snapshot waits for the end.
                self._maybe_announce(track, None, now)
            elif self._cfg.update_interval_s and (
                now - announced.last_update >= self._cfg.update_interval_s
            ):
                announced.last_update = now
                self._emit_detection(track, "update")
        for report in outcome.ended:
            self._end(report)
        self._publish_counts()

    def _maybe_announce(self, track: Track, snapshot: bytes | None, now: float) -> None:
        if self.band.decide(track.best_score) is Decision.DROPPED:
            return
        event_id = self._emit_detection(track, "start")
        self._announced[track.id] = _Announced(event_id, now, -1.0)
        self._labels[track.id] = track.label
        self._stats.tracks.inc()
        if snapshot is not None:
            self._snapshot(snapshot)
            self._announced[track.id].snapshot_score = track.best_score

    def _end(self, report: TrackReport) -> None:
        track = report.track
        announced = self._announced.pop(track.id, None)
        self._labels.pop(track.id, None)
        decision = self.band.decide_track(track)
        if announced is None:
            if decision is Decision.DROPPED:
                return
            # Reached `low` on the frame it ended: announce it now, then end it.
            self._announced[track.id] = _Announced(self._emit_detection(track, "start"), 0, -1)
            self._stats.tracks.inc()
            announced = self._announced.pop(track.id)
        self._emit_detection(track, "end", decision=decision)
        if report.snapshot is not None and track.best_score > announced.snapshot_score:
            self._snapshot(report.snapshot)
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

    def _emit_detection(self, track: Track, phase: str, decision: Decision | None = None) -> str:
        b = track.box
        best = track.best_box
        data: dict[str, Any] = {
            "camera": self.camera,
            "phase": phase,
            "track_id": track.id,
            "label": track.label,
            "score": round(track.score, 4),
            "best_score": round(track.best_score, 4),
            "box": {"x1": b.x1, "y1": b.y1, "x2": b.x2, "y2": b.y2},
            "best_box": {"x1": best.x1, "y1": best.y1, "x2": best.x2, "y2": best.y2},
            "zones": sorted(track.zones),
            "zones_entered": sorted(track.zones_entered),
            "first_seen": _wall(track.first_seen),
            "last_seen": _wall(track.last_seen),
            "duration_s": round(track.last_seen - track.first_seen, 3),
            "hits": track.hits,
        }
        if decision is not None:
            data["decision"] = decision.value
        event = self._events.make(source=self.camera, kind=DETECTION, data=data)
        self._events.emit(event)
        self._stats.events.inc()
        return event.id

    def _snapshot(self, jpeg: bytes) -> None:
        self._bus.publish(self._topics.camera_snapshot(self.camera), jpeg, qos=1, retain=True)

    def _publish_counts(self) -> None:
        counts: dict[str, int] = dict.fromkeys(self._counts, 0)
        for label in self._labels.values():
            counts[label] = counts.get(label, 0) + 1
        for label, n in counts.items():
            if self._counts.get(label) != n:
                self._bus.publish(self.count_topic(label), str(n), qos=1, retain=True)
        self._counts = counts
