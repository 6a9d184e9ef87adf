"""What the demo saw: every event the gateway emitted, and the frames the camera sent.

The recorder is an `Events` sink (called on the loop, so it only appends and looks up)
and the camera's `on_frame` callback. It keeps counts per stream, the hard cases with
their crops and verdicts, and, for a few tracks, the frame on which each was announced,
so the report image can show them in context.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from apps.simulator.camera import SentFrame
from gateway.cloudlink.sink import EventRouter
from gateway.events import Event, Kind
from gateway.inference.geometry import Box as PixelBox
from gateway.payloads import DetectionData, HardCaseData

__all__ = ["Box", "HardCaseRecord", "Recorder", "StreamTally", "TrackShot"]

_RECENT_FRAMES = 100  # 10 s at 10 fps: an announced track's frame is a few frames old
_MAX_SHOTS = 400  # announced tracks kept with their frame (~80 KB each)
MAX_FRAMES = 1200
"""Frames kept for the faces check after the run (the whole clip and its tail, ~60 MB)."""
_FRAME_SLACK_S = 0.05  # a frame published this much after the event's time still counts

HARD_CASE = Kind.VISION_HARD_CASE

Box = tuple[float, float, float, float]


@dataclass(slots=True)
class StreamTally:
    """Events of one source: all of them, and those that go upstream."""

    events: Counter[str] = field(default_factory=Counter)
    up_events: Counter[str] = field(default_factory=Counter)
    up_json_bytes: int = 0
    """JSON of the events that go to the event sink."""
    up_hard_case_bytes: int = 0
    """JSON and crops of the hard cases that go to the cloud model."""


@dataclass(slots=True, frozen=True)
class TrackShot:
    """The frame on which a track was announced, with its box there."""

    camera: str
    track_id: int
    frame: bytes
    box: Box
    score: float


@dataclass(slots=True, frozen=True)
class HardCaseRecord:
    """A hard case the gateway sent: the edge's guess and its crop."""

    id: str
    camera: str
    track_id: int
    label: str
    score: float
    box: Box
    crop: bytes
    detection_event: str | None
    ts: float
    """Unix time of the hard-case event (the crop was cut at or before it)."""
    crop_box: Box | None
    """Where the crop was cut from its frame (pixels)."""
    faces_redacted: int
    """Faces the edge blurred in the crop before it left."""


def _corners(b: PixelBox) -> Box:
    return (b.x1, b.y1, b.x2, b.y2)


class Recorder:
    """Collect the demo's events and camera frames (call on the loop only)."""

    def __init__(self, router: EventRouter) -> None:
        self._router = router
        self.streams: dict[str, StreamTally] = {}
        self.frames_sent = 0
        self.empty_frames = 0
        self.camera_bytes = 0
        self.frame_size: tuple[int, int] | None = None
        self.first_frame_ts: float | None = None
        self.last_frame_ts: float | None = None
        self._recent: deque[SentFrame] = deque(maxlen=_RECENT_FRAMES)
        self.frames: list[SentFrame] = []
        """Every frame the camera sent, up to `MAX_FRAMES` (the crops' frames)."""
        self.starts: dict[str, float] = {}
        """Announced tracks' first sight (Unix time) by their start event's id."""
        self.shots: dict[str, TrackShot] = {}
        """Announced tracks by their start event's id."""
        self.decisions: dict[tuple[str, int], str] = {}
        """The cascade's decision per (camera, track), from its end event."""
        self.hard_cases: list[HardCaseRecord] = []
        self.verdicts: dict[str, dict[str, Any]] = {}
        """Verdict data by hard-case id."""
        self.verdict_events: dict[str, str] = {}
        """The `cloud.verdict` event's id by hard-case id."""
        self.retracted_by: set[str] = set()
        """Ids of the verdicts the gateway applied as a retraction (its `retract` events)."""

    def on_frame(self, frame: SentFrame) -> None:
        """Count a frame the camera published and keep it a while."""
        self.frames_sent += 1
        self.empty_frames += frame.empty
        self.camera_bytes += len(frame.jpeg)
        self._recent.append(frame)
        if len(self.frames) < MAX_FRAMES:
            self.frames.append(frame)
        if self.first_frame_ts is None:
            self.first_frame_ts = frame.wall_ts
        self.last_frame_ts = frame.wall_ts

    def __call__(self, event: Event) -> None:
        """Take one event (an `Events` sink)."""
        data = event.data
        # Liveness events are about a device; the stream is the sensor that reads it.
        stream = (
            str(data.get("sensor", event.source))
            if event.kind.startswith("device.")
            else event.source
        )
        tally = self.streams.setdefault(stream, StreamTally())
        tally.events[event.kind] += 1
        if self._router.forwards(event.kind):
            tally.up_events[event.kind] += 1
            size = len(event.to_json())
            if event.kind == HARD_CASE:
                tally.up_hard_case_bytes += size + len(event.media or b"")
            else:
                tally.up_json_bytes += size
        match event.kind:
            case Kind.VISION_DETECTION:
                detection = DetectionData.model_validate(data)
                if detection.phase == "start":
                    self.starts[event.id] = detection.first_seen
                    self._keep_shot(event.id, detection)
                elif detection.phase == "end":
                    key = (event.source, detection.track_id)
                    self.decisions[key] = str(detection.decision)
                elif detection.phase == "retract" and detection.verdict_id is not None:
                    self.retracted_by.add(detection.verdict_id)
            case Kind.VISION_HARD_CASE if event.media is not None:
                case = HardCaseData.model_validate(data)
                self.hard_cases.append(
                    HardCaseRecord(
                        id=event.id,
                        camera=event.source,
                        track_id=case.track_id,
                        label=case.label,
                        score=case.score,
                        box=_corners(case.box),
                        crop=event.media,
                        detection_event=case.detection_event,
                        ts=event.ts,
                        crop_box=None if case.crop_box is None else _corners(case.crop_box),
                        faces_redacted=case.faces_redacted,
                    )
                )
            case "cloud.verdict":
                self.verdicts[str(data["hard_case_id"])] = dict(data)
                self.verdict_events[str(data["hard_case_id"])] = event.id
            case _:
                pass

    def _keep_shot(self, event_id: str, detection: DetectionData) -> None:
        if len(self.shots) >= _MAX_SHOTS:
            return
        seen = detection.last_seen + _FRAME_SLACK_S
        frame = next((f for f in reversed(self._recent) if f.wall_ts <= seen), None)
        if frame is None:
            return
        self.shots[event_id] = TrackShot(
            camera=detection.camera,
            track_id=detection.track_id,
            frame=frame.jpeg,
            box=_corners(detection.box),
            score=detection.score,
        )

    def video_s(self) -> float:
        """Seconds of video the camera sent (first to last frame, plus one frame's time)."""
        if self.first_frame_ts is None or self.last_frame_ts is None or self.frames_sent < 2:
            return 0.0
        span = self.last_frame_ts - self.first_frame_ts
        return span * self.frames_sent / (self.frames_sent - 1)

    def sample_frames(self, n: int) -> list[bytes]:
        """Up to `n` whole frames the camera sent, spread over the run (scenes with people
        first: the frames tracks were announced on)."""
        frames = [shot.frame for shot in self.shots.values()]
        frames += [f.jpeg for f in self._recent if not f.empty]
        if n <= 0 or not frames:
            return []
        step = max(1, len(frames) // n)
        return frames[::step][:n]

    def retracted_on(self, hard_case_id: str) -> bool:
        """Whether the gateway retracted the track on this hard case's verdict: a no it
        applied, or a yes for someone another track reports (`duplicate`). A no for a
        track the cloud confirmed on another crop, or a repeated one, changes nothing."""
        return self.verdict_events.get(hard_case_id, "") in self.retracted_by

    def verdict_counts(self) -> Counter[str]:
        """Verdicts by outcome (confirmed, rejected, relabelled, unsure)."""
        return Counter(str(v["verdict"]) for v in self.verdicts.values())

    def pending(self) -> int:
        """Hard cases the cloud has not judged yet."""
        return sum(1 for h in self.hard_cases if h.id not in self.verdicts)
