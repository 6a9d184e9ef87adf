"""Cloud verdicts applied by the gateway: lifecycle corrections, counts, bad verdicts, crops.

A publisher on a real Mosquitto; tracks are given to it directly (a tracker's output),
its hard cases go through the outbox's routing (`EventRouter`), and each answer comes
back the way the cloud link publishes it (`VerdictPublisher` -> `cloud.verdict` event ->
the camera's `VerdictSink`). What the test checks is what a dashboard sees on MQTT.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiomqtt
import pytest

from cloud_bridge.uplink import CropBox, HardCase, Outcome, Verdict
from gateway.cloudlink.sink import EventRouter
from gateway.cloudlink.verdicts import VerdictPublisher
from gateway.config import GatewayConfig
from gateway.config.vision import CameraConfig
from gateway.events import Event, Events, Kind
from gateway.inference.geometry import Box
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.stats_registry import Stats
from gateway.vision.analyzer import FrameOutcome, TrackBox, TrackReport
from gateway.vision.camera_stats import CameraStats
from gateway.vision.corrections import VerdictSink
from gateway.vision.publisher import SPLIT_IDS, CameraPublisher
from gateway.vision.tracker import Track, TrackState
from tests.conftest import ConfigFactory
from tests.gateway.vision.camera.conftest import frame_outcome
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message

CAM = "porch"
CROP = b"\xff\xd8crop\xff\xd9"
ROUTER = EventRouter(("*",), ())


def track(track_id: int, *, best: float = 0.6, t: float = 0.0, x: float = 100.0) -> Track:
    box = Box(x, 100.0, x + 40.0, 200.0)
    return Track(
        id=track_id,
        label="person",
        state=TrackState.ACTIVE,
        first_seen=0.0,
        last_seen=t,
        box=box,
        score=best,
        best_score=best,
        best_box=box,
        best_frame_index=0,
        hits=3,
        misses=0,
        zones=frozenset(),
        zones_entered=frozenset(),
    )


def report(t: Track, shot: int = 0, scene: tuple[Track, ...] | None = None) -> TrackReport:
    """A report with a crop of `t`'s box (8 px margin), as the analyzer cuts it; `scene`:
    the tracks live on the frame the crop shows."""
    return TrackReport(
        t,
        None,
        CROP,
        t.box.expand(8),
        shot_index=shot,
        shot_box=t.box,
        shot_score=t.score,
        scene=None if scene is None else tuple(TrackBox(s.id, s.box) for s in scene),
    )


def outcome(
    ts: float,
    *,
    started: tuple[TrackReport, ...] = (),
    updated: tuple[Track, ...] = (),
    ended: tuple[TrackReport, ...] = (),
    crops: tuple[TrackReport, ...] = (),
) -> FrameOutcome:
    return frame_outcome(
        ts, width=640, height=480, started=started, updated=updated, ended=ended, crops=crops
    )


class Rig:
    """A publisher and its verdict sink on a real bus, a watcher, and the hard cases."""

    def __init__(
        self, cfg: GatewayConfig, bus: MqttBus, watcher: aiomqtt.Client, **escalation: Any
    ) -> None:
        self.topics = Topics(cfg.topic_prefix)
        self.watcher = watcher
        self.stats = Stats()
        self.events = Events(bus=bus, topics=self.topics, stats=self.stats, gateway_id="gw")
        camera = CameraConfig.model_validate(
            {
                "id": CAM,
                "source": "mqtt:unused",
                "escalation": {"low": 0.5, "high": 0.9, **escalation},
            }
        )
        self.publisher = CameraPublisher(
            camera=camera,
            events=self.events,
            bus=bus,
            topics=self.topics,
            stats=CameraStats(self.stats, CAM),
            labels=("person",),
        )
        self.sink = VerdictSink(
            self.publisher, CameraStats(self.stats, CAM), model="person", model_version="1"
        )
        self.hard_cases: list[Event] = []
        self.latest: dict[str, bytes] = {}
        self.events.add_sink(self.sink)
        self.events.add_sink(self._capture)
        self.verdicts = VerdictPublisher(events=self.events, bus=bus, topics=self.topics)

    def _capture(self, event: Event) -> None:
        if event.kind == Kind.VISION_HARD_CASE:
            self.hard_cases.append(event)

    def answer(
        self,
        event: Event,
        outcome: Outcome,
        label: str = "person",
        people: tuple[CropBox, ...] = (),
        version: str | None = "1",
    ) -> Event:
        """Answer hard case `event` as the uplink would; return the verdict event."""
        item = ROUTER.to_item(event)
        assert item is not None
        case = HardCase.from_payload(item.payload)
        verdict = Verdict(case, outcome, label, 0.9, "person", version, 5.0, people)
        return self.verdicts(verdict)

    def case_of(self, track_id: int) -> Event:
        """The latest hard case of `track_id`."""
        return [e for e in self.hard_cases if e.data["track_id"] == track_id][-1]

    async def _read(self) -> tuple[str, bytes]:
        message = await next_message(self.watcher)
        assert isinstance(message.payload, bytes)
        topic = message.topic.value
        self.latest[topic] = message.payload
        return topic, message.payload

    async def detections(self, n: int) -> list[dict[str, Any]]:
        """The next `n` `vision.detection` events' data (other messages noted, skipped)."""
        out: list[dict[str, Any]] = []
        while len(out) < n:
            topic, payload = await self._read()
            if "/events/vision.detection/" in topic:
                out.append(json.loads(payload)["data"])
        return out

    async def retained(self, topic: str, want: str) -> None:
        """Wait until the latest value seen on `topic` is `want`."""
        while self.latest.get(topic) != want.encode():
            await self._read()


@pytest.fixture
async def bus_and_watcher(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> AsyncIterator[tuple[GatewayConfig, MqttBus, aiomqtt.Client]]:
    cfg = make_config(mosquitto)
    bus = MqttBus(
        cfg.mqtt, client_id=cfg.client_id, status_topic=f"{cfg.topic_prefix}/status", stats=Stats()
    )
    async with bus, client(mosquitto) as watcher:
        async with asyncio.timeout(10):
            await bus.connected.wait()
        await watcher.subscribe(f"{cfg.topic_prefix}/events/vision.detection/{CAM}", qos=1)
        await watcher.subscribe(f"{cfg.topic_prefix}/cameras/{CAM}/#", qos=1)
        yield cfg, bus, watcher


async def test_each_verdict_corrects_the_lifecycle_and_the_counts(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    tracks = {i: track(i, x=100.0 * i) for i in (1, 2, 3, 4)}
    rig.publisher.handle(outcome(0.0, started=tuple(report(t) for t in tracks.values())))
    assert [e.data["reason"] for e in rig.hard_cases] == ["first"] * 4  # first sight
    starts = await rig.detections(4)
    assert {d["phase"] for d in starts} == {"start"}
    await rig.retained(count, "4")

    confirmed = rig.answer(rig.case_of(1), Outcome.CONFIRMED)
    rejected = rig.answer(rig.case_of(2), Outcome.REJECTED, "background")
    relabelled = rig.answer(rig.case_of(3), Outcome.RELABELLED, "dog")
    two = (CropBox(0.0, 0.0, 0.5, 1.0), CropBox(0.5, 0.0, 1.0, 1.0))
    split = rig.answer(rig.case_of(4), Outcome.CONFIRMED, people=two)
    got = await rig.detections(5)
    by_track = {(d["track_id"], d["phase"]): d for d in got}
    one = by_track[(1, "update")]
    assert (one["verified_by"], one["verdict_id"], one["verdict"]) == (
        "cloud",
        confirmed.id,
        "confirmed",
    )
    assert one["changed"] == ["verified"]
    gone = by_track[(2, "retract")]
    assert (gone["verified_by"], gone["verdict_id"], gone["verdict"]) == (
        "cloud",
        rejected.id,
        "rejected",
    )
    dog = by_track[(3, "update")]
    assert (dog["label"], dog["changed"], dog["verdict_id"]) == (
        "dog",
        ["label", "verified"],
        relabelled.id,
    )
    parent = by_track[(4, "update")]
    child = by_track[(SPLIT_IDS, "start")]
    assert parent["verdict"] == child["verdict"] == "split"
    assert parent["verdict_id"] == child["verdict_id"] == split.id
    assert child["split_of"] == 4
    # Each keeps its half of the track's 40 px box (the crop adds 8 px on each side).
    assert parent["box"]["x2"] - parent["box"]["x1"] == pytest.approx(28, abs=0.01)
    assert child["box"]["x1"] == pytest.approx(420, abs=0.01)
    # person: 1 confirmed + 2 from the split (2 retracted, 3 is a dog now).
    await rig.retained(count, "3")
    await rig.retained(rig.topics.camera_count(CAM, "dog"), "1")

    # The split track ends: so does its second person; later events stay verified.
    rig.publisher.handle(
        outcome(1.0, ended=(TrackReport(replace(tracks[4], last_seen=1.0), None, None),))
    )
    ends = await rig.detections(2)
    assert {(d["track_id"], d["phase"]) for d in ends} == {(4, "end"), (SPLIT_IDS, "end")}
    assert all(d["verified_by"] == "cloud" for d in ends)
    await rig.retained(count, "1")
    assert rig.sink.results == {"confirmed": 1, "rejected": 1, "relabelled": 1, "split": 1}


async def test_bad_verdicts_are_counted_and_change_nothing(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    rig = Rig(*bus_and_watcher)
    rig.publisher.handle(outcome(0.0, started=(report(track(1)),)))
    await rig.detections(1)
    case = rig.case_of(1)
    rig.answer(case, Outcome.CONFIRMED)
    assert (await rig.detections(1))[0]["verdict"] == "confirmed"
    rig.answer(case, Outcome.CONFIRMED)  # the same again: nothing new
    rig.answer(case, Outcome.REJECTED, "background", version="2")  # another model version
    stranger = Event(
        gateway="gw",
        source=CAM,
        kind=Kind.VISION_HARD_CASE,
        data={**case.data, "track_id": 99},
        media=CROP,
    )
    rig.answer(stranger, Outcome.REJECTED, "background")  # never announced: no retraction
    far = (CropBox(0.0, 0.0, 0.5, 1.0), CropBox(0.5, 0.0, 1.0, 1.0))
    outside = Event(
        gateway="gw",
        source=CAM,
        kind=Kind.VISION_HARD_CASE,
        data={**case.data, "crop_box": {"x1": 600.0, "y1": 400.0, "x2": 640.0, "y2": 480.0}},
        media=CROP,
    )
    rig.answer(outside, Outcome.CONFIRMED, people=far)  # people nowhere near the track
    rig.events.emit(rig.events.make(source=CAM, kind=Kind.CLOUD_VERDICT, data={"verdict": "maybe"}))
    rig.events.emit(rig.events.make(source="other", kind=Kind.CLOUD_VERDICT, data={}))
    assert rig.sink.results == {
        "confirmed": 1,
        "repeated": 1,
        "model_version": 1,
        "unknown_track": 1,
        "box_outside": 1,
        "malformed": 1,
    }
    # The stream stayed consistent: the track ends once, still confirmed, nothing else.
    rig.publisher.handle(outcome(1.0, ended=(TrackReport(track(1, t=1.0), None, None),)))
    (end,) = await rig.detections(1)
    assert (end["phase"], end["track_id"], end["verdict"]) == ("end", 1, "confirmed")


async def test_crops_over_a_tracks_life_within_its_and_the_cameras_budgets(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    rig = Rig(*bus_and_watcher, max_crops=2, max_per_min=3)
    a, b = track(1), track(2, x=300.0)
    rig.publisher.handle(outcome(0.0, started=(report(a), report(b))))
    rig.publisher.handle(outcome(0.5, crops=(report(a, shot=5),)))  # its box changed shape
    rig.publisher.handle(outcome(1.0, crops=(report(b, shot=10),)))  # camera: 3 a minute
    ended = replace(a, last_seen=2.0)
    rig.publisher.handle(outcome(2.0, ended=(report(ended, shot=20),)))  # track: 2 crops
    reasons = [(e.data["track_id"], e.data["reason"], e.data["crop_index"]) for e in rig.hard_cases]
    assert reasons == [(1, "first", 0), (2, "first", 0), (1, "changed", 1)]
    assert rig.stats.snapshot()["camera_crops_skipped_total"] == {
        f"{CAM},camera_budget": 1.0,
        f"{CAM},track_budget": 1.0,
    }
    # A minute later the camera may send again; a settled track never sends.
    rig.publisher.handle(outcome(70.0, crops=(report(b, shot=30),)))
    sure = track(3, best=0.95, x=500.0)
    rig.publisher.handle(outcome(70.5, started=(report(sure),)))
    assert [(e.data["track_id"], e.data["reason"]) for e in rig.hard_cases[3:]] == [(2, "changed")]


async def test_an_unsure_no_leaves_the_track_standing(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """A no too weak to retract (`cloud.verdict_reject_score`) changes nothing; a sure one does."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    rig.publisher.handle(outcome(0.0, started=(report(track(1)),)))
    await rig.detections(1)
    await rig.retained(count, "1")
    case = rig.case_of(1)
    rig.answer(case, Outcome.UNSURE, "background")
    assert rig.sink.results == {"unsure": 1}
    assert rig.publisher.adaptive.moves == 0
    rejected = rig.answer(case, Outcome.REJECTED, "background")
    (gone,) = await rig.detections(1)  # the first event after the unsure one is the retraction
    assert (gone["phase"], gone["verdict_id"]) == ("retract", rejected.id)
    await rig.retained(count, "0")
    assert rig.sink.results == {"unsure": 1, "rejected": 1}


async def test_a_split_keeps_the_tracks_own_person_and_makes_only_new_people(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """The judge's people: once each, the track's own first, no second event for anyone."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    # 1 and 2 stand apart; 3 overlaps 4's right side (two people in 3's box, one is 4's).
    ones = {1: track(1, x=0.0), 2: track(2, x=200.0), 3: track(3, x=400.0), 4: track(4, x=424.0)}
    rig.publisher.handle(outcome(0.0, started=tuple(report(t) for t in ones.values())))
    await rig.detections(4)
    await rig.retained(count, "4")

    # The same person found twice (one box inside the other): a confirmation, not a split.
    twice = (CropBox(0.1, 0.05, 0.9, 0.95), CropBox(0.2, 0.1, 0.8, 0.9))
    rig.answer(rig.case_of(1), Outcome.CONFIRMED, people=twice)
    (one,) = await rig.detections(1)
    assert (one["track_id"], one["verdict"]) == (1, "confirmed")

    # A far person in the crop's corner listed first: the track keeps the person it
    # follows (the one overlapping its box most); the corner one is new.
    corner = (CropBox(0.0, 0.0, 0.2, 0.3), CropBox(0.15, 0.05, 0.85, 0.95))
    split = rig.answer(rig.case_of(2), Outcome.CONFIRMED, people=corner)
    got = {(d["track_id"], d["phase"]): d for d in await rig.detections(2)}
    parent, child = got[(2, "update")], got[(SPLIT_IDS, "start")]
    assert parent["verdict"] == child["verdict"] == "split"
    assert child["verdict_id"] == split.id
    # The crop is the 40x100 box plus 8 px: 56x116 from (192, 92).
    assert parent["box"]["x1"] == pytest.approx(192 + 0.15 * 56, abs=0.01)
    assert child["box"]["x2"] == pytest.approx(192 + 0.2 * 56, abs=0.01)
    await rig.retained(count, "5")

    # Two people in 3's crop, the right one is track 4's: 3 narrows to its own, no child.
    halves = (CropBox(0.0, 0.0, 0.5, 1.0), CropBox(0.5, 0.0, 1.0, 1.0))
    rig.answer(rig.case_of(3), Outcome.CONFIRMED, people=halves)
    (narrowed,) = await rig.detections(1)
    assert (narrowed["track_id"], narrowed["phase"], narrowed["verdict"]) == (3, "update", "split")
    assert narrowed["box"]["x2"] - narrowed["box"]["x1"] == pytest.approx(28, abs=0.01)
    assert rig.sink.results == {"confirmed": 1, "split": 2}
    rig.publisher.handle(
        outcome(1.0, ended=(TrackReport(replace(ones[3], last_seen=1.0), None, None),))
    )
    (end,) = await rig.detections(1)
    assert (end["track_id"], end["phase"]) == (3, "end")  # no child of 3 to end with it


async def test_a_no_after_a_yes_leaves_the_confirmed_track_standing(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """Crops over a track's life: one that shows no person does not undo one that did."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    rig.publisher.handle(outcome(0.0, started=(report(track(1)), report(track(2, x=300.0)))))
    await rig.detections(2)
    await rig.retained(count, "2")
    rig.answer(rig.case_of(1), Outcome.CONFIRMED)
    (yes,) = await rig.detections(1)
    assert (yes["track_id"], yes["verdict"]) == (1, "confirmed")
    rig.answer(rig.case_of(1), Outcome.REJECTED, "background")  # a later crop: a no
    retracted = rig.answer(rig.case_of(2), Outcome.REJECTED, "background")  # never confirmed
    (gone,) = await rig.detections(1)  # the only event: 2's retraction, not 1's
    assert (gone["track_id"], gone["phase"], gone["verdict_id"]) == (2, "retract", retracted.id)
    await rig.retained(count, "1")
    assert rig.sink.results == {"confirmed": 1, "disputed": 1, "rejected": 1}


def _person(t: Track, box: Box) -> CropBox:
    """`box` (source pixels) as a person in the crop `report(t)` cuts around `t`."""
    crop = t.box.expand(8)
    return CropBox(
        (box.x1 - crop.x1) / crop.width,
        (box.y1 - crop.y1) / crop.height,
        (box.x2 - crop.x1) / crop.width,
        (box.y2 - crop.y1) / crop.height,
    )


async def test_a_track_whose_people_are_all_other_tracks_is_retracted_as_a_duplicate(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """A second track on someone already reported: the cloud finds only that person."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    first, again = track(1, x=100.0), track(2, x=104.0)  # 2 follows 1's person too
    wide = replace(track(4, x=300.0), box=Box(300.0, 100.0, 380.0, 200.0))  # a pair's box
    inside = track(3, x=300.0)  # the pair's left person: its box is half the pair box
    tracks = (first, again, inside, wide)
    rig.publisher.handle(outcome(0.0, started=tuple(report(t) for t in tracks)))
    await rig.detections(4)
    await rig.retained(count, "4")

    verdict = rig.answer(rig.case_of(2), Outcome.CONFIRMED, people=(_person(again, first.box),))
    (gone,) = await rig.detections(1)
    assert (gone["track_id"], gone["phase"]) == (2, "retract")
    assert (gone["verdict"], gone["duplicate_of"], gone["verdict_id"]) == (
        "duplicate",
        1,
        verdict.id,
    )
    await rig.retained(count, "3")

    # A later crop of 2 saying the same: it stays retracted, nothing is announced again.
    rig.answer(rig.case_of(2), Outcome.CONFIRMED, people=(_person(again, first.box),))
    # A person inside another track's pair box is not that track's: 3 is confirmed.
    rig.answer(rig.case_of(3), Outcome.CONFIRMED, people=(_person(inside, inside.box),))
    (kept,) = await rig.detections(1)
    assert (kept["track_id"], kept["phase"], kept["verdict"]) == (3, "update", "confirmed")
    assert "duplicate_of" not in kept or kept["duplicate_of"] is None
    assert rig.sink.results == {"duplicate": 1, "repeated": 1, "confirmed": 1}


async def test_a_split_whose_people_all_have_tracks_is_a_duplicate_not_a_narrowed_track(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """A box over two people who are both tracked: it reports no one, so it goes."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    left, right = track(1, x=100.0), track(2, x=140.0)
    pair = replace(track(3, x=100.0), box=Box(100.0, 100.0, 180.0, 200.0))
    rig.publisher.handle(outcome(0.0, started=tuple(report(t) for t in (left, right, pair))))
    await rig.detections(3)
    await rig.retained(count, "3")
    both = (_person(pair, left.box), _person(pair, right.box))
    rig.answer(rig.case_of(3), Outcome.CONFIRMED, people=both)
    (gone,) = await rig.detections(1)
    assert (gone["track_id"], gone["phase"], gone["verdict"]) == (3, "retract", "duplicate")
    assert gone["duplicate_of"] in (1, 2)
    await rig.retained(count, "2")
    assert rig.sink.results == {"duplicate": 1}


async def test_who_else_was_there_is_judged_on_the_frame_the_crop_shows(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """A verdict that comes back late (a slow link, an outbox backlog): the other tracks are
    taken where they were on the crop's frame, not where they are when it arrives."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    first, again = track(1, x=100.0), track(2, x=104.0)  # 2 follows 1's person too
    alone = track(3, x=300.0)  # nobody else near 3 on its crop's frame
    passer = track(4, x=500.0)
    scene = (first, again, alone, passer)
    rig.publisher.handle(outcome(0.0, started=tuple(report(t, scene=scene) for t in scene)))
    await rig.detections(4)
    await rig.retained(count, "4")

    # Before the verdicts come back, 1 walks off and ends, and 4 walks to where 3 stood.
    left = replace(first, box=Box(10.0, 100.0, 50.0, 200.0), last_seen=2.0)
    arrived = replace(passer, box=alone.box, last_seen=2.0)
    rig.publisher.handle(outcome(2.0, updated=(left, arrived)))
    rig.publisher.handle(
        outcome(2.1, ended=(TrackReport(replace(left, last_seen=2.1), None, None),))
    )
    (end,) = await rig.detections(1)
    assert (end["track_id"], end["phase"]) == (1, "end")

    # 2's person was 1's on that frame: 2 goes as 1's duplicate, though 1 has ended.
    rig.answer(rig.case_of(2), Outcome.CONFIRMED, people=(_person(again, first.box),))
    (gone,) = await rig.detections(1)
    assert (gone["track_id"], gone["phase"], gone["verdict"], gone["duplicate_of"]) == (
        2,
        "retract",
        "duplicate",
        1,
    )
    # 3's person is where 4 is now, but 4 was elsewhere on 3's frame: 3 stands, confirmed.
    rig.answer(rig.case_of(3), Outcome.CONFIRMED, people=(_person(alone, alone.box),))
    (kept,) = await rig.detections(1)
    assert (kept["track_id"], kept["phase"], kept["verdict"]) == (3, "update", "confirmed")
    await rig.retained(count, "2")  # 3 and 4
    assert rig.sink.results == {"duplicate": 1, "confirmed": 1}


async def _announce_and_reject_the_third(
    rig: Rig, count: str, scene: tuple[Track, Track, Track]
) -> None:
    """Announce three tracks seen together, then retract the third on a no."""
    rig.publisher.handle(outcome(0.0, started=tuple(report(t, scene=scene) for t in scene)))
    await rig.detections(3)
    await rig.retained(count, "3")
    rig.answer(rig.case_of(scene[2].id), Outcome.REJECTED, "background")
    (gone,) = await rig.detections(1)
    assert (gone["track_id"], gone["phase"]) == (scene[2].id, "retract")
    await rig.retained(count, "2")


async def test_a_retracted_track_comes_back_only_for_someone_no_other_track_reports(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """After a no, a later crop's yes announces the track again only if it shows someone
    new: a box the judge drew around two tracked people is not."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    left, right, rover = track(1, x=100.0), track(2, x=140.0), track(3, x=110.0)
    await _announce_and_reject_the_third(rig, count, (left, right, rover))

    # A yes on a crop whose one person box holds both 1 and 2 (IoU 0.4 with each: not
    # their box, but not anyone new either): 3 stays retracted.
    wider = replace(rover, box=Box(105.0, 100.0, 175.0, 200.0), last_seen=0.5)
    rig.publisher.handle(outcome(0.5, crops=(report(wider, 5, (left, right, wider)),)))
    both = _person(wider, Box(95.0, 95.0, 185.0, 205.0))
    rig.answer(rig.case_of(3), Outcome.CONFIRMED, people=(both,))
    # Then a crop of one person close beside 1 (IoU 0.54 with 1's box, so not 1's box):
    # someone new, and the yes announces 3 again.
    away = replace(rover, box=Box(112.0, 100.0, 152.0, 200.0), last_seen=1.0)
    rig.publisher.handle(outcome(1.0, crops=(report(away, 10, (left, right, away)),)))
    back = rig.answer(rig.case_of(3), Outcome.CONFIRMED, people=(_person(away, away.box),))
    (again,) = await rig.detections(1)  # the yes on the pair's box announced nothing
    reasons = [e.data["reason"] for e in rig.hard_cases if e.data["track_id"] == 3]
    assert reasons == ["first", "changed", "changed"]
    assert (again["track_id"], again["phase"], again["verdict_id"]) == (3, "start", back.id)
    await rig.retained(count, "3")
    assert rig.sink.results == {"rejected": 1, "repeated": 1, "confirmed": 1}


async def test_a_retracted_track_comes_back_for_someone_in_front_of_two_tracked_people(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """A box holding two tracked people's boxes is a group only when it is about as tall as
    they are: one half again as tall is someone nearer the camera, in front of them (on
    vtest.avi a track that began on a part of someone, rightly rejected, went on to follow
    a near walker passing two far ones, and stayed retracted for it)."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    far_a, far_b, rover = track(1, x=100.0), track(2, x=140.0), track(3, x=300.0)
    await _announce_and_reject_the_third(rig, count, (far_a, far_b, rover))

    # The rover now follows someone near: 170 px tall over the two far 100 px people.
    near = replace(rover, box=Box(95.0, 60.0, 185.0, 230.0), last_seen=0.5)
    rig.publisher.handle(outcome(0.5, crops=(report(near, 5, (far_a, far_b, near)),)))
    back = rig.answer(rig.case_of(3), Outcome.CONFIRMED, people=(_person(near, near.box),))
    (again,) = await rig.detections(1)
    assert (again["track_id"], again["phase"], again["verdict_id"]) == (3, "start", back.id)
    await rig.retained(count, "3")
    assert rig.sink.results == {"rejected": 1, "confirmed": 1}


async def test_a_verdict_naming_another_track_than_its_hard_case_changes_nothing(
    bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client],
) -> None:
    """A cloud that echoes a hard case with another track's id: counted, not applied."""
    rig = Rig(*bus_and_watcher)
    count = rig.topics.camera_count(CAM, "person")
    one, two = track(1), track(2, x=300.0)
    rig.publisher.handle(
        outcome(0.0, started=tuple(report(t, scene=(one, two)) for t in (one, two)))
    )
    await rig.detections(2)
    await rig.retained(count, "2")
    case = rig.case_of(1)
    swapped = Event(
        id=case.id,  # 1's hard case, echoed back as 2's
        gateway="gw",
        source=CAM,
        kind=Kind.VISION_HARD_CASE,
        data={**case.data, "track_id": 2},
        media=CROP,
    )
    rig.answer(swapped, Outcome.REJECTED, "background")
    kept = rig.answer(rig.case_of(2), Outcome.CONFIRMED)
    (yes,) = await rig.detections(1)  # 2 was never retracted: its own yes is the next event
    assert (yes["track_id"], yes["verdict"], yes["verdict_id"]) == (2, "confirmed", kept.id)
    await rig.retained(count, "2")
    assert rig.sink.results == {"other_track": 1, "confirmed": 1}
