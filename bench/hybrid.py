"""Edge vs cloud on vtest.avi, scored against the hand-verified truth (lab/truth/vtest).

    python -m bench.hybrid [--frames N] [--mot-out PATH] [--edge-mot-out PATH]
                           [--camera strong|cheap | --camera-config PATH] [--sweep]

- Camera: `--camera strong` (default) is the shipped camera below; `--camera cheap` the
  first camera of configs/cheap-edge.yaml (whole frame, no motion regions, low threshold,
  wide band); `--camera-config PATH` the first camera with a model of any gateway config.
  A camera's `detect_fps` below the clip's 10 fps is honoured on the clip's clock: the
  frames in between are not processed, and the tracks of the last processed frame stand
  for them in the scores (what the gateway reports until its next look).
- `--sweep` (`bench.sweep`): cheap and strong, each edge-only and with the cloud, on the
  same frames, side by side; writes sweep.json and sweep.png instead of hybrid.json.

- Edge: the shipped camera of configs/gateway.example.yaml (the bundled SSDLite person
  detector on motion regions plus a periodic whole-frame look, the Kalman tracker, faces
  blurred on crops and snapshots), as `bench.vision_pipeline` runs it, frame by frame on
  the clip's own clock.
- Edge only: every track the configured band does not drop.
- Hybrid: the gateway's own `CameraPublisher` on the same frames. Each `vision.hard_case`
  it emits (up to `escalation.max_crops` per track: first sight, shape change, end) goes
  as the outbox would send it, through the Open Inference Protocol client, to the
  reference cloud (`refcloud.serve`, loopback, this process) hosting the default judge
  (`refcloud.judges.DEFAULT_JUDGE`, or `--judge`); the answer becomes a `cloud.verdict`
  event (`VerdictPublisher`) that the camera's `VerdictSink` applies, before the next
  frame. The hybrid reports what the corrected event stream says: retracted tracks are
  gone, relabelled ones carry the cloud's label (only `person` is scored), a split track
  is one track per person from the frame of its split (each box placed inside the
  track's box as the cloud saw it; over the track's whole life when the verdict came
  after it ended, as the split's events then describe it).
- All-cloud: every frame as a JPEG at `--quality` (the uplink a cloud-only design needs).
- Uplink: the hard-case crops plus every `vision.detection`/`vision.hard_case` event's
  JSON, over the all-cloud bytes.
- Latency: frame handed to the edge -> its `vision.detection` events emitted (p50/p99,
  `latency_p50_ms`/`latency_p99_ms`), and a hard case's frame -> its verdict applied
  (loopback) plus the network model (`costs.coefficients.network_rtt_ms`, the crop at
  `uplink_mbps`). All-cloud: `--allcloud-frames` frames of the clip spread over it, each
  as a JPEG at `--quality` to the same reference cloud (upload + inference on loopback)
  plus the network model for its size (`allcloud_latency_p50_ms`).
- Compute, energy, money (`gateway.costs.estimate`, coefficients of `costs:` in
  `--config`, default the built-in table, docs/costs.md): edge CPU seconds (measured),
  cloud seconds (hybrid: its measured round trips; all-cloud: the sampled frames' mean
  times every frame), per hour of video; `energy_ratio` and `cost_ratio` are hybrid over
  all-cloud.
- Faces: the full-range face detector (BlazeFace, `blazeface_full`) at 0.5 on every
  uploaded crop as sent (`faces_in_uploads_after`) and on the same crop cut without
  redaction (`faces_in_uploads_before`).

Scores: py-motmetrics IDF1 (lab.mot) and the one-to-one event rule (lab.evaluation).
The last stdout line is the JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from apps.demo.comparison import AllCloudCall
from bench.vision_pipeline import VTEST_FPS, read_video, shipped_person_camera
from cloud_bridge.oip import OipClient, build_hard_case_request
from cloud_bridge.uplink import HardCase, verdict_from_response
from devices.cameras import Image, encode_jpeg
from gateway.cloudlink.sink import EventRouter
from gateway.cloudlink.verdicts import VerdictPublisher
from gateway.config import MqttConfig, load_config
from gateway.config.cloud import CloudSection
from gateway.config.costs import CostsSection
from gateway.config.vision import CameraConfig, ModelConfig
from gateway.costs.estimate import Comparison, Usage, compare, latency
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
from gateway.vision.redact import FACE_MODEL, FaceRedactor, Redacted, find_faces
from gateway.vision.tracker import Track
from lab.evaluation import TrackPath, TrackRecorder, match_events
from lab.footage import fetch_vtest
from lab.mot import score_mot, write_mot
from lab.truth import vtest_truth
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
FACE_CHECK = 0.5
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
    oip: OipClient, model: str, clip: Path, *, frames: int, quality: int, samples: int
) -> list[AllCloudCall]:
    """Send `samples` frames spread over the clip whole, as all-cloud would; time each."""
    if samples <= 0 or frames <= 0:
        return []
    step = max(1, frames // samples)
    out: list[AllCloudCall] = []
    for index, image in enumerate(read_video(str(clip), frames)):
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
) -> HybridRun:
    """Run a camera (default: the shipped one) and its publisher with the cloud in the loop."""
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
                cloud = _Cloud(router, oip, PERSON, publish_verdict, run)
                ts = 0.0
                due = _DetectClock(cam.detect_fps)
                for index, image in enumerate(read_video(str(clip), frames)):
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
                    await cloud.judge(pending)
                    run.frames = index + 1
                last = analyzer.flush(ts + 1.0)
                for report in last.ended:
                    run.ended_best[report.track.id] = report.track.best_score
                publisher.handle(last)
                await cloud.judge(pending)
                run.allcloud = await _all_cloud(
                    oip,
                    PERSON,
                    clip,
                    frames=run.frames,
                    quality=quality,
                    samples=allcloud_frames,
                )
        finally:
            server.cancel()
            await asyncio.gather(server, return_exceptions=True)
    return run


@dataclass(slots=True, frozen=True)
class _Cloud:
    """The uplink's path for hard cases: outbox item, OIP call, verdict event."""

    router: EventRouter
    oip: OipClient
    model: str
    publish: VerdictPublisher
    run: HybridRun

    async def judge(self, pending: list[Event]) -> None:
        """Send the waiting hard cases as the uplink does; publish each verdict."""
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


def count_faces(detector: Detector, jpeg: bytes) -> int:
    """Faces the full-range detector finds at `FACE_CHECK` or above in a JPEG."""
    image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        return 0
    return len(find_faces(detector, np.asarray(image, np.uint8), FACE_CHECK))


def all_cloud_bytes(clip: Path, frames: int | None, quality: int) -> int:
    """Bytes of every frame as a JPEG at `quality`."""
    return sum(len(encode_jpeg(image, quality)) for image in read_video(str(clip), frames))


def _r(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)


def bench_comparison(
    run: HybridRun, cloud_bytes: int, uplink: int, costs: CostsSection
) -> Comparison:
    """The three modes of this run, per hour of video, with `costs`' coefficients."""
    video_s = run.frames / VTEST_FPS
    sampled = [c.round_trip_ms for c in run.allcloud]
    s_per_frame = (
        sum(sampled) / len(sampled) / 1000 if sampled else costs.coefficients.allcloud_s_per_frame
    )
    usages = [
        Usage("hybrid", video_s, run.cpu_s, uplink, len(run.crops), sum(run.round_trip_ms) / 1000),
        Usage("edge_only", video_s, run.cpu_s, run.detection_bytes, 0, 0.0),
        Usage("all_cloud", video_s, 0.0, cloud_bytes, run.frames, s_per_frame * run.frames, False),
    ]
    edge = "frame handed to the edge -> vision.detection event emitted"
    latencies = {
        "hybrid_event": latency(run.event_ms, what=edge),
        "hybrid_verdict": latency(
            run.verdict_ms,
            what="hard case's frame -> verdict applied (loopback) + network model (its crop)",
            costs=costs,
            request_bytes=run.verdict_crop_bytes,
        ),
        "edge_only_event": latency(run.event_ms, what=edge),
        "all_cloud": latency(
            sampled,
            what=f"frame upload + cloud inference on loopback ({len(sampled)} frames) "
            "+ network model (its JPEG)",
            costs=costs,
            request_bytes=[c.request_bytes for c in run.allcloud],
        ),
    }
    return compare(usages, latencies, costs)


def comparison_lines(c: Comparison) -> list[str]:
    """The three modes per hour of video, as a small table."""
    cur = c.costs.currency
    lines = [
        f"per hour of video ({c.costs.board}, {c.costs.radio}, {c.costs.cloud} cloud):",
        f"{'mode':<11}{'alert p50':>10}{'p99':>9}{'up MB':>9}{'calls':>7}{'edge CPU s':>11}"
        f"{'cloud s':>9}{'kJ':>8}{cur:>9}",
    ]
    for mode, e in c.estimates.items():
        lat = c.latencies["all_cloud" if mode == "all_cloud" else f"{mode}_event"]
        u = e.usage
        p50 = "-" if lat.p50_ms is None else f"{lat.p50_ms:.1f}"
        p99 = "-" if lat.p99_ms is None else f"{lat.p99_ms:.1f}"
        lines.append(
            f"{mode:<11}{p50:>10}{p99:>9}{u.uplink_bytes / 1e6:>9.2f}{u.cloud_calls:>7.0f}"
            f"{u.edge_cpu_s:>11.1f}{u.cloud_s:>9.1f}{e.total_j.value / 1000:>8.1f}"
            f"{e.total_cost.value:>9.4f}"
        )
    v = c.latencies["hybrid_verdict"]
    lines.append(
        f"hybrid verdict p50 {v.p50_ms} ms, p99 {v.p99_ms} ms; energy ratio "
        f"{c.energy_ratio}, cost ratio {c.cost_ratio} (hybrid / all-cloud)"
    )
    return lines


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


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table and the JSON summary line."""
    args = parse_args(argv)
    if args.sweep:
        from bench.sweep import run_sweep  # bench.sweep runs this module's functions

        return run_sweep(args)
    started = time.perf_counter()
    clip = args.clip if args.clip is not None else fetch_vtest()
    camera = chosen_camera(args)
    cam = camera[0]
    face_detector = Detector.from_catalogue(FACE_MODEL, num_threads=1, score_threshold=0.1)
    redactor = RecordingRedactor(
        Detector.from_catalogue(FACE_MODEL, num_threads=1, score_threshold=0.1),
        threshold=cam.privacy.face_threshold,
        quality=cam.events.crop_quality,
    )
    costs = load_config(args.config).costs if args.config is not None else CostsSection()
    run = asyncio.run(
        run_hybrid(
            clip,
            args.frames,
            args.threads,
            redactor,
            allcloud_frames=args.allcloud_frames,
            quality=args.quality,
            camera=camera,
            judge_kind=args.judge,
        )
    )
    frames = range(run.frames)
    truth = [p for p in vtest_truth() if any(f < run.frames for f in p.boxes)]
    band = Band(cam.escalation.low, cam.escalation.high, cam.escalation.group_aspect)
    edge = edge_paths(run, band)
    hybrid = hybrid_paths(run, VTEST_FPS)
    if args.mot_out is not None:
        write_mot(hybrid, args.mot_out)
    if args.edge_mot_out is not None:
        write_mot(edge, args.edge_mot_out)
    scores = {}
    for name, paths in (("edge only", edge), ("hybrid", hybrid)):
        mot = score_mot(truth, paths, frames=frames)
        ev = match_events(paths, truth)
        scores[name] = (mot, ev, len(paths))
    cloud_bytes = all_cloud_bytes(clip, args.frames, args.quality)
    crop_bytes = sum(len(c) for c in run.crops)
    uplink = crop_bytes + run.events_bytes
    before = after = 0
    for jpeg in run.crops:
        after += count_faces(face_detector, jpeg)
        raw = redactor.raw.get(jpeg)
        if raw is not None:
            before += count_faces(face_detector, encode_jpeg(raw, cam.events.crop_quality))
    results = run.sink.results
    comparison = bench_comparison(run, cloud_bytes, uplink, costs)
    elapsed = time.perf_counter() - started
    print(f"{run.frames} frames, {len(truth)} people in the truth; edge CPU {run.cpu_s:.1f} s")
    print(f"{'mode':<12}{'tracks':>7}{'recall':>8}{'prec':>7}{'IDF1':>7}{'MOTA':>7}{'IDsw':>6}")
    for name, (mot, ev, n) in scores.items():
        print(
            f"{name:<12}{n:>7}{ev.recall:>8.3f}{ev.precision:>7.3f}{mot.idf1:>7.3f}"
            f"{mot.mota:>7.3f}{mot.id_switches:>6}"
        )
    print(
        f"uplink {uplink} B ({crop_bytes} B in {len(run.crops)} crops) = "
        f"{100 * uplink / cloud_bytes:.3f}% of all-cloud {cloud_bytes} B"
    )
    print(f"verdicts: {results}; band now [{run.publisher.band.low}, {run.publisher.band.high})")
    print(f"faces in uploaded crops: {before} before redaction, {after} after")
    for line in comparison_lines(comparison):
        print(line)
    edge_mot, edge_ev, _ = scores["edge only"]
    hyb_mot, hyb_ev, _ = scores["hybrid"]
    summary: dict[str, Any] = {
        "uplink_ratio": round(uplink / cloud_bytes, 6),
        "event_recall": round(hyb_ev.recall, 4),
        "event_precision": round(hyb_ev.precision, 4),
        "idf1": round(hyb_mot.idf1, 4),
        "cloud_calls": len(run.crops),
        "edge_only_event_recall": round(edge_ev.recall, 4),
        "edge_only_event_precision": round(edge_ev.precision, 4),
        "edge_only_idf1": round(edge_mot.idf1, 4),
        "confirmed": results.get("confirmed", 0),
        "rejected": results.get("rejected", 0),
        "relabelled": results.get("relabelled", 0),
        "split": results.get("split", 0),
        "unsure": results.get("unsure", 0),
        "unknown_named": sum(unknown_names(run).values()),
        "unknown_names": unknown_names(run),
        "faces_in_uploads_before": before,
        "faces_in_uploads_after": after,
        "band": [run.publisher.band.low, run.publisher.band.high],
        "latency_p50_ms": _r(comparison.latencies["hybrid_event"].p50_ms, 2),
        "latency_p99_ms": _r(comparison.latencies["hybrid_event"].p99_ms, 2),
        "verdict_latency_p50_ms": _r(comparison.latencies["hybrid_verdict"].p50_ms, 2),
        "allcloud_latency_p50_ms": _r(comparison.latencies["all_cloud"].p50_ms, 2),
        "energy_ratio": _r(comparison.energy_ratio, 6),
        "cost_ratio": _r(comparison.cost_ratio, 6),
    }
    report = {
        "command": "python -m bench.hybrid " + " ".join(sys.argv[1:] if argv is None else argv),
        "clip": str(clip),
        "frames": run.frames,
        "truth_tracks": len(truth),
        "all_cloud_bytes": cloud_bytes,
        "uplink_bytes": uplink,
        "crop_bytes": crop_bytes,
        "event_bytes": run.events_bytes,
        "edge_cpu_s": round(run.cpu_s, 2),
        "round_trip_ms_median": round(float(np.median(run.round_trip_ms)), 1)
        if run.round_trip_ms
        else None,
        "verdict_results": results,
        "costs": {
            "measured": {
                "video_s": run.frames / VTEST_FPS,
                "edge_cpu_s": run.cpu_s,
                "detection_bytes": run.detection_bytes,
                "hybrid_round_trips_ms": run.round_trip_ms,
                "allcloud_samples": [asdict(c) for c in run.allcloud],
            },
            **comparison.to_json(),
        },
        "runtime_s": round(elapsed, 1),
        "summary": summary,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "hybrid.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(f"runtime {elapsed:.0f}s; wrote {args.out / 'hybrid.json'}")
    print(json.dumps(summary, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
