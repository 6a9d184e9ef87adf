"""The demo's "hybrid vs all-cloud" panel: the camera's run, measured, in the three modes.

Measured in the run (the camera `demo_cam`):

- hybrid and edge-only edge CPU: the camera worker thread's CPU seconds
  (`camera_cpu_seconds`; the demo process also hosts the broker, the cloud and the
  devices, so the process's CPU would not be the gateway's);
- latency: frame arrival -> local event (`camera_event_latency_ms_p50/p99`) and, for the
  hard cases, -> the cloud's verdict applied (`camera_verdict_latency_ms_*`, on loopback)
  plus the network model (`network_rtt_ms`, the mean crop at `uplink_mbps`);
- hybrid uplink: the camera's wire bytes (events and hard cases); edge-only: its events
  only; hybrid cloud seconds: the verdicts' measured round trips;
- all-cloud: after the run, `allcloud_samples` whole frames the camera sent go to the
  same reference cloud as hard-case requests; their round trips (upload + inference on
  loopback) give the seconds per call (times every frame sent) and, plus the network
  model per frame, the latency. Its uplink is every frame as the camera sent it.

Energy and money: `gateway.costs.estimate` with the config's `costs:` section.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from apps.demo.progress import metric
from apps.demo.recorder import Recorder
from cloud_bridge.oip import OipClient, build_hard_case_request
from gateway.config.costs import CostsSection
from gateway.costs.estimate import Comparison, Latency, Usage, compare, latency, network_ms
from gateway.stats_registry import SnapshotValue

__all__ = ["AllCloudCall", "DemoUsage", "demo_comparison", "probe_all_cloud"]


@dataclass(slots=True, frozen=True)
class AllCloudCall:
    """One whole frame sent to the cloud model: its size and the measured round trip."""

    request_bytes: int
    round_trip_ms: float


async def probe_all_cloud(
    url: str, token: str | None, model: str, frames: Sequence[bytes]
) -> list[AllCloudCall]:
    """Send each whole frame to the cloud model as all-cloud would; time each call."""
    calls: list[AllCloudCall] = []
    async with OipClient(url, token=token, timeout=120) as oip:
        for i, jpeg in enumerate(frames):
            request = build_hard_case_request(
                jpeg, hard_case_id=f"allcloud-{i}", label="person", score=0.0
            )
            t0 = time.perf_counter()
            await oip.infer(model, request)
            calls.append(AllCloudCall(len(jpeg), 1000 * (time.perf_counter() - t0)))
    return calls


@dataclass(slots=True, frozen=True)
class DemoUsage:
    """What the demo measured for one camera, before any coefficient is applied."""

    video_s: float
    edge_cpu_s: float
    events: int
    """The camera's events (the latency gauges keep the last 4096)."""
    frames: int
    frame_bytes: int
    events_bytes_up: int
    hard_case_bytes_up: int
    hard_cases: int
    crop_bytes_mean: float
    verdict_round_trips_ms: list[float]
    event_latency_ms: tuple[float, float] | None
    """(p50, p99) frame arrival -> local event, None: no event."""
    verdict_latency_ms: tuple[float, float] | None
    all_cloud: list[AllCloudCall]


def _pair(metrics: Mapping[str, SnapshotValue], name: str, camera: str) -> tuple[float, float]:
    return (metric(metrics, f"{name}_p50", camera), metric(metrics, f"{name}_p99", camera))


def demo_usage(
    recorder: Recorder,
    metrics: Mapping[str, SnapshotValue],
    camera: str,
    *,
    events_bytes_up: int,
    hard_case_bytes_up: int,
    all_cloud: list[AllCloudCall],
) -> DemoUsage:
    """Collect the camera's measured quantities from the recorder and the final stats."""
    crops = [len(c.crop) for c in recorder.hard_cases if c.camera == camera]
    trips = [
        float(v["round_trip_ms"])
        for v in recorder.verdicts.values()
        if v.get("camera") == camera and v.get("round_trip_ms") is not None
    ]
    events = metric(metrics, "camera_events_total", camera)
    return DemoUsage(
        video_s=recorder.video_s(),
        edge_cpu_s=metric(metrics, "camera_cpu_seconds_total", camera),
        events=int(events),
        frames=recorder.frames_sent,
        frame_bytes=recorder.camera_bytes,
        events_bytes_up=events_bytes_up,
        hard_case_bytes_up=hard_case_bytes_up,
        hard_cases=len(crops),
        crop_bytes_mean=sum(crops) / len(crops) if crops else 0.0,
        verdict_round_trips_ms=trips,
        event_latency_ms=_pair(metrics, "camera_event_latency_ms", camera) if events else None,
        verdict_latency_ms=_pair(metrics, "camera_verdict_latency_ms", camera) if trips else None,
        all_cloud=all_cloud,
    )


def _from_pair(
    pair: tuple[float, float] | None, samples: int, what: str, add_ms: float = 0.0
) -> Latency:
    if pair is None:
        return Latency(None, None, 0, (), what)
    uses = ("network_rtt_ms", "uplink_mbps") if add_ms else ()
    return Latency(pair[0] + add_ms, pair[1] + add_ms, samples, uses, what)


def demo_comparison(u: DemoUsage, costs: CostsSection) -> Comparison | None:
    """The three modes per hour of video (None: no video was sent)."""
    if u.video_s <= 0 or u.frames == 0:
        return None
    trips = u.verdict_round_trips_ms
    hybrid_cloud_s = (sum(trips) / len(trips) / 1000.0) * u.hard_cases if trips else 0.0
    s_per_frame = (
        sum(c.round_trip_ms for c in u.all_cloud) / len(u.all_cloud) / 1000.0
        if u.all_cloud
        else costs.coefficients.allcloud_s_per_frame
    )
    usages = [
        Usage(
            "hybrid",
            u.video_s,
            u.edge_cpu_s,
            u.events_bytes_up + u.hard_case_bytes_up,
            u.hard_cases,
            hybrid_cloud_s,
        ),
        Usage("edge_only", u.video_s, u.edge_cpu_s, u.events_bytes_up, 0, 0.0),
        Usage("all_cloud", u.video_s, 0.0, u.frame_bytes, u.frames, s_per_frame * u.frames, False),
    ]
    n_events = min(u.events, 4096)  # the gauges' window
    latencies = {
        "hybrid_event": _from_pair(
            u.event_latency_ms, n_events, "frame arrival -> local event (on the gateway)"
        ),
        "hybrid_verdict": _from_pair(
            u.verdict_latency_ms,
            len(trips),
            "hard case's frame arrival -> cloud verdict applied, loopback + network model "
            "(mean crop)",
            network_ms(u.crop_bytes_mean, costs),
        ),
        "edge_only_event": _from_pair(
            u.event_latency_ms, n_events, "frame arrival -> local event (on the gateway)"
        ),
        "all_cloud": latency(
            [c.round_trip_ms for c in u.all_cloud],
            what=f"frame upload + cloud inference on loopback ({len(u.all_cloud)} frames) "
            "+ network model per frame",
            costs=costs,
            request_bytes=[c.request_bytes for c in u.all_cloud],
        ),
    }
    return compare(usages, latencies, costs)
