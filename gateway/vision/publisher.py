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

`vision.hard_case`: up to `escalation.max_crops` per track over its life (its first
sight, when its box's shape or label changes, its best crop at its end), each while its
best score so far is in `[low, high)` or its best box is group-shaped
(`escalation.group_aspect`), and at most `escalation.max_per_min` a minute per camera
(skipped crops are counted); its crop goes on `<prefix>/cameras/<cam>/hard_case` (not
retained). Faces in crops and snapshots are blurred by the analyzer (`privacy`).

Cloud verdicts (`apply_verdict`, fed by `gateway.vision.corrections`) correct the
lifecycle; every correction carries `verified_by: cloud`, `verdict_id` (the
`cloud.verdict` event's id) and `verdict`, and so do the track's later events:

- `confirmed`: an `update` with `changed: [verified]`;
- `rejected`: a `retract` event; the track leaves the counts, and sends nothing more
  (a later confirming verdict announces it again with a `start`, if its crop shows
  someone new: a person who is not another track's box, nor a box the judge drew around
  two or more tracked people no taller than `GROUP_HEIGHT` times each). A track the
  cloud has confirmed on another crop is not retracted by a later no (`disputed`): a crop
  of an occluded or turning person says less than one that showed the person;
- `relabelled`: an `update` with the cloud's label (`changed: [label, verified]`); the
  counts move to that label;
- `split` (confirmed with several people in the crop): an `update` of the track (its box
  now its own person's: the one overlapping the box the crop was cut around most) and one
  new lifecycle per other person (`split_of`: the track; ids from 1000000), each box
  placed inside the track's box as the cloud saw it, ending with the track; the counts
  follow. Boxes sharing 60% of the smaller one are one person (a judge may find a person
  twice), and a person another live track already reports gets no second lifecycle (the
  track's box still narrows to its own person);
- `duplicate` (confirmed, but every person the cloud found in the crop is another live
  track's box, IoU >= `SAME_BOX`): a `retract` with `duplicate_of` (the track that has
  the person this one was following). The edge saw someone twice: a second track on one
  person, or a box over a pair who are both tracked. A box that merely holds a person (a
  pair's, beside a track on one of them) is not theirs. A later crop of the retracted
  track saying the same is `repeated`; one that shows someone new announces it again, as
  after a `rejected`.

"Another track" in `split` and `duplicate` means another announced, unretracted track on
the frame the crop shows (`TrackReport.scene`, kept per hard case), ended since or not:
a verdict can come back seconds or, after an outage, hours later, when tracks have moved
on and someone else may stand where the crop's person stood. A verdict for a crop the
publisher no longer remembers compares with the live tracks' boxes now.

A verdict for a track the publisher does not know (or no longer remembers), for a hard
case it cut for another track, or already corrected the same way, changes nothing and says
why (`Applied`).

Unknown objects (`objects.unknown`, `gateway.vision.unknown`): motion no detection
explains is announced to nobody at first; when it qualifies, its crop goes up as a
`vision.hard_case` of kind `unknown` (label `unknown`, at most `objects.unknown.
max_per_minute` a minute per camera, skipped ones counted `unknown_budget`). When the
cloud names it (`vehicle`, `animal`, `person`, ...), its lifecycle starts with that label:
a `start` (`verified_by: cloud`, `verdict: named`), counted under the label while it
lives, and an `end` when it ends (at once, when it ended before the name came). An answer
of `other` (or a rejection) keeps it unannounced, quietly (`unnamed`): motion the cloud
cannot name is not an event.
"""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from gateway.config.vision import CameraConfig
from gateway.events import Event, Events, Kind
from gateway.inference.geometry import Box
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.payloads import (
    UNKNOWN_LABEL,
    CropReason,
    Decision,
    DetectionData,
    Phase,
    SnapshotRef,
    VerdictData,
)
from gateway.vision.analyzer import FrameOutcome, TrackBox, TrackReport
from gateway.vision.camera_stats import CameraStats
from gateway.vision.cascade import AdaptiveBand, Band, hard_case_event
from gateway.vision.groups import SAME_PERSON, Placement, distinct_people, place_people
from gateway.vision.tracker import Track
from gateway.vision.unknown import UnknownCrop

__all__ = ["Applied", "CameraPublisher", "detection_data"]

SAME_BOX = 0.6
"""IoU at which a person the cloud found is another track's box (`duplicate`)."""
GROUP_HEIGHT = 1.3
"""A box around a group of people is at most this many times as tall as each of them."""
SPLIT_IDS = 1_000_000
"""Ids of the tracks a split makes start here (the tracker's ids stay below)."""
_REMEMBER_ENDED = 256
_REMEMBER_CASES = 1024  # hard cases awaiting a verdict (`_SentCase`)
UNNAMED_LABELS = frozenset({"other", UNKNOWN_LABEL})
"""Names that name nothing: an unknown object answered so stays unannounced."""


class Applied(StrEnum):
    """What a verdict did to the camera's tracks (the first four change events)."""

    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    RELABELLED = "relabelled"
    SPLIT = "split"
    NAMED = "named"
    """An unknown object the cloud named: announced with that label."""
    DUPLICATE = "duplicate"
    """Every person the cloud found in the crop is another track's: this one is retracted."""
    UNNAMED = "unnamed"
    """An unknown object the cloud could not name (`other`): it stays unannounced."""
    REPEATED = "repeated"
    """Already corrected that way: nothing new to say."""
    UNSURE = "unsure"
    """The cloud's no was too weak to retract (`cloud.verdict_reject_score`): it stands."""
    DISPUTED = "disputed"
    """A no for a track the cloud already confirmed (another crop): the yes stands."""
    UNKNOWN_TRACK = "unknown_track"
    """Not a track of this camera, or ended too long ago."""
    BOX_OUTSIDE = "box_outside"
    """The people the cloud found are not where the crop was cut."""
    OTHER_TRACK = "other_track"
    """The hard case it answers was cut for another track than the verdict names."""

    @property
    def changed(self) -> bool:
        """Whether the verdict changed the event stream."""
        return self in _CHANGES


_CHANGES = frozenset(
    {
        Applied.CONFIRMED,
        Applied.REJECTED,
        Applied.RELABELLED,
        Applied.SPLIT,
        Applied.NAMED,
        Applied.DUPLICATE,
    }
)

DETECTION = Kind.VISION_DETECTION
OCCUPIED = "ON"
VACANT = "OFF"


@dataclass(slots=True, frozen=True)
class _Snapshot:
    """The JPEG published for a track: its best score then, and when (Unix time)."""

    score: float
    ts: float


@dataclass(slots=True)
class _SentCase:
    """A hard case this camera sent, as its verdict needs it."""

    track_id: int | None
    """The track its crop was cut for (None: an unknown object's, not checked)."""
    scene: tuple[TrackBox, ...] | None
    """Every track's box on its crop's frame (`TrackReport.scene`)."""
    sent_at: float | None
    """Its frame's arrival time, until its first verdict measures the latency (None:
    measured, or not measuring)."""


@dataclass(slots=True)
class _Child:
    """A track a split made: one of the people the cloud found in a group's crop."""

    id: int
    place: Placement
    retracted: bool = False


@dataclass(slots=True)
class _Announced:
    """An announced track, as its last event described it, and what the cloud said."""

    event_id: str
    last_event: float
    """Monotonic time of its `start` or latest `update`."""
    label: str
    best_score: float
    zones: frozenset[str]
    snapshot: _Snapshot | None = None
    track: Track | None = None
    """The latest state of the track."""
    cloud_label: str | None = None
    verdict_id: str | None = None
    verdict: str | None = None
    retracted: bool = False
    place: Placement | None = None
    """After a split: where this track's own person is inside its box."""
    children: list[_Child] = field(default_factory=list)
    split_at: float | None = None
    """Frame time of the split."""
    crops: int = 0
    sent_shots: set[int] = field(default_factory=set)
    ended: bool = False
    unknown: bool = False
    """An unknown object (`gateway.vision.unknown`): announced only once the cloud names it."""
    unnamed: bool = False
    """The cloud answered that it cannot name it."""
    duplicate_of: int | None = None
    """After a `duplicate` retraction: the track that reports its person."""

    def verification(self) -> dict[str, Any]:
        """The cloud's fields this track's events carry (none before a verdict)."""
        if self.verdict_id is None:
            return {}
        out: dict[str, Any] = {
            "verified_by": "cloud",
            "verdict_id": self.verdict_id,
            "verdict": self.verdict,
        }
        if self.duplicate_of is not None:
            out["duplicate_of"] = self.duplicate_of
        return out


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
        remember_ended: int = _REMEMBER_ENDED,
        measure_latency: bool = True,
    ) -> None:
        self.camera = camera.id
        self._measure = measure_latency
        """Frame times are monotonic arrival times: record arrival -> event/verdict latency."""
        self._arrived: float | None = None
        self._sent: OrderedDict[str, _SentCase] = OrderedDict()
        """The newest `_REMEMBER_CASES` hard cases sent, by event id, for their verdicts."""
        self._cfg = camera.events
        self._escalate = camera.escalation.enabled
        esc = camera.escalation
        self._esc = esc
        self.adaptive = AdaptiveBand(Band(esc.low, esc.high, esc.group_aspect), esc.adaptive)
        self._ended: OrderedDict[int, _Announced] = OrderedDict()
        self._remember = remember_ended
        self._sent_times: deque[float] = deque()
        self._unknown_times: deque[float] = deque()
        self._unknown_limit = camera.objects.unknown.max_per_minute
        self._next_child = SPLIT_IDS
        self._now = 0.0
        stats.band_gauges(lambda: self.band.low, lambda: self.band.high)
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
    def band(self) -> Band:
        """The escalation band now (it moves with the cloud's agreement when adaptive)."""
        return self.adaptive.band

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
        self._now = now
        self._arrived = now if self._measure else None
        try:
            self._handle(outcome, now)
        finally:
            self._arrived = None

    def _handle(self, outcome: FrameOutcome, now: float) -> None:
        for report in outcome.started:
            self._maybe_announce(report.track, report.snapshot, now)
            self._maybe_hard_case(report, "first", now)
        for track in outcome.updated:
            announced = self._announced.get(track.id)
            if announced is None:
                # Its best score may have just reached `low`; the snapshot waits for the end.
                self._maybe_announce(track, None, now)
            elif not announced.retracted:
                self._maybe_update(track, announced, now)
        for report in outcome.crops:
            self._maybe_hard_case(report, "changed", now)
        for report in outcome.ended:
            self._end(report, now)
        for crop in outcome.unknown:
            self._hold_unknown(crop, now)
        for track in outcome.unknown_ended:
            self._end_unknown(track)
        self._publish_counts()

    def _maybe_announce(self, track: Track, snapshot: bytes | None, now: float) -> None:
        if self.band.decide(track.best_score) is Decision.DROPPED:
            return
        self._announce(track, snapshot, now)

    def _announce(self, track: Track, snapshot: bytes | None, now: float) -> _Announced:
        announced = _Announced("", now, track.label, track.best_score, track.zones, track=track)
        if snapshot is not None:
            announced.snapshot = self._snapshot(snapshot, track.best_score)
        announced.event_id = self._emit_detection(track, "start", announced.snapshot)
        self._announced[track.id] = announced
        self._labels[track.id] = track.label
        self._stats.tracks.inc()
        return announced

    def _changes(self, track: Track, announced: _Announced) -> list[str]:
        changed: list[str] = []
        if self._label(track, announced) != announced.label:
            changed.append("label")
        if track.best_score - announced.best_score >= self._cfg.update_score_step:
            changed.append("score")
        if track.zones != announced.zones:
            changed.append("zones")
        return changed

    @staticmethod
    def _label(track: Track, announced: _Announced) -> str:
        return announced.cloud_label or track.label

    def _maybe_update(self, track: Track, announced: _Announced, now: float) -> None:
        announced.track = track
        label = self._label(track, announced)
        self._labels[track.id] = label  # counts follow a relabelled track at once
        interval = self._cfg.update_interval_s
        if not interval or now - announced.last_event < interval:
            return
        changed = self._changes(track, announced)
        if not changed:
            return
        announced.last_event = now
        announced.label = label
        announced.best_score = track.best_score
        announced.zones = track.zones
        self._emit_detection(track, "update", announced.snapshot, changed=changed, a=announced)

    def _end(self, report: TrackReport, now: float) -> None:
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
        announced.track = track
        announced.ended = True
        self._ended[track.id] = announced
        while len(self._ended) > self._remember:
            self._ended.popitem(last=False)
        if not announced.retracted:  # a retracted one's lifecycle ended with its retraction
            self._emit_detection(track, "end", announced.snapshot, decision=decision, a=announced)
            for child in announced.children:
                self._labels.pop(child.id, None)
                if not child.retracted:
                    self._emit_child(announced, child, "end")
        if decision is Decision.HARD_CASE:
            # Retracted ones too: a better crop may show the cloud it was wrong.
            self._maybe_hard_case(report, "end", now, announced)

    def _maybe_hard_case(
        self,
        report: TrackReport,
        reason: CropReason,
        now: float,
        announced: _Announced | None = None,
    ) -> None:
        """Send `report`'s crop as a hard case if the band, the track's and the camera's
        budgets allow."""
        track = report.track
        a = announced or self._announced.get(track.id)
        if (
            not self._escalate
            or a is None
            or report.crop is None
            or report.shot_index in a.sent_shots
            or self.band.decide_track(track) is not Decision.HARD_CASE
        ):
            return
        if a.crops >= self._esc.max_crops:
            self._stats.crop_skipped("track_budget")
            return
        if not self._within_rate(now):
            self._stats.crop_skipped("camera_budget")
            return
        self.hard_case_tracks.add(track.id)
        a.sent_shots.add(report.shot_index)
        event = hard_case_event(
            self._events,
            camera=self.camera,
            track=track,
            crop=report.crop,
            band=self.band,
            crop_box=report.crop_box,
            detection_event=a.event_id,
            media_topic=self.media_topic,
            reason=reason,
            crop_index=a.crops,
            shot_box=report.shot_box,
            faces=report.faces,
        )
        a.crops += 1
        self._send_case(
            event, report.crop, report.faces, now, track_id=track.id, scene=report.scene
        )

    def _send_case(
        self,
        event: Event,
        crop: bytes,
        faces: int,
        now: float,
        *,
        track_id: int | None = None,
        scene: tuple[TrackBox, ...] | None = None,
    ) -> None:
        """Publish a hard case's crop locally and emit its event (both kinds), counted;
        remember it for its verdict (`_SentCase`)."""
        self._sent[event.id] = _SentCase(track_id, scene, now if self._measure else None)
        while len(self._sent) > _REMEMBER_CASES:
            self._sent.popitem(last=False)
        self._bus.publish(self.media_topic, crop, qos=0)
        self._events.emit(event)
        self._stats.hard_cases.inc()
        self._stats.events.inc()
        self._stats.faces_redacted.inc(faces)

    # ---- unknown objects --------------------------------------------------------------

    def _hold_unknown(self, crop: UnknownCrop, now: float) -> None:
        """Remember an unknown object (unannounced) and send its crop to be named."""
        track = crop.track
        if not self._escalate or self._unknown_limit <= 0 or track.id in self._announced:
            return
        if not self._within_rate(now, self._unknown_times, self._unknown_limit):
            self._stats.crop_skipped("unknown_budget")
            return
        a = _Announced("", now, track.label, track.best_score, track.zones, track=track)
        a.unknown = a.retracted = True  # unannounced until named
        a.crops = 1
        self._announced[track.id] = a
        event = hard_case_event(
            self._events,
            camera=self.camera,
            track=track,
            crop=crop.crop,
            band=self.band,
            crop_box=crop.crop_box,
            detection_event=None,
            media_topic=self.media_topic,
            reason="first",
            shot_box=track.box,
            faces=crop.faces,
            kind="unknown",
        )
        self._send_case(event, crop.crop, crop.faces, now)

    def _end_unknown(self, track: Track) -> None:
        a = self._announced.get(track.id)
        if a is None or not a.unknown:
            return
        del self._announced[track.id]
        self._labels.pop(track.id, None)
        a.track = track
        a.ended = True
        self._ended[track.id] = a
        while len(self._ended) > self._remember:
            self._ended.popitem(last=False)
        if not a.retracted:  # named while it lived
            self._emit_detection(track, "end", None, decision=Decision.HARD_CASE, a=a)

    def _name(self, a: _Announced, verdict_id: str, verdict: VerdictData) -> Applied:
        """Apply the cloud's name for an unknown object not named yet."""
        if verdict.verdict in ("rejected", "unsure") or verdict.cloud_label in UNNAMED_LABELS:
            if a.unnamed:
                return Applied.REPEATED
            a.unnamed = True
            return Applied.UNNAMED
        self._reinstate(a, verdict_id, Applied.NAMED.value, verdict.cloud_label)
        return Applied.NAMED

    def _within_rate(
        self, now: float, times: deque[float] | None = None, limit: float | None = None
    ) -> bool:
        """Whether one more crop fits `limit` a minute (0: unlimited); count it if so."""
        if times is None:
            times = self._sent_times
        if limit is None:
            limit = self._esc.max_per_min
        if limit <= 0:
            return True
        while times and not 0 <= now - times[0] < 60.0:
            times.popleft()
        if len(times) >= limit:
            return False
        times.append(now)
        return True

    # ---- cloud verdicts --------------------------------------------------------------

    def apply_verdict(self, verdict_id: str, verdict: VerdictData) -> Applied:
        """Correct the track `verdict` judged; return what it did (`Applied`)."""
        case = self._sent.get(verdict.hard_case_id)
        if case is not None and case.sent_at is not None:
            self._stats.verdict_latency(1000.0 * (time.monotonic() - case.sent_at))
            case.sent_at = None  # the first verdict's latency only
        tid = verdict.track_id
        a = None if tid is None else (self._announced.get(tid) or self._ended.get(tid))
        if a is None or a.track is None:
            return Applied.UNKNOWN_TRACK
        if case is not None and case.track_id is not None and case.track_id != tid:
            return Applied.OTHER_TRACK  # a cloud that echoed the hard case wrongly
        track = a.track
        if a.unknown and a.verdict_id is None:
            return self._name(a, verdict_id, verdict)
        if verdict.verdict == "unsure":
            return Applied.UNSURE  # neither agreement nor a no: the band learns nothing
        self.adaptive.observe(
            verdict.edge_score, (self.band.low, self.band.high), verdict.verdict == "confirmed"
        )
        if verdict.verdict == "rejected":
            if a.retracted:
                return Applied.REPEATED
            if a.verdict in ("confirmed", "split"):
                return Applied.DISPUTED  # one crop without the person: it was seen in another
            self._retract(a, verdict_id)
            return Applied.REJECTED
        people = distinct_people(verdict.people or ())
        if verdict.verdict == "confirmed" and people and not a.children:
            scene = None if case is None else case.scene
            done = self._judge_people(a, verdict_id, verdict, people, scene)
            if done is not None:
                return done
        outcome = "confirmed" if verdict.verdict == "confirmed" else "relabelled"
        if a.retracted:
            self._reinstate(a, verdict_id, outcome, verdict.cloud_label)
            return Applied(outcome)
        label = self._label(track, a)
        if a.verdict_id is not None and label == verdict.cloud_label:
            return Applied.REPEATED
        changed = ["verified"]
        if verdict.cloud_label != label:
            changed.append("label")
        a.cloud_label = verdict.cloud_label
        a.verdict_id, a.verdict = verdict_id, outcome
        a.label = verdict.cloud_label
        if not a.ended:
            self._labels[track.id] = verdict.cloud_label
        self._emit_detection(track, "update", a.snapshot, changed=changed, a=a)
        self._publish_counts()
        return Applied(outcome)

    def _judge_people(
        self,
        a: _Announced,
        verdict_id: str,
        verdict: VerdictData,
        people: list[Box],
        scene: tuple[TrackBox, ...] | None,
    ) -> Applied | None:
        """A yes with the people the cloud found: a duplicate, no one new for a retracted
        track, or a split; None when it is a plain confirmation."""
        assert a.track is not None
        track = a.track
        shot = verdict.box or track.best_box
        own = max(people, key=shot.iou)  # the person the track has been following
        others = list(self._other_boxes(track.id, scene))
        holders = [_holder(p, others) for p in people]
        if None not in holders:  # everyone in the crop is another track's
            if a.retracted:
                return Applied.REPEATED
            a.duplicate_of = holders[people.index(own)]
            self._retract(a, verdict_id, outcome="duplicate")
            return Applied.DUPLICATE
        unheld = [p for p, h in zip(people, holders, strict=True) if h is None]
        if a.retracted and all(_group_of_others(p, others) for p in unheld):
            return Applied.REPEATED  # it shows no one new: it stays retracted
        if len(people) == 1:
            return None
        new = [p for p in people if p is not own and not _reported(p, others)]
        places = place_people(shot, [own, *new])
        if places is None:
            return Applied.BOX_OUTSIDE
        if a.retracted:
            self._reinstate(a, verdict_id, "confirmed", verdict.cloud_label)
        self._split(a, verdict_id, places)
        return Applied.SPLIT

    def _retract(self, a: _Announced, verdict_id: str, outcome: str = "rejected") -> None:
        assert a.track is not None
        a.retracted = True
        a.verdict_id, a.verdict = verdict_id, outcome
        self._labels.pop(a.track.id, None)
        self._emit_detection(a.track, "retract", a.snapshot, a=a)
        for child in a.children:
            if not child.retracted:
                child.retracted = True
                self._labels.pop(child.id, None)
                self._emit_child(a, child, "retract")
        self._publish_counts()

    def _reinstate(self, a: _Announced, verdict_id: str, outcome: str, label: str) -> None:
        assert a.track is not None
        a.retracted = False
        a.cloud_label = label
        a.label = label
        a.verdict_id, a.verdict = verdict_id, outcome
        self._emit_detection(a.track, "start", a.snapshot, a=a)
        if a.ended:
            self._emit_detection(a.track, "end", a.snapshot, a=a)
        else:
            self._labels[a.track.id] = label
        self._publish_counts()

    def _other_boxes(self, track_id: int, scene: tuple[TrackBox, ...] | None) -> Iterator[TrackBox]:
        """Every other announced, unretracted track's id and box on the frame a crop shows
        (`scene`), ended since or not; unknown objects are not reported. Without a scene
        (a verdict for a crop this publisher did not keep): the live tracks' boxes now."""
        if scene is None:
            for other in self._announced.values():
                t = other.track
                if t is not None and t.id != track_id and not other.retracted and not other.unknown:
                    yield TrackBox(t.id, t.box)
            return
        for seen in scene:
            then = self._announced.get(seen.id) or self._ended.get(seen.id)
            if seen.id == track_id or then is None or then.retracted or then.unknown:
                continue
            yield seen

    def _split(self, a: _Announced, verdict_id: str, places: list[Placement]) -> None:
        assert a.track is not None
        a.verdict_id, a.verdict = verdict_id, "split"
        a.place = places[0]
        a.split_at = self._now
        self._emit_detection(a.track, "update", a.snapshot, changed=["split", "verified"], a=a)
        for place in places[1:]:
            child = _Child(self._next_child, place)
            self._next_child += 1
            a.children.append(child)
            self._emit_child(a, child, "start")
            if a.ended:
                self._emit_child(a, child, "end")
            else:
                self._labels[child.id] = self._label(a.track, a)
        self._publish_counts()

    def _emit_child(self, a: _Announced, child: _Child, phase: Phase) -> None:
        assert a.track is not None
        parent = a.track
        track = _placed(parent, child.place, child.id)
        self._emit_detection(track, phase, a.snapshot, a=a, split_of=parent.id)

    def named_unknowns(self) -> list[str]:
        """The labels the cloud gave the unknown objects it named (live and remembered)."""
        return [
            a.cloud_label
            for a in (*self._announced.values(), *self._ended.values())
            if a.unknown and a.verdict == Applied.NAMED.value and a.cloud_label is not None
        ]

    def corrected(self, track_id: int) -> _Announced | None:
        """What the publisher knows of a track (live, or ended and still remembered)."""
        return self._announced.get(track_id) or self._ended.get(track_id)

    def _emit_detection(
        self,
        track: Track,
        phase: Phase,
        snapshot: _Snapshot | None,
        *,
        decision: Decision | None = None,
        changed: list[str] | None = None,
        a: _Announced | None = None,
        split_of: int | None = None,
    ) -> str:
        ref = None
        if snapshot is not None:
            topic = self._topics.camera_snapshot(self.camera)
            ref = SnapshotRef(topic=topic, score=round(snapshot.score, 4), ts=snapshot.ts)
        if a is not None and a.place is not None and split_of is None:
            track = _placed(track, a.place, track.id)
        data = detection_data(
            self.camera, track, phase, snapshot=ref, decision=decision, changed=changed
        )
        if a is not None and (update := a.verification()):
            if a.cloud_label is not None:
                update["label"] = a.cloud_label
            if split_of is not None:
                update["split_of"] = split_of
            data = data.model_copy(update=update)
        event = self._events.make(source=self.camera, kind=DETECTION, data=data.to_data())
        self._events.emit(event)
        self._stats.events.inc()
        if self._arrived is not None:
            self._stats.event_latency(1000.0 * (time.monotonic() - self._arrived))
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


def _placed(track: Track, place: Placement, track_id: int) -> Track:
    """`track` with its boxes cut to one person's place in them, under `track_id`."""
    return replace(
        track, id=track_id, box=place.within(track.box), best_box=place.within(track.best_box)
    )


def _reported(person: Box, others: Iterable[TrackBox]) -> bool:
    """Whether another track (`others`) already reports `person` (its box there)."""
    return any(person.overlap_of_smaller(o.box) >= SAME_PERSON for o in others)


def _holder(person: Box, others: Iterable[TrackBox]) -> int | None:
    """The other track whose box is `person` (IoU `SAME_BOX`), if any.

    Stricter than `_reported`: a box that merely holds the person (a pair's) is not
    theirs, so a track is never retracted for a group box beside it."""
    best, holder = SAME_BOX, None
    for o in others:
        iou = person.iou(o.box)
        if iou >= best:
            best, holder = iou, o.id
    return holder


def _group_of_others(person: Box, others: Iterable[TrackBox]) -> bool:
    """Whether `person` is a box the judge drew around two or more other tracks' people
    (most of each of their smaller boxes inside it, and it no taller than `GROUP_HEIGHT`
    times theirs): a group, no one new. A box much taller than theirs is someone nearer the
    camera, in front of them: a person, who may be new."""
    inside = sum(
        o.box.area < person.area
        and o.box.overlap_of_smaller(person) >= SAME_PERSON
        and person.height <= GROUP_HEIGHT * o.box.height
        for o in others
    )
    return inside >= 2
