"""The typed `data` of the vision events: one model shared by producer and consumer.

`Event.data` is a JSON mapping (plugins may add kinds); the kinds below have a model
that builds it (`to_data`) and reads it back (`model_validate`), so the vision pipeline
that emits them and the cloud link, the demo and the bench that read them agree on one
written-down contract instead of a dict built in one room and re-parsed in another.
Boxes are `gateway.inference.geometry.Box`: `{"x1", "y1", "x2", "y2"}` in source pixels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.inference.geometry import Box

__all__ = [
    "UNKNOWN_LABEL",
    "CropReason",
    "Decision",
    "DetectionData",
    "HardCaseData",
    "HardCaseKind",
    "Payload",
    "Phase",
    "SnapshotRef",
    "VerdictData",
    "VerdictOutcome",
]

Phase = Literal["start", "update", "end", "retract"]
"""The moments of a track a `vision.detection` event reports (`retract`: the cloud
rejected a track the edge announced; dashboards and the cloud drop it)."""

CropReason = Literal["first", "best", "changed", "end"]
"""Why a hard-case crop was cut: the track's first sight, a better score, its box or label
changed (its members may have), or its end (its best crop)."""

HardCaseKind = Literal["detection", "unknown"]
"""What a hard case asks the cloud: judge the edge's detection, or name an object the edge
tracks but cannot label (`gateway.vision.unknown`; its edge label is `UNKNOWN_LABEL`)."""

UNKNOWN_LABEL = "unknown"
"""The edge's label of a moving object no detection explains."""

VerdictOutcome = Literal["confirmed", "rejected", "relabelled", "unsure"]
"""What the cloud made of a hard case (`cloud_bridge.uplink.Outcome` values)."""


class Decision(StrEnum):
    """What the edge does with a track (the cascade, `gateway.vision.cascade`)."""

    SETTLED = "settled"
    HARD_CASE = "hard_case"
    DROPPED = "dropped"


class Payload(BaseModel):
    """Base of an event kind's `data`: frozen, unknown keys are errors."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def to_data(self) -> dict[str, Any]:
        """Return the JSON-ready mapping that goes into `Event.data`."""
        return self.model_dump(mode="json")


class SnapshotRef(Payload):
    """The retained JPEG of a track's best frame: where, its best score then, and when."""

    topic: str
    score: float
    ts: float = Field(description="Unix time it was published.")


class DetectionData(Payload):
    """`vision.detection`: a track started, is still there (`update`) or ended."""

    camera: str
    phase: Phase
    track_id: int
    label: str
    score: float = Field(description="Score on the latest frame.")
    best_score: float
    box: Box = Field(description="Box on the latest frame.")
    best_box: Box
    zones: tuple[str, ...] = Field(description="Zones the track is in now.")
    zones_entered: tuple[str, ...]
    first_seen: float = Field(description="Unix time.")
    last_seen: float = Field(description="Unix time.")
    duration_s: float
    hits: int
    snapshot: SnapshotRef | None = Field(
        None, description="The track's best frame so far, when one was published for it."
    )
    changed: tuple[str, ...] | None = Field(
        None, description="What changed (`update` only): of `label`, `score`, `zones`."
    )
    decision: Decision | None = Field(None, description="The cascade's decision (`end` only).")
    verified_by: Literal["cloud"] | None = Field(
        None, description="`cloud` on a correction a cloud verdict made (and after it)."
    )
    verdict_id: str | None = Field(None, description="Id of the `cloud.verdict` event applied.")
    verdict: (
        Literal["confirmed", "rejected", "relabelled", "split", "named", "duplicate"] | None
    ) = Field(
        None,
        description="What the cloud's verdict did to this track (`named`: an unknown "
        "object the cloud gave its label; `duplicate`: retracted, every person the cloud "
        "found in its crop being another track's).",
    )
    split_of: int | None = Field(
        None, description="The track the cloud split this one from (its people, one each)."
    )
    duplicate_of: int | None = Field(
        None,
        description="On a `duplicate` retraction: the track that reports the person this "
        "one was following.",
    )


class HardCaseData(Payload):
    """`vision.hard_case`: a track the edge could not settle; its best crop is the media."""

    camera: str
    track_id: int
    label: str = Field(description="The edge's guess.")
    score: float = Field(description="The track's best score.")
    band: tuple[float, float] = Field(description="The escalation band `[low, high)`.")
    box: Box = Field(description="The track's best box.")
    crop_box: Box | None = Field(description="Where the crop was cut from its frame.")
    group: bool = Field(description="Escalated for its group shape, not for its score.")
    zones: tuple[str, ...]
    detection_event: str | None = Field(description="Id of the track's `start` detection.")
    media_bytes: int
    media_topic: str = Field(description="Where the crop is also published locally.")
    reason: CropReason = Field("end", description="Why this crop was cut.")
    crop_index: int = Field(0, ge=0, description="This track's crops sent before this one.")
    faces_redacted: int = Field(0, ge=0, description="Faces blurred in the crop at the edge.")
    kind: HardCaseKind = Field(
        "detection", description="`unknown`: an object the edge cannot label, to be named."
    )

    @property
    def band_middle(self) -> float:
        """The middle of the band: the nearer the score, the more uncertain the case."""
        return (self.band[0] + self.band[1]) / 2


class VerdictData(Payload):
    """`cloud.verdict`: the cloud's answer to one hard case, as the gateway publishes it."""

    hard_case_id: str
    verdict: VerdictOutcome
    cloud_label: str
    cloud_score: float
    edge_label: str
    edge_score: float
    model: str
    model_version: str | None
    round_trip_ms: float
    camera: str | None = Field(None, description="The hard case's camera.")
    track_id: int | None = Field(None, description="The hard case's track.")
    box: Box | None = Field(None, description="The box the crop was cut around.")
    reason: CropReason | None = Field(None, description="Why the crop was cut.")
    people: tuple[Box, ...] | None = Field(
        None, description="Objects the cloud found in the crop, in the frame's pixels."
    )
    people_count: int | None = None
