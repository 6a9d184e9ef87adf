"""Running totals of the three modes on the gateway's stats (`<prefix>/stats`, `/metrics`).

Per mode (`hybrid`, `edge_only`, `all_cloud`), gauges labelled `mode=...`, computed when
the stats are collected from the counters the gateway already keeps:

- `estimate_video_seconds`: seconds since the meter started (every mode);
- `estimate_uplink_bytes`: hybrid `cloud_uplink_bytes` (all channels), edge-only its
  `events` channel, all-cloud `camera_bytes_in` (every frame);
- `estimate_cloud_calls`: hybrid `cloud_attempts{channel=hard_cases}`, edge-only 0,
  all-cloud `camera_frames_in`;
- `estimate_cloud_seconds`: hybrid `cloud_round_trip_seconds{channel=hard_cases}`,
  edge-only 0, all-cloud frames x `allcloud_s_per_frame`;
- `estimate_edge_cpu_seconds`: this process's CPU seconds (all-cloud: 0, no gateway);
- `estimate_joules`, `estimate_cost`: `total_j` and `total_cost` of
  `gateway.costs.estimate` (the cost in `costs.currency`).

The hybrid's cloud seconds are round trips (loopback or not), an upper bound of its
inference seconds. All-cloud counts the cameras whose frames arrive over MQTT (an OpenCV
source has no upload to count). Counters start at the gateway's start; the meter's clock
and CPU baseline start with the meter.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from gateway.config.costs import CostsSection
from gateway.costs.estimate import Estimate, Usage, estimate
from gateway.stats_registry import Stats

__all__ = ["CostMeter"]

HYBRID, EDGE_ONLY, ALL_CLOUD = "hybrid", "edge_only", "all_cloud"
_MODES = (HYBRID, EDGE_ONLY, ALL_CLOUD)


class CostMeter:
    """Gauges of each mode's usage, estimated joules and cost, read at collection time."""

    def __init__(
        self,
        stats: Stats,
        costs: CostsSection,
        *,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self._stats = stats
        self.costs = costs
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._started = clock()
        self._cpu_started = cpu_clock()
        lbl = ["mode"]
        gauges: tuple[tuple[str, str, Callable[[Estimate], float]], ...] = (
            ("estimate_video_seconds", "Seconds of video the totals cover.", _video),
            ("estimate_uplink_bytes", "Bytes sent upstream by this mode.", _uplink),
            ("estimate_cloud_calls", "Cloud model calls of this mode.", _calls),
            ("estimate_cloud_seconds", "Cloud inference seconds of this mode.", _cloud_s),
            ("estimate_edge_cpu_seconds", "Gateway CPU seconds of this mode.", _cpu),
            ("estimate_joules", "Estimated joules (board + radio + cloud).", _joules),
            ("estimate_cost", "Estimated money (energy + cloud + data), costs.currency.", _cost),
        )
        for name, doc, pick in gauges:
            gauge = stats.gauge(name, doc, lbl)
            for mode in _MODES:
                gauge.labels(mode).set_function(self._reader(mode, pick))

    def _reader(self, mode: str, pick: Callable[[Estimate], float]) -> Callable[[], float]:
        def read() -> float:
            return round(pick(self.estimate(mode)), 6)

        return read

    def usage(self, mode: str) -> Usage:
        """What `mode` used since the meter started, from the gateway's counters."""
        s = self._stats
        video_s = max(0.0, self._clock() - self._started)
        cpu_s = max(0.0, self._cpu_clock() - self._cpu_started)
        if mode == HYBRID:
            return Usage(
                mode,
                video_s,
                cpu_s,
                s.total("cloud_uplink_bytes"),
                s.total("cloud_attempts", channel="hard_cases"),
                s.total("cloud_round_trip_seconds", channel="hard_cases"),
            )
        if mode == EDGE_ONLY:
            return Usage(
                mode, video_s, cpu_s, s.total("cloud_uplink_bytes", channel="events"), 0, 0
            )
        if mode == ALL_CLOUD:
            frames = s.total("camera_frames_in")
            return Usage(
                mode,
                video_s,
                0.0,
                s.total("camera_bytes_in"),
                frames,
                frames * self.costs.coefficients.allcloud_s_per_frame,
                gateway=False,
            )
        msg = f"unknown mode {mode!r} (one of {', '.join(_MODES)})"
        raise ValueError(msg)

    def estimate(self, mode: str) -> Estimate:
        """`mode`'s usage so far and its estimated joules and cost."""
        return estimate(self.usage(mode), self.costs)


def _video(e: Estimate) -> float:
    return e.usage.video_s


def _uplink(e: Estimate) -> float:
    return e.usage.uplink_bytes


def _calls(e: Estimate) -> float:
    return e.usage.cloud_calls


def _cloud_s(e: Estimate) -> float:
    return e.usage.cloud_s


def _cpu(e: Estimate) -> float:
    return e.usage.edge_cpu_s


def _joules(e: Estimate) -> float:
    return e.total_j.value


def _cost(e: Estimate) -> float:
    return e.total_cost.value
