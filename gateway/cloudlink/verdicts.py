"""Turn the cloud's verdict into a `cloud.verdict` event, and keep the latest per camera.

When the judge found people in the crop (`Verdict.people`), the event carries them as
`people`: one box per person in the source pixels of the frame the crop came from (the
hard case's `crop_box`), and `people_count`. A group track the edge reported as one is
then N people, each box from the cloud's answer (`gateway.vision.groups`).
"""

from __future__ import annotations

from typing import Any

from cloud_bridge.uplink import Verdict
from gateway.cloudlink.sink import hard_case_data
from gateway.events import Event, Events, Kind, Priority
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.payloads import HardCaseData
from gateway.vision.groups import in_frame

__all__ = ["VerdictPublisher", "people_data"]

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
        edge = hard_case_data(case)
        event = self._events.make(
            source=case.source,
            kind=VERDICT_KIND,
            priority=Priority(min(int(case.extra.get("priority", 1)), Priority.CRITICAL)),
            data={
                "hard_case_id": case.id,
                "verdict": verdict.outcome.value,
                "cloud_label": verdict.cloud_label,
                "cloud_score": round(verdict.cloud_score, 4),
                "edge_label": case.label,
                "edge_score": case.score,
                "model": verdict.model_name,
                "model_version": verdict.model_version,
                "round_trip_ms": round(verdict.round_trip_ms, 1),
                **({} if edge is None else {"track_id": edge.track_id, "box": edge.box.to_json()}),
                **people_data(verdict, edge),
            },
        )
        self._events.emit(event)
        self._bus.publish(
            self._topics.camera_verdict(case.source), event.to_json(), qos=1, retain=True
        )
        return event


def people_data(verdict: Verdict, edge: HardCaseData | None) -> dict[str, Any]:
    """Return `people` (source pixels) and `people_count` when the cloud found people."""
    if not verdict.people or edge is None or edge.crop_box is None:
        return {}
    boxes = [in_frame(edge.crop_box, p) for p in verdict.people]
    return {"people": [b.to_json(1) for b in boxes], "people_count": len(boxes)}
