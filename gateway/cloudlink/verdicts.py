"""Turn the cloud's verdict into a `cloud.verdict` event, and keep the latest per camera.

The event's `data` is `gateway.payloads.VerdictData`: the outcome, the cloud's and the
edge's label and score, the judge's model and version, and the hard case's camera,
track and crop reason. When the judge found people in the crop (`Verdict.people`), it
carries them as `people`: one box per person in the source pixels of the frame the crop
came from (the hard case's `crop_box`), and `people_count`. The camera's pipeline reads
these events (an `Events` sink, `gateway.vision.corrections`) and applies them to its
tracks: confirmed, rejected (a retraction), relabelled, or split into one track per person.
"""

from __future__ import annotations

from typing import Any

from cloud_bridge.uplink import Verdict
from gateway.cloudlink.sink import hard_case_data
from gateway.events import Event, Events, Kind, Priority
from gateway.inference.geometry import Box
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.payloads import HardCaseData, VerdictData
from gateway.vision.groups import in_frame

__all__ = ["VerdictPublisher", "people_data", "verdict_data"]

VERDICT_KIND = Kind.CLOUD_VERDICT


class VerdictPublisher:
    """Emit each verdict as an event (local MQTT, other sinks) and retain it per camera."""

    def __init__(self, *, events: Events, bus: MqttBus, topics: Topics) -> None:
        self._events = events
        self._bus = bus
        self._topics = topics

    def __call__(self, verdict: Verdict) -> Event:
        """Publish `verdict`; return its event."""
        case = verdict.hard_case
        event = self._events.make(
            source=case.source,
            kind=VERDICT_KIND,
            priority=Priority(min(int(case.extra.get("priority", 1)), Priority.CRITICAL)),
            data=verdict_data(verdict).to_data(),
        )
        self._events.emit(event)
        self._bus.publish(
            self._topics.camera_verdict(case.source), event.to_json(), qos=1, retain=True
        )
        return event


def verdict_data(verdict: Verdict) -> VerdictData:
    """Return the `cloud.verdict` data of `verdict` (people in the frame's pixels)."""
    case = verdict.hard_case
    edge = hard_case_data(case)
    people = _people(verdict, edge)
    return VerdictData(
        hard_case_id=case.id,
        verdict=verdict.outcome.value,
        cloud_label=verdict.cloud_label,
        cloud_score=round(verdict.cloud_score, 4),
        edge_label=case.label,
        edge_score=case.score,
        model=verdict.model_name,
        model_version=verdict.model_version,
        round_trip_ms=round(verdict.round_trip_ms, 1),
        camera=None if edge is None else edge.camera,
        track_id=None if edge is None else edge.track_id,
        box=None if edge is None else edge.box,
        reason=None if edge is None else edge.reason,
        people=people,
        people_count=None if people is None else len(people),
    )


def _people(verdict: Verdict, edge: HardCaseData | None) -> tuple[Box, ...] | None:
    if not verdict.people or edge is None or edge.crop_box is None:
        return None
    rounded = (b.to_json(1) for b in (in_frame(edge.crop_box, p) for p in verdict.people))
    return tuple(Box(**r) for r in rounded)


def people_data(verdict: Verdict, edge: HardCaseData | None) -> dict[str, Any]:
    """Return `people` (source pixels) and `people_count` when the cloud found people."""
    people = _people(verdict, edge)
    if people is None:
        return {}
    return {"people": [b.to_json(1) for b in people], "people_count": len(people)}
