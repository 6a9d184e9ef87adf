"""A confirmed group hard case comes back as N people: verdict boxes, events, placements."""

from __future__ import annotations

import numpy as np
import pytest

from cloud_bridge.oip import InferenceResponse, ResponseOutput, UplinkProtocolError
from cloud_bridge.uplink import CropBox, HardCase, Outcome, verdict_from_response
from gateway.cloudlink.sink import EventRouter
from gateway.cloudlink.sink import hard_case_data as hard_case_data_of
from gateway.cloudlink.verdicts import people_data
from gateway.events import Event, Kind
from gateway.inference.geometry import Box
from gateway.vision.groups import crop_box, distinct_people, in_frame, place_people
from tests.support.payloads import hard_case_data

CROP = Box(100.0, 50.0, 200.0, 250.0)
ROUTER = EventRouter(("*",), ())


def case(crop: Box | None = None) -> HardCase:
    """A hard case as the outbox holds it: from the event the vision pipeline emits."""
    event = Event(
        gateway="g",
        source="cam",
        kind=Kind.VISION_HARD_CASE,
        data=hard_case_data("person", 0.999, camera="cam", crop_box=crop),
        media=b"jpeg",
    )
    item = ROUTER.to_item(event)
    assert item is not None
    return HardCase.from_payload(item.payload)


def answer(label: str, boxes: np.ndarray | None) -> InferenceResponse:
    outputs = [
        ResponseOutput.from_strings("label", [label]),
        ResponseOutput.from_numpy("score", np.asarray([0.9], dtype=np.float32)),
    ]
    if boxes is not None:
        outputs.append(ResponseOutput.from_numpy("boxes", boxes.astype(np.float32)))
    return InferenceResponse(model_name="person", outputs=outputs)


TWO = np.asarray([[0.0, 0.1, 0.5, 1.0], [0.5, 0.0, 1.0, 0.9]])


def test_confirmed_verdict_carries_the_people_found() -> None:
    verdict = verdict_from_response(case(), answer("person", TWO), min_score=0.5, round_trip_ms=1)
    assert verdict.outcome is Outcome.CONFIRMED
    assert len(verdict.people) == 2
    got = [(p.x1, p.y1, p.x2, p.y2) for p in verdict.people]
    assert got[0] == pytest.approx((0.0, 0.1, 0.5, 1.0))  # float32 on the wire
    assert got[1] == pytest.approx((0.5, 0.0, 1.0, 0.9))


def test_people_only_on_confirmed_and_only_when_answered() -> None:
    rejected = verdict_from_response(
        case(), answer("background", TWO), min_score=0.5, round_trip_ms=1
    )
    assert rejected.outcome is Outcome.REJECTED
    assert rejected.people == ()
    plain = verdict_from_response(case(), answer("person", None), min_score=0.5, round_trip_ms=1)
    assert plain.people == ()
    empty = np.zeros((0, 4))
    assert (
        verdict_from_response(
            case(), answer("person", empty), min_score=0.5, round_trip_ms=1
        ).people
        == ()
    )
    degenerate = np.asarray([[0.5, 0.5, 0.5, 0.9]])  # zero width: not a person
    assert (
        verdict_from_response(
            case(), answer("person", degenerate), min_score=0.5, round_trip_ms=1
        ).people
        == ()
    )


def test_malformed_boxes_are_a_protocol_error() -> None:
    bad = np.asarray([0.1, 0.2, 0.3])  # not a multiple of 4
    with pytest.raises(UplinkProtocolError):
        verdict_from_response(case(), answer("person", bad), min_score=0.5, round_trip_ms=1)


def test_verdict_event_data_puts_people_in_frame_pixels() -> None:
    verdict = verdict_from_response(
        case(CROP), answer("person", TWO), min_score=0.5, round_trip_ms=1
    )
    data = people_data(verdict, hard_case_data_of(verdict.hard_case))
    assert data["people_count"] == 2
    first, second = data["people"]
    assert first == {"x1": 100.0, "y1": 70.0, "x2": 150.0, "y2": 250.0}
    assert second["x1"] == 150.0
    assert second["x2"] == 200.0
    no_crop = verdict_from_response(case(), answer("person", TWO), min_score=0.5, round_trip_ms=1)
    assert people_data(no_crop, hard_case_data_of(no_crop.hard_case)) == {}  # nowhere to put them
    assert people_data(verdict, None) == {}  # an outbox item from before the typed data


def test_people_follow_the_group_track_box() -> None:
    best = Box(108, 58, 192, 242)  # the track's best box; the crop adds an 8 px margin
    crop = crop_box(best, 8, 768, 576)
    assert crop == Box(100, 50, 200, 250)
    halves = [CropBox(0.0, 0.0, 0.5, 1.0), CropBox(0.5, 0.0, 1.0, 1.0)]
    places = place_people(best, [in_frame(crop, p) for p in halves])
    assert places is not None
    assert len(places) == 2
    left, right = (p.within(best) for p in places)
    assert left.x1 == pytest.approx(100)
    assert left.x2 == pytest.approx(150)
    assert right.x1 == pytest.approx(150)
    assert right.x2 == pytest.approx(200)
    later = Box(308, 58, 392, 242)  # the group walked 200 px right
    moved = places[1].within(later)
    assert moved.x1 == pytest.approx(350)
    assert moved.x2 == pytest.approx(400)
    bigger = Box(0, 0, 168, 368)  # twice the size: each person scales with the group
    assert places[0].within(bigger).width == pytest.approx(100)


def test_people_outside_the_crop_or_found_twice() -> None:
    box = Box(100, 100, 140, 200)
    far = Box(400, 400, 440, 500)  # nowhere near the box the crop was cut around
    assert place_people(box, [box, far]) is None
    assert place_people(box, []) is None
    inner = Box(105, 110, 135, 190)  # inside the first: the same person found twice
    beside = Box(140, 100, 180, 200)
    assert distinct_people([box, inner, beside]) == [box, beside]
    # the larger of the two is kept, whichever the judge named first
    assert distinct_people([inner, beside, box]) == [beside, box]
