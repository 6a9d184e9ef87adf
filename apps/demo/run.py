"""Run the demo: reference cloud, gateway (with its embedded broker), simulator and camera.

Everything runs on this process's loop: the cloud's judge and the camera's model work in
worker threads, as in production. The order is the dependency order: the cloud first
(the gateway's uplink points at it), then the gateway (which starts the broker), then
the devices; they stop in reverse, after a short drain so the last hard cases are judged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from apps.demo.comparison import AllCloudCall, probe_all_cloud
from apps.demo.faces import FacesProof, check_uploads
from apps.demo.prepare import (
    DemoError,
    DemoOptions,
    Endpoint,
    camera_topic,
    demo_config,
    fetch_assets,
    pick_port,
)
from apps.demo.progress import ProgressView, metric, progress_lines
from apps.demo.recorder import Recorder
from apps.simulator import make_fleet, simulate
from apps.simulator.camera import stream_video
from gateway.cloudlink.sink import EventRouter
from gateway.config import GatewayConfig, load_config
from gateway.errors import ConfigError, EdgegwError
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from gateway.stats_registry import SnapshotValue

__all__ = ["DemoResult", "run_demo"]

log = logging.getLogger(__name__)

CLIP_S = 79.5  # vtest.avi: 795 frames at 10 fps
NO_CAMERA_S = 60.0
_START_TIMEOUT_S = 60.0
_INTERRUPTED_DRAIN_S = 3.0
EMPTY_TAIL_S = 1.5
"""The camera ends on this much of the empty scene, so the last tracks end and are judged."""

Say = Callable[[str], None]


@dataclass(slots=True, frozen=True)
class DemoResult:
    """What a run produced: the config it ran, what it recorded and the final stats."""

    config: GatewayConfig
    recorder: Recorder
    metrics: dict[str, SnapshotValue]
    elapsed_s: float
    interrupted: bool
    broker: str
    cloud: str
    camera: str | None
    cloud_stored: int | None
    """Events the local reference cloud stored (None with an external cloud)."""
    problems: list[str]
    """What went wrong on the way (a simulated device that failed)."""
    all_cloud: list[AllCloudCall]
    """Whole frames sent to the reference cloud after the run (empty: not measured)."""
    faces: FacesProof | None = None
    """Faces found in the uploaded crops after the run (None: no camera, or no face model)."""


@dataclass(slots=True, frozen=True)
class _LocalCloud:
    url: str
    token: str
    """A fresh bearer token per run: the cloud never answers without one."""
    stored: Callable[[], int]


@contextlib.asynccontextmanager
async def _local_cloud(db: Path, model: str) -> AsyncIterator[_LocalCloud]:
    """The reference cloud (the served judge + event sink) on a free loopback port."""
    from refcloud import EventSink, serve
    from refcloud.judges import DEFAULT_JUDGE, NAMING_MODEL_NAME, make_judge, make_namer

    judge = await asyncio.to_thread(make_judge, DEFAULT_JUDGE, name=model)
    namer = await asyncio.to_thread(make_namer)
    loop = asyncio.get_running_loop()
    token = secrets.token_urlsafe(24)
    with EventSink(db) as sink:
        bound: asyncio.Future[int] = loop.create_future()
        server = asyncio.create_task(
            serve(
                "127.0.0.1",
                0,
                models={model: judge, NAMING_MODEL_NAME: namer},
                sink=sink,
                token=token,
                on_started=bound.set_result,
            ),
            name="demo-cloud",
        )
        try:
            waiting: set[asyncio.Future[Any]] = {server, bound}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not bound.done():
                server.result()  # raises why it stopped
                raise DemoError("the reference cloud stopped before listening")
            yield _LocalCloud(f"http://127.0.0.1:{bound.result()}", token, sink.count)
        finally:
            server.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await server


async def _until_connected(gateway: Gateway) -> None:
    await gateway.started.wait()
    assert gateway.bus is not None
    await gateway.bus.connected.wait()


async def _wait_started(gateway: Gateway, task: asyncio.Task[None]) -> None:
    """Wait until the gateway runs and its subscriptions are in place (or it failed)."""
    # The devices start only then: what they publish before the gateway has subscribed is
    # lost, and amqtt 0.12.1 was seen to deliver nothing at all to a subscriber that
    # subscribed while a camera was already flooding it.
    ready = asyncio.create_task(_until_connected(gateway), name="demo-gateway-ready")
    try:
        await asyncio.wait(
            {ready, task}, timeout=_START_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        ready.cancel()
    if task.done():
        task.result()  # raises the gateway's error
        raise DemoError("the gateway stopped while starting")
    if gateway.bus is None or not gateway.bus.connected.is_set():
        why = "; ".join(gateway.health_problems()) or "no reason given"
        msg = f"the gateway did not connect within {_START_TIMEOUT_S:.0f} s ({why})"
        raise DemoError(msg)


def _clean(state_dir: Path) -> None:
    state_dir.mkdir(parents=True, exist_ok=True)
    for stem in ("outbox.db", "cloud-events.db"):
        for suffix in ("", "-wal", "-shm"):
            (state_dir / f"{stem}{suffix}").unlink(missing_ok=True)


async def _drain(
    gateway: Gateway, recorder: Recorder, deadline_s: float, stop: asyncio.Event
) -> None:
    """Wait until every hard case has its verdict and the outbox is empty (or time is up)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        metrics = gateway.stats.snapshot()
        waiting = metric(metrics, "cloud_outbox_depth") + metric(metrics, "mqtt_queue_depth")
        if recorder.pending() == 0 and waiting == 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(0.25):
                await stop.wait()  # a second Ctrl-C skips the drain
                return


async def run_demo(options: DemoOptions, stop: asyncio.Event, say: Say = print) -> DemoResult:
    """Run the whole demo until the clip ends, `duration_s` passes or `stop` is set."""
    state_dir = options.out_dir / "state"
    _clean(state_dir)
    own_cloud = options.cloud_url is None
    vtest = await asyncio.to_thread(fetch_assets, camera=options.camera, cloud=own_cloud, say=say)
    async with contextlib.AsyncExitStack() as stack:
        cloud: _LocalCloud | None = None
        if own_cloud:
            say("cloud: starting the reference cloud (person and naming judges, event sink) ...")
            cloud = await stack.enter_async_context(
                _local_cloud(state_dir / "cloud-events.db", "person")
            )
        cloud_url = cloud.url if cloud is not None else str(options.cloud_url)
        token = cloud.token if cloud is not None else None
        config, broker = _configure(options, cloud_url, state_dir, token)
        cam = camera_topic(config) if vtest is not None else None
        recorder = Recorder(EventRouter.from_config(config.cloud))
        gateway = build_gateway(config)
        gw_stop = asyncio.Event()
        gw_task = asyncio.create_task(gateway.run(gw_stop), name="demo-gateway")
        stack.push_async_callback(_stop_gateway, gw_task, gw_stop)
        say(f"gateway: starting with {config.mqtt.broker} broker on {broker} ...")
        await _wait_started(gateway, gw_task)
        assert gateway.events is not None
        gateway.events.add_sink(recorder)
        say(f"gateway: up; cloud at {cloud_url}; stats on /metrics port {config.stats.http_port}")

        total_s = options.duration_s or (CLIP_S if cam is not None else NO_CAMERA_S)
        tasks = _start_devices(
            options,
            broker,
            total_s=total_s,
            recorder=recorder,
            vtest=vtest,
            topic=cam[1] if cam else None,
        )
        started = time.monotonic()
        draining = False

        def lines() -> list[str]:
            elapsed = time.monotonic() - started
            phase = "waiting for the last verdicts" if draining else "Ctrl-C stops and reports"
            return progress_lines(
                gateway.stats.snapshot(),
                recorder,
                camera=cam[0] if cam else None,
                elapsed_s=elapsed,
                total_s=total_s,
                phase=phase,
            )

        view = ProgressView(lines, live=options.live)
        progress = asyncio.create_task(view.run(), name="demo-progress")
        interrupted = await _wait_for_end(stop, tasks, total_s)
        problems = await _stop_devices(tasks)
        if interrupted:
            stop.clear()
        draining = True
        await _drain(
            gateway,
            recorder,
            _INTERRUPTED_DRAIN_S if interrupted else options.drain_s,
            stop,
        )
        progress.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await progress
        elapsed = time.monotonic() - started
        metrics = gateway.stats.snapshot()
        all_cloud: list[AllCloudCall] = []
        frames = recorder.sample_frames(options.allcloud_samples)
        if cloud is not None and frames and not interrupted:
            say(f"cloud: timing {len(frames)} whole frames as all-cloud would send them ...")
            all_cloud = await probe_all_cloud(cloud.url, cloud.token, config.cloud.model, frames)
        stored = await asyncio.to_thread(cloud.stored) if cloud is not None else None
    return DemoResult(
        config=config,
        recorder=recorder,
        metrics=metrics,
        elapsed_s=elapsed,
        interrupted=interrupted,
        broker=f"{config.mqtt.broker} {broker}",
        cloud=("reference (in process) " if own_cloud else "external ") + cloud_url,
        camera=cam[0] if cam else None,
        cloud_stored=stored,
        problems=problems,
        all_cloud=all_cloud,
        faces=await _check_faces(config, recorder, cam[0] if cam else None, problems, say),
    )


async def _check_faces(
    config: GatewayConfig, recorder: Recorder, camera: str | None, problems: list[str], say: Say
) -> FacesProof | None:
    """Run the face detector on every uploaded crop (None: no camera or no face model)."""
    cam = next((c for c in config.cameras if c.id == camera), None)
    if cam is None:
        return None
    if recorder.hard_cases:
        say(f"faces: looking for faces in the {len(recorder.hard_cases)} uploaded crops ...")
    try:
        return await asyncio.to_thread(check_uploads, recorder, cam.events.crop_quality)
    except (EdgegwError, OSError) as exc:
        log.warning("faces check failed: %s", exc)
        problems.append(f"the faces check could not run: {exc}")
        return None


def _configure(
    options: DemoOptions, cloud_url: str, state_dir: Path, cloud_token: str | None
) -> tuple[GatewayConfig, Endpoint]:
    """The run's config and broker: the file's ports when free, else free ones."""
    try:
        base = load_config(options.config)
    except ConfigError as exc:
        raise DemoError(str(exc)) from exc
    broker = options.broker or Endpoint(base.mqtt.host, pick_port(base.mqtt.host, base.mqtt.port))
    http = base.stats.http_port
    config = demo_config(
        options,
        broker=broker,
        cloud_url=cloud_url,
        http_port=pick_port(base.stats.http_host, http) if http is not None else None,
        state_dir=state_dir,
        cloud_token=cloud_token,
    )
    return config, broker


def _start_devices(
    options: DemoOptions,
    broker: Endpoint,
    *,
    total_s: float,
    recorder: Recorder,
    vtest: Path | None,
    topic: str | None,
) -> list[asyncio.Task[object]]:
    """Start the simulated sensors and, with a clip and a topic, the camera."""
    fleet = make_fleet(
        per_format=options.devices_per_format,
        interval_s=options.sensor_interval_s,
        silent_after_s=min(30.0, total_s / 2),  # one device goes quiet: device.offline
    )
    sensors = simulate(fleet, host=broker.host, port=broker.port, client_id="edgegw-demo-sensors")
    tasks: list[asyncio.Task[object]] = [asyncio.create_task(sensors, name="demo-sensors")]
    if vtest is not None and topic is not None:
        camera = stream_video(
            vtest,
            host=broker.host,
            port=broker.port,
            topic=topic,
            duration_s=options.duration_s,
            client_id="edgegw-demo-camera",
            empty_tail_s=EMPTY_TAIL_S,
            on_frame=recorder.on_frame,
        )
        tasks.append(asyncio.create_task(camera, name="demo-camera"))
    return tasks


async def _stop_devices(tasks: list[asyncio.Task[object]]) -> list[str]:
    """Stop the simulated devices; return why any of them failed."""
    # Python 3.11's asyncio.wait_for (which aiomqtt's publish awaits) can swallow a
    # cancellation that lands as the awaited future completes (CPython gh-86296), and the
    # camera then streams on: cancel until the tasks are really done.
    while pending := [t for t in tasks if not t.done()]:
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
    problems = []
    for task in tasks:
        exc = None if task.cancelled() else task.exception()
        if exc is not None:
            log.warning("%s failed: %r", task.get_name(), exc)
            problems.append(f"{task.get_name()} failed: {exc!r}")
    return problems


async def _wait_for_end(
    stop: asyncio.Event, tasks: list[asyncio.Task[object]], total_s: float
) -> bool:
    """Wait for Ctrl-C, the camera's end or `total_s`; True when interrupted."""
    stopper = asyncio.create_task(stop.wait(), name="demo-stop")
    camera = [t for t in tasks if t.get_name() == "demo-camera"]
    try:
        await asyncio.wait(
            {stopper, *camera},
            timeout=total_s + 5.0 if camera else total_s,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        stopper.cancel()
    return stop.is_set()


async def _stop_gateway(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    await task
