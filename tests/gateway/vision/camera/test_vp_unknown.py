"""Unknown objects on real frames, named by the real naming judge, applied over Mosquitto.

vtest.avi's frames ~750-790: a man opens the tailgate of a car parked at the top right.
No person detection covers that motion, so it becomes an unknown-object track; its crop
goes to the reference cloud's naming judge (EfficientNet-Lite0), whose answer the camera's
`VerdictSink` applies: the object is announced, verified by the cloud, as a `vehicle`.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiomqtt

from bench.vision_pipeline import shipped_person_camera
from cloud_bridge.oip import build_hard_case_request
from cloud_bridge.uplink import HardCase, Outcome, verdict_from_response
from gateway.config import GatewayConfig
from gateway.mqtt.bus import MqttBus
from gateway.payloads import UNKNOWN_LABEL, HardCaseData
from gateway.vision.analyzer import FrameAnalyzer, FrameOutcome
from gateway.vision.component import build_detector
from gateway.vision.unknown import UNKNOWN_IDS
from refcloud.namer import NamingJudge
from tests.gateway.vision.camera import test_vp_verdicts
from tests.gateway.vision.camera.test_vp_verdicts import ROUTER, Rig, outcome
from tests.support.footage import clip_frame, clip_frames

bus_and_watcher = test_vp_verdicts.bus_and_watcher
"""The publisher's bus on a real Mosquitto and a watcher (the verdict tests' fixture)."""

FIRST, LAST = 600, 795  # the tailgate opens around frame 750


def _shipped_outcomes(vtest_path: Path) -> list[FrameOutcome]:
    cam, model = shipped_person_camera()
    assert cam.objects.unknown.enabled  # the shipped config names unknown objects
    analyzer = FrameAnalyzer(cam, model, build_detector(model))
    frames = clip_frames(vtest_path, FIRST, LAST - FIRST)
    outs = [analyzer.process(f, (FIRST + i) / 10.0) for i, f in enumerate(frames)]
    outs.append(analyzer.flush(LAST / 10.0 + 1.0))
    return outs


async def test_a_moving_car_is_tracked_as_unknown_named_vehicle_and_announced(
    vtest_path: Path, bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client]
) -> None:
    outs = _shipped_outcomes(vtest_path)
    qualified = [c for o in outs for c in o.unknown]
    assert len(qualified) == 1, [c.track.box for c in qualified]  # the car, nothing else
    (car,) = qualified
    assert car.track.id >= UNKNOWN_IDS
    assert car.track.label == UNKNOWN_LABEL
    assert car.crop_box.x2 > 700
    assert car.crop_box.y1 < 100
    assert [t.id for o in outs for t in o.unknown_ended] == [car.track.id]

    rig = Rig(*bus_and_watcher)
    for o in outs:
        if o.unknown:  # the frame it qualified: the hard case goes up, nothing announced
            rig.publisher.handle(_unknown_only(o))  # the people have their own tests
            break
    (case_event,) = rig.hard_cases
    data = HardCaseData.model_validate(case_event.data)
    assert (data.kind, data.label, data.detection_event) == ("unknown", UNKNOWN_LABEL, None)
    assert case_event.media == car.crop

    item = ROUTER.to_item(case_event)
    assert item is not None
    assert item.media is not None
    case = HardCase.from_payload(item.payload)
    namer = NamingJudge()
    request = build_hard_case_request(
        item.media, hard_case_id=case.id, label=case.label, score=case.score
    )
    verdict = verdict_from_response(case, namer(request), min_score=0.5, round_trip_ms=1.0)
    assert (verdict.outcome, verdict.cloud_label) == (Outcome.RELABELLED, "vehicle")
    # The rig's sink wants version "1" of the person model; the naming model is not
    # versioned (the uplink asks it for none), so its verdict is applied as it comes.
    assert (verdict.model_name, verdict.model_version) == ("objects", None)
    applied = rig.verdicts(verdict)

    (start,) = await rig.detections(1)
    assert (start["phase"], start["label"], start["track_id"]) == (
        "start",
        "vehicle",
        car.track.id,
    )
    assert (start["verified_by"], start["verdict"], start["verdict_id"]) == (
        "cloud",
        "named",
        applied.id,
    )
    await rig.retained(rig.topics.camera_count("porch", "vehicle"), "1")
    rig.publisher.handle(_unknown_only(_ended(outs, car.track.id)))
    (end,) = await rig.detections(1)
    assert (end["phase"], end["label"], end["verdict"]) == ("end", "vehicle", "named")
    await rig.retained(rig.topics.camera_count("porch", "vehicle"), "0")
    assert rig.sink.results == {"named": 1}
    assert rig.publisher.named_unknowns() == ["vehicle"]

    # The same name again, and a name for a track never seen: counted, nothing emitted.
    rig.verdicts(verdict)
    stranger = HardCase(case.id, case.source, case.label, case.score, 0.0, {
        **case.extra, "case": {**case.extra["case"], "track_id": UNKNOWN_IDS + 999}})  # fmt: skip
    named = verdict_from_response(stranger, namer(request), min_score=0.5, round_trip_ms=1.0)
    rig.verdicts(named)
    assert rig.sink.results == {"named": 1, "repeated": 1, "unknown_track": 1}


def _unknown_only(o: FrameOutcome) -> FrameOutcome:
    return replace(o, started=(), updated=(), ended=(), crops=(), active=())


def _ended(outs: list[FrameOutcome], track_id: int) -> FrameOutcome:
    return next(o for o in outs if any(t.id == track_id for t in o.unknown_ended))


async def test_an_object_the_cloud_cannot_name_stays_unannounced(
    vtest_path: Path, bus_and_watcher: tuple[GatewayConfig, MqttBus, aiomqtt.Client]
) -> None:
    rig = Rig(*bus_and_watcher)
    frame = clip_frame(vtest_path, 0)
    from gateway.config.objects import UnknownObjectsConfig
    from gateway.inference.geometry import Box
    from gateway.vision.unknown import UnknownObjects

    unknown = UnknownObjects(UnknownObjectsConfig(enabled=True, min_duration_s=0.2))
    blob = Box(300.0, 420.0, 360.0, 470.0)  # a patch of lawn
    got = [unknown.update(frame, [blob], [], i / 10.0, i) for i in range(4)]
    (crop,) = [c for g in got for c in g.qualified]
    rig.publisher.handle(
        FrameOutcome(3, 0.3, 768, 576, 0.0, True, 0, 0.0, 0, (), (), (), (), unknown=(crop,))
    )
    (case_event,) = rig.hard_cases
    item = ROUTER.to_item(case_event)
    assert item is not None
    assert item.media is not None
    case = HardCase.from_payload(item.payload)
    namer = NamingJudge()
    request = build_hard_case_request(item.media, hard_case_id=case.id, label=case.label, score=1)
    verdict = verdict_from_response(case, namer(request), min_score=0.5, round_trip_ms=1.0)
    assert verdict.cloud_label == "other"
    rig.verdicts(verdict)
    assert rig.sink.results == {"unnamed": 1}
    ended = unknown.flush(1.0)
    rig.publisher.handle(FrameOutcome(4, 1.0, 768, 576, 0.0, False, 0, 0.0, 0, (), (), (), (),
                                      unknown_ended=ended))  # fmt: skip
    assert rig.publisher.named_unknowns() == []
    # Nothing was announced for it: the only detection-topic traffic is a later track's.
    rig.publisher.handle(outcome(2.0))
    assert not [e for e in rig.hard_cases if e.data["track_id"] != crop.track.id]
