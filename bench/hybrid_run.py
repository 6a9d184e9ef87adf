"""The hybrid benches' engine: a camera and the reference cloud on vtest.avi.

`run_hybrid` runs a camera's analyzer and the gateway's own `CameraPublisher` frame by
frame with the cloud in the loop (see `bench.hybrid` for what is measured and how);
the paths, cameras and command line here are shared by `bench.hybrid` (the hybrid
table) and `bench.sweep` (cheap vs strong cameras).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

from apps.demo.comparison import AllCloudCall
from bench.vision_pipeline import VTEST_FPS, read_video, shipped_person_camera
from cloud_bridge.oip import OipClient, build_hard_case_request
from cloud_bridge.uplink import HardCase, Verdict, verdict_from_response
from devices.cameras import Image, encode_jpeg
from gateway.cloudlink.sink import EventRouter
from gateway.cloudlink.verdicts import VerdictPublisher
from gateway.config import MqttConfig, load_config
from gateway.config.cloud import CloudSection
from gateway.config.vision import CameraConfig, ModelConfig
from gateway.events import Event, Events, Kind
from gateway.inference.detector import Detector
from gateway.inference.geometry import Box
from gateway.mqtt.bus import MqttBus
from gateway.mqtt.topics import Topics
from gateway.payloads import UNKNOWN_LABEL
from gateway.stats_registry import Stats
from gateway.vision.analyzer import FrameAnalyzer
from gateway.vision.camera_stats import CameraStats
from gateway.vision.cascade import Band, Decision
from gateway.vision.component import build_detector
from gateway.vision.corrections import VerdictSink
from gateway.vision.publisher import CameraPublisher
from gateway.vision.redact import FaceRedactor, Redacted
from gateway.vision.tracker import Track
from lab.evaluation import TrackPath, TrackRecorder
from lab.playback import Footage, footage_frames
from refcloud import EventSink, serve
from refcloud.judges import (
    DEFAULT_JUDGE,
    JUDGE_MODELS,
    NAMING_MODEL_NAME,
    JudgeKind,
    make_judge,
    make_namer,
)

RESULTS = Path(__file__).parent / "results"
VERDICT_MIN_SCORE: float = CloudSection.model_fields["verdict_min_score"].default
VERDICT_REJECT_SCORE: float = CloudSection.model_fields["verdict_reject_score"].default
PERSON = "person"


class _DiscardBus(MqttBus):
    """A bus that is never connected: the bench reads events from a sink, not MQTT."""

    def __init__(self) -> None:
        super().__init__(
            MqttConfig(), client_id="bench", status_topic="bench/status", stats=Stats()
        )

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        *,
        qos: int = 0,
        retain: bool = False,
        correlation_data: bytes | None = None,
    ) -> None:
        """Drop the message."""


class RecordingRedactor(FaceRedactor):
    """The camera's redactor, keeping each crop as it was before redaction (bench only)."""

    def __init__(self, detector: Detector, *, threshold: float, quality: int) -> None:
        super().__init__(detector, threshold=threshold, jpeg_quality=quality)
        self.quality = quality
        self.raw: dict[bytes, Image] = {}
        """Uploaded JPEG (as the analyzer encodes it) -> the crop before redaction."""

    def redact(self, image: Image, region: Box | None = None) -> Redacted:
        """Redact, remembering crops (no `region`) by their encoded result."""
        out = super().redact(image, region)
        if region is None:
            self.raw[encode_jpeg(out.image, self.quality)] = image.copy()
        return out


@dataclass(slots=True)
class HybridRun:
    """What the edge and the cloud did on the clip."""

    recorder: TrackRecorder
    publisher: CameraPublisher
    sink: VerdictSink
    frames: int
    cpu_s: float
    events_bytes: int = 0
    detection_bytes: int = 0
    """JSON of the `vision.detection` events only (what edge-only sends up)."""
    crops: list[bytes] = field(default_factory=list)
    ended_best: dict[int, float] = field(default_factory=dict)
    round_trip_ms: list[float] = field(default_factory=list)
    event_ms: list[float] = field(default_factory=list)
    """Frame handed to the edge -> each of its `vision.detection` events emitted."""
    verdict_ms: list[float] = field(default_factory=list)
    """A hard case's frame handed to the edge -> its verdict applied (loopback)."""
    verdict_crop_bytes: list[int] = field(default_factory=list)
    case_arrival: dict[str, float] = field(default_factory=dict)
    arrival: float | None = None
    """perf_counter() when the frame being handled was handed to the edge."""
    allcloud: list[AllCloudCall] = field(default_factory=list)
    """All-cloud samples: frames sent whole, and their round trips."""
    held: tuple[Track, ...] = ()
    """The last processed frame's tracks (they stand for frames `detect_fps` skips)."""
    width: int = 0
    """The clip's frame width in pixels (to move the truth with mirrored footage)."""
    processed: int = 0
    detector_calls: int = 0
    """Frames the edge processed (fewer than `frames` when `detect_fps` < the clip's)."""


class _DetectClock:
    """The camera worker's `detect_fps` on the clip's clock: is this frame's turn due?"""

    def __init__(self, fps: float) -> None:
        self.interval = 1.0 / fps
        self.next_at: float | None = None

    def __call__(self, ts: float) -> bool:
        if self.next_at is not None and ts < self.next_at - 1e-6:  # float jitter of frame clocks
            return False
        self.next_at = ts + self.interval
        return True


async def _all_cloud(
    oip: OipClient,
    model: str,
    clip: Path,
    *,
    frames: int,
    quality: int,
    samples: int,
    footage: Footage = Footage.AS_SHOT,
) -> list[AllCloudCall]:
    """Send `samples` frames spread over the clip whole, as all-cloud would; time each."""
    if samples <= 0 or frames <= 0:
        return []
    step = max(1, frames // samples)
    out: list[AllCloudCall] = []
    for index, image in enumerate(footage_frames(read_video(str(clip), frames), footage)):
        if index % step or len(out) >= samples:
            continue
        jpeg = encode_jpeg(image, quality)
        request = build_hard_case_request(
            jpeg, hard_case_id=f"allcloud-{index}", label=PERSON, score=0.0
        )
        t0 = time.perf_counter()
        await oip.infer(model, request)
        out.append(AllCloudCall(len(jpeg), (time.perf_counter() - t0) * 1000))
    return out


async def run_hybrid(
    clip: Path,
    frames: int | None,
    threads: int,
    redactor: FaceRedactor | None,
    *,
    allcloud_frames: int = 0,
    quality: int = 80,
    camera: tuple[CameraConfig, ModelConfig] | None = None,
    judge_kind: JudgeKind = DEFAULT_JUDGE,
    footage: Footage = Footage.AS_SHOT,
    verdict_delay_s: float = 0.0,
) -> HybridRun:
    """Run a camera (default: the shipped one) and its publisher with the cloud in the loop
    on `clip` as `footage` plays it; each verdict is applied `verdict_delay_s` seconds of
    the clip after its hard case (0: before the next frame)."""
    cam, model = shipped_person_camera() if camera is None else camera
    model = model.model_copy(update={"num_threads": threads})
    analyzer = FrameAnalyzer(cam, model, build_detector(model), redactor=redactor)
    stats = Stats()
    bus = _DiscardBus()
    topics = Topics("bench")
    events = Events(bus=bus, topics=topics, stats=stats, gateway_id="bench")
    cam_stats = CameraStats(stats, cam.id)
    publisher = CameraPublisher(
        camera=cam,
        events=events,
        bus=bus,
        topics=topics,
        stats=cam_stats,
        remember_ended=1_000_000,
        measure_latency=False,  # frame times are the clip's clock; the bench times itself
    )
    sink = VerdictSink(publisher, cam_stats)
    pending: list[Event] = []
    run = HybridRun(TrackRecorder(), publisher, sink, 0, 0.0)

    def capture(event: Event) -> None:
        if event.kind in (Kind.VISION_DETECTION, Kind.VISION_HARD_CASE):
            run.events_bytes += len(event.to_json())
        if event.kind == Kind.VISION_DETECTION:
            run.detection_bytes += len(event.to_json())
            if run.arrival is not None:
                run.event_ms.append((time.perf_counter() - run.arrival) * 1000)
        if event.kind == Kind.VISION_HARD_CASE:
            pending.append(event)
            if run.arrival is not None:
                run.case_arrival[event.id] = run.arrival

    events.add_sink(capture)
    events.add_sink(sink)
    publish_verdict = VerdictPublisher(events=events, bus=bus, topics=topics)
    router = EventRouter(("*",), ())
    judge = make_judge(judge_kind, name=PERSON)
    namer = make_namer()
    loop = asyncio.get_running_loop()
    port: asyncio.Future[int] = loop.create_future()
    with EventSink(":memory:") as cloud_sink:
        server = asyncio.create_task(
            serve(
                "127.0.0.1",
                0,
                models={PERSON: judge, NAMING_MODEL_NAME: namer},
                sink=cloud_sink,
                no_auth=True,  # loopback, this process only
                on_started=port.set_result,
            ),
            name="cloud-server",
        )
        try:
            async with asyncio.timeout(30):
                bound = await port
            async with OipClient(f"http://127.0.0.1:{bound}", timeout=60) as oip:
                cloud = _Cloud(router, oip, PERSON, publish_verdict, run, verdict_delay_s)
                ts = 0.0
                due = _DetectClock(cam.detect_fps)
                played = footage_frames(read_video(str(clip), frames), footage)
                for index, image in enumerate(played):
                    run.width = image.shape[1]
                    ts = index / VTEST_FPS
                    if not due(ts):  # detect_fps: the camera worker skips this frame
                        run.recorder.record(index, run.held)
                        run.frames = index + 1
                        continue
                    run.arrival = time.perf_counter()
                    t0 = time.process_time()
                    outcome = analyzer.process(image, ts)
                    run.cpu_s += time.process_time() - t0
                    run.processed += 1
                    run.detector_calls += outcome.detector_calls
                    run.recorder.record(index, outcome.active)
                    run.held = outcome.active
                    for report in outcome.ended:
                        run.ended_best[report.track.id] = report.track.best_score
                    publisher.handle(outcome)
                    run.arrival = None
                    await cloud.judge(pending, ts)
                    run.frames = index + 1
                last = analyzer.flush(ts + 1.0)
                for report in last.ended:
                    run.ended_best[report.track.id] = report.track.best_score
                publisher.handle(last)
                await cloud.judge(pending, ts + 1.0)
                cloud.release(math.inf)  # the verdicts still on their way
                run.allcloud = await _all_cloud(
                    oip,
                    PERSON,
                    clip,
                    frames=run.frames,
                    quality=quality,
                    samples=allcloud_frames,
                    footage=footage,
                )
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
    return run


@dataclass(slots=True, frozen=True)
class _Held:
    """A verdict on its way back: applied once the clip reaches `due`."""

    due: float
    verdict: Verdict


@dataclass(slots=True, frozen=True)
class _Cloud:
    """The uplink's path for hard cases: outbox item, OIP call, verdict event."""

    router: EventRouter
    oip: OipClient
    model: str
    publish: VerdictPublisher
    run: HybridRun
    delay_s: float = 0.0
    """Clip seconds between a hard case and its verdict being applied (a slow link, an
    outage's backlog); the OIP call itself is made at once and timed as such."""
    held: list[_Held] = field(default_factory=list)

    def release(self, now: float) -> None:
        """Publish (the camera applies) every held verdict due by clip time `now`."""
        while self.held and self.held[0].due <= now:
            self.publish(self.held.pop(0).verdict)

    async def judge(self, pending: list[Event], now: float) -> None:
        """Send the waiting hard cases as the uplink does; publish each verdict once
        `delay_s` of the clip has passed (at once with no delay)."""
        await self._ask(pending, now)
        self.release(now)

    async def _ask(self, pending: list[Event], now: float) -> None:
        while pending:
            event = pending.pop(0)
            item = self.router.to_item(event)
            assert item is not None
            assert item.media is not None
            case = HardCase.from_payload(item.payload)
            self.run.crops.append(item.media)
            request = build_hard_case_request(
                item.media, hard_case_id=case.id, label=case.label, score=case.score
            )
            t0 = time.perf_counter()
            model = NAMING_MODEL_NAME if case.label == UNKNOWN_LABEL else self.model
            response = await self.oip.infer(model, request)
            ms = (time.perf_counter() - t0) * 1000
            self.run.round_trip_ms.append(ms)
            verdict = verdict_from_response(
                case,
                response,
                min_score=VERDICT_MIN_SCORE,
                reject_score=VERDICT_REJECT_SCORE,
                round_trip_ms=ms,
            )
            if self.delay_s > 0:
                self.held.append(_Held(now + self.delay_s, verdict))  # applied by release()
            else:
                self.publish(verdict)  # the camera's VerdictSink applies it here
            arrived = self.run.case_arrival.pop(event.id, None)
            if arrived is not None:
                self.run.verdict_ms.append((time.perf_counter() - arrived) * 1000)
                self.run.verdict_crop_bytes.append(len(item.media))


def hybrid_paths(run: HybridRun, fps: float) -> list[TrackPath]:
    """The tracks the corrected event stream reports (people only)."""
    out: list[TrackPath] = []
    for path in run.recorder.paths():
        a = run.publisher.corrected(path.id)
        if a is None or a.retracted or a.track is None:
            continue  # dropped by the band, or retracted by the cloud
        if (a.cloud_label or a.track.label) != PERSON:
            continue
        if a.place is None or a.split_at is None:
            out.append(path)
            continue
        split_frame = round(a.split_at * fps)
        if split_frame > max(path.boxes, default=0):  # judged after it ended: its whole life
            split_frame = min(path.boxes, default=0)
        own = {f: (a.place.within(b) if f >= split_frame else b) for f, b in path.boxes.items()}
        out.append(TrackPath(path.id, own))
        for child in a.children:
            if child.retracted:
                continue
            boxes = {f: child.place.within(b) for f, b in path.boxes.items() if f >= split_frame}
            out.append(TrackPath(child.id, boxes))
    return out


def edge_paths(run: HybridRun, band: Band) -> list[TrackPath]:
    """The tracks the edge alone reports: every one its configured band does not drop."""
    keep = {
        tid for tid, best in run.ended_best.items() if band.decide(best) is not Decision.DROPPED
    }
    return [p for p in run.recorder.paths() if p.id in keep]


def unknown_names(run: HybridRun) -> dict[str, int]:
    """The labels the cloud gave unknown-object tracks (`objects.unknown`), with counts."""
    names: dict[str, int] = {}
    for a in run.publisher.named_unknowns():
        names[a] = names.get(a, 0) + 1
    return dict(sorted(names.items()))


def all_cloud_bytes(
    clip: Path, frames: int | None, quality: int, footage: Footage = Footage.AS_SHOT
) -> int:
    """Bytes of every frame (as `footage` plays them) as a JPEG at `quality`."""
    played = footage_frames(read_video(str(clip), frames), footage)
    return sum(len(encode_jpeg(image, quality)) for image in played)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Parse the command line."""
    p = argparse.ArgumentParser(prog="python -m bench.hybrid", description=__doc__.split("\n")[0])
    p.add_argument("--clip", type=Path, help="video file (default: vtest.avi, fetched once)")
    p.add_argument("--frames", type=int, help="only the first N frames")
    p.add_argument("--quality", type=int, default=80, help="all-cloud JPEG quality (default 80)")
    p.add_argument("--threads", type=int, default=2, help="edge interpreter threads")
    p.add_argument("--mot-out", type=Path, help="write the hybrid's tracks (MOT Challenge)")
    p.add_argument("--edge-mot-out", type=Path, help="write the edge-only tracks (MOT)")
    p.add_argument("--out", type=Path, default=RESULTS, help="results directory")
    p.add_argument(
        "--allcloud-frames",
        type=int,
        default=40,
        help="frames sent whole to the cloud to time all-cloud (default 40)",
    )
    p.add_argument("--config", type=Path, help="take the `costs:` section of this gateway config")
    p.add_argument(
        "--footage",
        type=Footage,
        choices=tuple(Footage),
        default=Footage.AS_SHOT,
        help="play the clip as shot (default), mirrored or reversed (lab.playback); the truth "
        "moves with it, and the report goes to hybrid-<footage>.json",
    )
    which = p.add_mutually_exclusive_group()
    which.add_argument(
        "--camera",
        choices=sorted(CAMERAS),
        default="strong",
        help="strong: configs/gateway.example.yaml's camera (default); cheap: "
        "configs/cheap-edge.yaml's (whole frame, low threshold, wide band)",
    )
    which.add_argument(
        "--camera-config", type=Path, help="use the first camera with a model of this config"
    )
    p.add_argument(
        "--sweep",
        action="store_true",
        help="cheap and strong, edge-only and with the cloud: sweep.json and sweep.png",
    )
    p.add_argument(
        "--verdict-delay",
        type=float,
        default=0.0,
        metavar="S",
        help="apply each verdict S seconds of the clip after its hard case, as over a slow "
        "link or after an outage (default 0: before the next frame); the report goes to "
        "hybrid[-<footage>]-delay<S>s.json",
    )
    p.add_argument(
        "--judge",
        choices=tuple(JUDGE_MODELS),
        default=DEFAULT_JUDGE,
        help=f"the cloud's hard-case judge (default {DEFAULT_JUDGE})",
    )
    return p.parse_args(argv)


CONFIGS = Path(__file__).resolve().parents[1] / "configs"
CAMERAS = {"strong": CONFIGS / "gateway.example.yaml", "cheap": CONFIGS / "cheap-edge.yaml"}
"""The cameras `--camera` names: the first camera with a model of each config."""


def config_camera(path: Path) -> tuple[CameraConfig, ModelConfig]:
    """The first camera with a model in the gateway config at `path`, and its model."""
    config = load_config(path)
    models = {m.id: m for m in config.models}
    for cam in config.cameras:
        if cam.model is not None and cam.model in models:
            return cam, models[cam.model]
    msg = f"{path}: no camera with a model"
    raise SystemExit(msg)


def chosen_camera(args: argparse.Namespace) -> tuple[CameraConfig, ModelConfig]:
    """The camera and model `--camera` / `--camera-config` name."""
    if args.camera_config is not None:
        return config_camera(args.camera_config)
    return named_camera(args.camera)


def named_camera(name: str) -> tuple[CameraConfig, ModelConfig]:
    """The camera and model `--camera NAME` runs (one of `CAMERAS`)."""
    return shipped_person_camera() if name == "strong" else config_camera(CAMERAS[name])
