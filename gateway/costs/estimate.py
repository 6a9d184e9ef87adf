"""Energy, money and latency of a mode, derived from what was measured and the coefficients.

Three modes run the same video:

- `hybrid`: the gateway on the board (edge CPU), its events and hard-case crops upstream,
  one cloud call per hard case;
- `edge_only`: the same edge work; only the events go upstream; no cloud call;
- `all_cloud`: no gateway; every frame goes upstream as a JPEG and is one cloud call.

For each mode (a `Usage`: seconds of video, edge CPU seconds, uplink bytes, cloud calls
and cloud inference seconds, all measured), with the board, radio and cloud chosen in
`costs:` (`gateway.config.costs`):

    board J  = idle_w * video_s + (load_w - idle_w) * min(cpu_s * edge_cpu_scale / cores, video_s)
               (0 without a gateway: the camera's own power is the same in every mode)
    radio J  = uplink MB * j_per_mb
    cloud J  = cloud_s * cloud_w * cloud_pue
    energy $ = (board J + radio J) / 3.6e6 * electricity_price_per_kwh
    cloud $  = cloud_s / 3600 * cloud_price_per_hour   (billed per inference second)
    data $   = uplink GB * price_per_gb

A network request's latency adds `network_rtt_ms` and its transfer time at `uplink_mbps`
to what was measured on loopback. Every `Figure` names the coefficients it used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np

from gateway.config.costs import CostsSection

__all__ = [
    "HOUR_S",
    "MODES",
    "Comparison",
    "Estimate",
    "Figure",
    "Latency",
    "Usage",
    "compare",
    "estimate",
    "latency",
    "network_ms",
    "percentile",
]

HOUR_S = 3600.0
J_PER_KWH = 3.6e6
MB = 1e6
GB = 1e9
MODES = ("hybrid", "edge_only", "all_cloud")


@dataclass(slots=True, frozen=True)
class Usage:
    """What one mode used over a run (measured, or projected from a measured run)."""

    mode: str
    video_s: float
    """Seconds of video the run covered."""
    edge_cpu_s: float
    """CPU seconds the gateway spent (0 without a gateway)."""
    uplink_bytes: float
    cloud_calls: float
    cloud_s: float
    """Cloud inference seconds (measured per call on the reference cloud, times the calls)."""
    gateway: bool = True
    """Whether a gateway board runs in this mode (all-cloud: none)."""

    def scaled(self, factor: float) -> Usage:
        """The same usage for `factor` times the video (a projection)."""
        return replace(
            self,
            video_s=self.video_s * factor,
            edge_cpu_s=self.edge_cpu_s * factor,
            uplink_bytes=self.uplink_bytes * factor,
            cloud_calls=self.cloud_calls * factor,
            cloud_s=self.cloud_s * factor,
        )

    def per_hour(self) -> Usage:
        """The same usage for one hour of video."""
        return self.scaled(HOUR_S / self.video_s) if self.video_s > 0 else self


@dataclass(slots=True, frozen=True)
class Figure:
    """A derived number, the coefficients it used and how."""

    value: float
    unit: str
    uses: tuple[str, ...]
    """Names of the coefficients (`costs.coefficients.<name>`, or a `costs.` choice)."""
    formula: str

    def to_json(self) -> dict[str, Any]:
        """`{"value", "unit", "uses", "formula"}`."""
        return {
            "value": round(self.value, 6),
            "unit": self.unit,
            "uses": list(self.uses),
            "formula": self.formula,
        }


@dataclass(slots=True, frozen=True)
class Estimate:
    """Energy and money of one mode's usage."""

    usage: Usage
    board_j: Figure
    radio_j: Figure
    cloud_j: Figure
    total_j: Figure
    energy_cost: Figure
    cloud_cost: Figure
    data_cost: Figure
    total_cost: Figure

    def to_json(self) -> dict[str, Any]:
        """The usage and every figure."""
        out: dict[str, Any] = {"usage": asdict(self.usage)}
        for name in (
            "board_j",
            "radio_j",
            "cloud_j",
            "total_j",
            "energy_cost",
            "cloud_cost",
            "data_cost",
            "total_cost",
        ):
            figure: Figure = getattr(self, name)
            out[name] = figure.to_json()
        return out


def _coefficient(costs: CostsSection, name: str) -> float:
    value: float = getattr(costs.coefficients, name)
    return value


def estimate(usage: Usage, costs: CostsSection) -> Estimate:
    """Energy and money of `usage` with the board, radio, cloud and coefficients of `costs`."""
    c = costs.coefficients
    b, r, k = costs.board, costs.radio, costs.cloud
    idle_n, load_n, cores_n = f"{b}_idle_w", f"{b}_load_w", f"{b}_cores"
    if usage.gateway:
        idle = _coefficient(costs, idle_n)
        load = _coefficient(costs, load_n)
        cores = _coefficient(costs, cores_n)
        busy_s = min(usage.edge_cpu_s * costs.edge_cpu_scale / cores, usage.video_s)
        board = Figure(
            idle * usage.video_s + (load - idle) * busy_s,
            "J",
            (idle_n, load_n, cores_n, "edge_cpu_scale"),
            f"{idle_n} * video_s + ({load_n} - {idle_n}) * "
            f"min(edge_cpu_s * edge_cpu_scale / {cores_n}, video_s)",
        )
    else:
        board = Figure(0.0, "J", (), "no gateway in this mode")
    jmb_n = f"{r}_j_per_mb"
    radio = Figure(
        usage.uplink_bytes / MB * _coefficient(costs, jmb_n),
        "J",
        (jmb_n,),
        f"uplink_bytes / 1e6 * {jmb_n}",
    )
    cw_n = f"cloud_{k}_w"
    cloud = Figure(
        usage.cloud_s * _coefficient(costs, cw_n) * c.cloud_pue,
        "J",
        (cw_n, "cloud_pue"),
        f"cloud_s * {cw_n} * cloud_pue",
    )
    total_j = Figure(
        board.value + radio.value + cloud.value,
        "J",
        tuple(dict.fromkeys((*board.uses, *radio.uses, *cloud.uses))),
        "board_j + radio_j + cloud_j",
    )
    cur = costs.currency
    energy_cost = Figure(
        (board.value + radio.value) / J_PER_KWH * c.electricity_price_per_kwh,
        cur,
        (*board.uses, *radio.uses, "electricity_price_per_kwh"),
        "(board_j + radio_j) / 3.6e6 * electricity_price_per_kwh",
    )
    price_n = f"cloud_{k}_price_per_hour"
    cloud_cost = Figure(
        usage.cloud_s / HOUR_S * _coefficient(costs, price_n),
        cur,
        (price_n,),
        f"cloud_s / 3600 * {price_n}",
    )
    gb_n = f"{r}_price_per_gb"
    data_cost = Figure(
        usage.uplink_bytes / GB * _coefficient(costs, gb_n),
        cur,
        (gb_n,),
        f"uplink_bytes / 1e9 * {gb_n}",
    )
    total_cost = Figure(
        energy_cost.value + cloud_cost.value + data_cost.value,
        cur,
        tuple(dict.fromkeys((*energy_cost.uses, *cloud_cost.uses, *data_cost.uses))),
        "energy_cost + cloud_cost + data_cost",
    )
    return Estimate(
        usage, board, radio, cloud, total_j, energy_cost, cloud_cost, data_cost, total_cost
    )


def percentile(values: Sequence[float], q: float) -> float | None:
    """The `q`th percentile of `values` (None when there are none)."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if len(values) else None


def network_ms(request_bytes: float, costs: CostsSection) -> float:
    """What the network adds to one request: the round trip plus the transfer time."""
    c = costs.coefficients
    return c.network_rtt_ms + request_bytes * 8.0 / (c.uplink_mbps * 1e3)


@dataclass(slots=True, frozen=True)
class Latency:
    """A latency's median and 99th percentile, ms (None: nothing was measured)."""

    p50_ms: float | None
    p99_ms: float | None
    samples: int
    uses: tuple[str, ...] = ()
    """Coefficients added to what was measured (the network model), if any."""
    what: str = ""

    def to_json(self) -> dict[str, Any]:
        """`{"p50_ms", "p99_ms", "samples", "uses", "what"}`."""
        return {
            "p50_ms": None if self.p50_ms is None else round(self.p50_ms, 2),
            "p99_ms": None if self.p99_ms is None else round(self.p99_ms, 2),
            "samples": self.samples,
            "uses": list(self.uses),
            "what": self.what,
        }


def latency(
    measured_ms: Sequence[float],
    *,
    what: str,
    costs: CostsSection | None = None,
    request_bytes: Sequence[float] | None = None,
) -> Latency:
    """Percentiles of `measured_ms`; with `costs`, each plus its request's network time."""
    values = list(measured_ms)
    uses: tuple[str, ...] = ()
    if costs is not None:
        sizes = list(request_bytes) if request_bytes is not None else [0.0] * len(values)
        if len(sizes) != len(values):
            msg = f"{len(values)} latencies but {len(sizes)} request sizes"
            raise ValueError(msg)
        values = [v + network_ms(n, costs) for v, n in zip(values, sizes, strict=True)]
        uses = ("network_rtt_ms", "uplink_mbps")
    return Latency(percentile(values, 50), percentile(values, 99), len(values), uses, what)


@dataclass(slots=True, frozen=True)
class Comparison:
    """Hybrid, edge-only and all-cloud side by side, per hour of video."""

    estimates: dict[str, Estimate]
    """Per mode, the usage of one hour of video and its figures."""
    latencies: dict[str, Latency]
    """`hybrid_event`, `hybrid_verdict`, `edge_only_event`, `all_cloud`."""
    costs: CostsSection

    @property
    def energy_ratio(self) -> float | None:
        """Hybrid estimated joules over all-cloud's."""
        return _ratio(self.estimates["hybrid"].total_j, self.estimates["all_cloud"].total_j)

    @property
    def cost_ratio(self) -> float | None:
        """Hybrid estimated money over all-cloud's."""
        return _ratio(self.estimates["hybrid"].total_cost, self.estimates["all_cloud"].total_cost)

    def coefficients_used(self) -> dict[str, float]:
        """Every coefficient a figure used, with its value."""
        names: dict[str, None] = {}
        for e in self.estimates.values():
            for f in (e.total_j, e.total_cost):
                names.update(dict.fromkeys(f.uses))
        for lat in self.latencies.values():
            names.update(dict.fromkeys(lat.uses))
        out: dict[str, float] = {}
        for name in names:
            if name == "edge_cpu_scale":
                out[name] = self.costs.edge_cpu_scale
            else:
                out[name] = float(_coefficient(self.costs, name))
        return out

    def to_json(self) -> dict[str, Any]:
        """The panel: deployment, coefficients used, per mode per hour, latencies, ratios."""
        return {
            "deployment": {
                "board": self.costs.board,
                "radio": self.costs.radio,
                "cloud": self.costs.cloud,
                "currency": self.costs.currency,
                "edge_cpu_scale": self.costs.edge_cpu_scale,
            },
            "coefficients": self.coefficients_used(),
            "per_hour": {mode: e.to_json() for mode, e in self.estimates.items()},
            "latency": {name: lat.to_json() for name, lat in self.latencies.items()},
            "energy_ratio": _round(self.energy_ratio),
            "cost_ratio": _round(self.cost_ratio),
        }


def _ratio(a: Figure, b: Figure) -> float | None:
    return a.value / b.value if b.value > 0 else None


def _round(value: float | None, digits: int = 6) -> float | None:
    return None if value is None else round(value, digits)


def compare(
    usages: Sequence[Usage], latencies: dict[str, Latency], costs: CostsSection
) -> Comparison:
    """Estimate each mode per hour of video; keep the latencies beside them."""
    by_mode = {u.mode: estimate(u.per_hour(), costs) for u in usages}
    missing = [m for m in MODES if m not in by_mode]
    if missing:
        msg = f"no usage for mode(s) {', '.join(missing)}"
        raise ValueError(msg)
    return Comparison(by_mode, latencies, costs)
