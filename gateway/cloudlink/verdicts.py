"""Turn the cloud's verdict into a `cloud.verdict` event, and keep the latest per camera.

When the judge found people in the crop (`Verdict.people`), the event carries them as
`people`: one box per person in the source pixels of the frame the crop came from (the
hard case's `crop_box`), and `people_count`. A group track the edge reported as one is
then N people, each box from the cloud's answer (`gateway.vision.groups`).
"""

from __future__ import annotations

from typing import Any

from cloud_bridge.uplink import Verdict
from gateway.events import Event, Events, Kind, Priority
from gateway.inference.geometry import Box
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.vision.groups import in_frame

__all__ = ["VerdictPublisher", "verdict_topic"]

VERDICT_KIND = Kind.CLOUD_VERDICT


def verdict_topic(topics: Topics, camera: str) -> str:
    """Latest verdict of a camera (retained): `<prefix>/cameras/<camera>/verdict`."""
    return f"{topics.prefix}/cameras/{camera}/verdict"


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
                **{k: v for k, v in case.extra.items() if k in {"track", "track_id", "box"}},
                **people_data(verdict),
            },
        )
        self._events.emit(event)
        self._bus.publish(
            verdict_topic(self._topics, case.source), event.to_json(), qos=1, retain=True
        )
        return event


def people_data(verdict: Verdict) -> dict[str, Any]:
    """Return `people` (source pixels) and `people_count` when the cloud found people."""
    raw = verdict.hard_case.extra.get("crop_box")
    if not verdict.people or not isinstance(raw, dict):
        return {}
    try:
        crop = Box(float(raw["x1"]), float(raw["y1"]), float(raw["x2"]), float(raw["y2"]))
    except (KeyError, TypeError, ValueError):
        return {}
    boxes = [in_frame(crop, p) for p in verdict.people]
    return {
        "people": [
            {"x1": round(b.x1, 1), "y1": round(b.y1, 1), "x2": round(b.x2, 1), "y2": round(b.y2, 1)}
            for b in boxes
        ],
        "people_count": len(boxes),
    }
