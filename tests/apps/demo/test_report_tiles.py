"""The demo picture's hard-case tiles say what the gateway did with the cloud's verdict."""

from __future__ import annotations

import pytest

from apps.demo.image import _COLOURS, _hard_case_tile
from apps.demo.recorder import HardCaseRecord, Recorder
from gateway.cloudlink.sink import EventRouter
from gateway.events import Event, Kind
from gateway.inference.geometry import Box
from gateway.vision.publisher import detection_data
from gateway.vision.tracker import ObjectTracker, TrackerConfig

CAMERA = "cam"


class _Det:
    label = "person"
    score = 0.7
    box = Box(10, 10, 40, 90)


def _case(recorder: Recorder, case_id: str) -> HardCaseRecord:
    case = HardCaseRecord(
        id=case_id,
        camera=CAMERA,
        track_id=1,
        label="person",
        score=0.7,
        box=(10.0, 10.0, 40.0, 90.0),
        crop=b"",
        detection_event=None,
        ts=0.0,
        crop_box=None,
        faces_redacted=0,
    )
    recorder.hard_cases.append(case)
    return case


def _verdict(recorder: Recorder, case_id: str, verdict: str) -> Event:
    data = {"hard_case_id": case_id, "verdict": verdict, "cloud_label": "background"}
    event = Event(
        gateway="gw", source=CAMERA, kind="cloud.verdict", data=data | {"cloud_score": 0.9}
    )
    recorder(event)
    return event


def _retract(recorder: Recorder, verdict: Event) -> None:
    track = ObjectTracker(TrackerConfig(min_hits=1)).update([_Det()], 0.0).started[0]
    data = detection_data(CAMERA, track, "retract").model_copy(
        update={"verified_by": "cloud", "verdict_id": verdict.id, "verdict": "rejected"}
    )
    recorder(Event(gateway="gw", source=CAMERA, kind=Kind.VISION_DETECTION, data=data.model_dump()))


@pytest.mark.parametrize("applied", [True, False])
def test_a_rejection_shows_whether_the_gateway_applied_it(applied: bool) -> None:
    recorder = Recorder(EventRouter(("*",), ()))
    case = _case(recorder, "case-1")
    verdict = _verdict(recorder, "case-1", "rejected")
    if applied:
        _retract(recorder, verdict)
    tile = _hard_case_tile(recorder, case)
    assert tile.detail.startswith("cloud: rejected (background 0.90)")
    if applied:
        assert tile.colour == _COLOURS["rejected"]
        assert "not applied" not in tile.detail
    else:  # a no for a track confirmed on another crop: the track stands
        assert tile.colour == _COLOURS["stands"] != _COLOURS["rejected"]
        assert tile.detail.endswith("not applied")


def test_a_retraction_on_another_verdict_does_not_count() -> None:
    recorder = Recorder(EventRouter(("*",), ()))
    first, second = _case(recorder, "case-1"), _case(recorder, "case-2")
    _retract(recorder, _verdict(recorder, "case-1", "rejected"))
    _verdict(recorder, "case-2", "rejected")
    assert _hard_case_tile(recorder, first).colour == _COLOURS["rejected"]
    assert _hard_case_tile(recorder, second).colour == _COLOURS["stands"]


@pytest.mark.parametrize("retracted", [True, False])
def test_a_yes_the_gateway_retracted_as_a_duplicate_is_drawn_retracted(retracted: bool) -> None:
    recorder = Recorder(EventRouter(("*",), ()))
    case = _case(recorder, "case-1")
    verdict = _verdict(recorder, "case-1", "confirmed")
    if retracted:  # every person in the crop was another track's
        _retract(recorder, verdict)
    tile = _hard_case_tile(recorder, case)
    if retracted:
        assert tile.colour == _COLOURS["rejected"]
        assert tile.detail.endswith("another track's: retracted")
    else:
        assert tile.colour == _COLOURS["confirmed"] != _COLOURS["rejected"]
