"""The derivations against figures worked out by hand, and the coefficients' sources.

Hand figures use the default table (docs/costs.md): Pi 4 2.7 W idle, 6.3 W busy, 4
cores; LTE 5.22 J/MB and 2.59 per GB; cloud CPU 7 W, PUE 1.135, 0.085 per hour;
electricity 0.16 per kWh; 50 ms round trip and 6 Mbit/s uplink.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gateway.config.costs import Coefficients, CostsSection
from gateway.costs.cli import load_run, project
from gateway.costs.estimate import Latency, Usage, compare, estimate, latency, network_ms
from gateway.costs.meter import CostMeter
from gateway.stats_registry import Stats

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "costs.md"
COSTS = CostsSection()


def test_hybrid_hour_by_hand() -> None:
    # 1 h of video, 400 CPU-s, 10 MB up, 120 calls of 0.05 s each.
    e = estimate(Usage("hybrid", 3600, 400, 10e6, 120, 6.0), COSTS)
    board = 2.7 * 3600 + (6.3 - 2.7) * (400 / 4)  # 9720 + 360
    assert e.board_j.value == pytest.approx(10_080.0)
    assert e.radio_j.value == pytest.approx(52.2)  # 10 MB * 5.22
    assert e.cloud_j.value == pytest.approx(6.0 * 7.0 * 1.135)  # 47.67
    assert e.total_j.value == pytest.approx(board + 52.2 + 47.67)
    assert e.energy_cost.value == pytest.approx((10_080.0 + 52.2) / 3.6e6 * 0.16)
    assert e.cloud_cost.value == pytest.approx(6.0 / 3600 * 0.085)
    assert e.data_cost.value == pytest.approx(0.01 * 2.59)
    assert e.total_cost.value == pytest.approx(
        e.energy_cost.value + e.cloud_cost.value + e.data_cost.value
    )
    assert e.board_j.uses == ("pi4_idle_w", "pi4_load_w", "pi4_cores", "edge_cpu_scale")
    assert e.radio_j.uses == ("lte_j_per_mb",)
    assert set(e.total_cost.uses) == {
        "pi4_idle_w", "pi4_load_w", "pi4_cores", "edge_cpu_scale", "lte_j_per_mb",
        "electricity_price_per_kwh", "cloud_cpu_price_per_hour", "lte_price_per_gb",
    }  # fmt: skip


def test_all_cloud_has_no_board_and_busy_time_is_capped() -> None:
    e = estimate(Usage("all_cloud", 60, 0, 50e6, 600, 30.0, gateway=False), COSTS)
    assert e.board_j.value == 0.0
    assert e.board_j.uses == ()
    assert e.radio_j.value == pytest.approx(261.0)  # 50 MB * 5.22
    # More CPU than cores x time: the board is busy the whole time, not more.
    busy = estimate(Usage("hybrid", 10, 1000, 0, 0, 0), COSTS)
    assert busy.board_j.value == pytest.approx(6.3 * 10)


def test_board_radio_and_cloud_choices_pick_their_coefficients() -> None:
    costs = CostsSection(board="jetson", radio="wifi", cloud="gpu", edge_cpu_scale=3.0)
    e = estimate(Usage("hybrid", 100, 60, 2e6, 10, 2.0), costs)
    assert e.board_j.value == pytest.approx(2.6 * 100 + (15.0 - 2.6) * (60 * 3.0 / 6))
    assert e.radio_j.value == pytest.approx(2 * 2.44)
    assert e.cloud_j.value == pytest.approx(2.0 * 70.0 * 1.135)
    assert e.cloud_cost.value == pytest.approx(2.0 / 3600 * 0.526)
    assert e.data_cost.value == 0.0  # Wi-Fi on a flat-rate line
    assert "jetson_idle_w" in e.total_j.uses
    assert "cloud_gpu_w" in e.total_j.uses


def test_network_model_and_latency_percentiles() -> None:
    assert network_ms(75_000, COSTS) == pytest.approx(50 + 75_000 * 8 / 6000)  # 150 ms
    lat = latency([10.0, 20.0, 30.0], what="x", costs=COSTS, request_bytes=[0, 0, 75_000])
    assert lat.p50_ms == pytest.approx(70.0)
    assert lat.p99_ms == pytest.approx(30 + 150 - 0.02 * (30 + 150 - 70))
    assert lat.uses == ("network_rtt_ms", "uplink_mbps")
    assert latency([], what="none").p50_ms is None
    with pytest.raises(ValueError, match="request sizes"):
        latency([1.0], what="x", costs=COSTS, request_bytes=[])


def test_comparison_is_per_hour_and_its_ratios_are_hybrid_over_all_cloud() -> None:
    usages = [
        Usage("hybrid", 60, 20, 100_000, 3, 0.3),
        Usage("edge_only", 60, 20, 40_000, 0, 0),
        Usage("all_cloud", 60, 0, 4_000_000, 600, 60.0, gateway=False),
    ]
    c = compare(usages, {"x": Latency(1.0, 2.0, 1)}, COSTS)
    hybrid = c.estimates["hybrid"]
    assert hybrid.usage.video_s == 3600
    assert hybrid.usage.cloud_calls == pytest.approx(180)
    hybrid_j = 2.7 * 3600 + 3.6 * (1200 / 4) + 6.0 * 5.22 + 18.0 * 7.0 * 1.135
    cloud_j = 240.0 * 5.22 + 3600.0 * 7.0 * 1.135
    assert c.energy_ratio == pytest.approx(hybrid_j / cloud_j)
    out = c.to_json()
    assert out["energy_ratio"] == pytest.approx(hybrid_j / cloud_j, rel=1e-5)
    assert out["coefficients"]["lte_j_per_mb"] == 5.22
    assert out["per_hour"]["all_cloud"]["board_j"]["formula"] == "no gateway in this mode"
    with pytest.raises(ValueError, match="edge_only"):
        compare(usages[::2], {}, COSTS)


def test_every_coefficient_has_a_source_line_in_the_docs() -> None:
    text = DOC.read_text(encoding="utf-8")
    rows = {
        m.group(1): m.group(0)
        for m in re.finditer(r"^\| `(\w+)` \|[^\n]*$", text, flags=re.MULTILINE)
    }
    defaults = Coefficients()
    for name in Coefficients.model_fields:
        assert name in rows, f"docs/costs.md has no row for {name}"
        cells = [c.strip() for c in rows[name].strip("|").split("|")]
        assert float(cells[1]) == getattr(defaults, name), f"{name}: docs and config differ"
        source = cells[3]
        assert "http" in source or source.startswith(("a flat-rate", "measured")), name
    assert set(rows) <= set(Coefficients.model_fields)


def test_the_recorded_bench_run_recomputes() -> None:
    """bench/results/hybrid.json: its ratios follow from its measured quantities."""
    doc = json.loads((REPO / "bench" / "results" / "hybrid.json").read_text(encoding="utf-8"))
    measured, costs_json, summary = doc["costs"]["measured"], doc["costs"], doc["summary"]
    used = costs_json["coefficients"]  # edge_cpu_scale is a choice of the deployment
    assert used["edge_cpu_scale"] == costs_json["deployment"]["edge_cpu_scale"]
    coefficients = {k: v for k, v in used.items() if k in Coefficients.model_fields}
    costs = CostsSection.model_validate({**costs_json["deployment"], "coefficients": coefficients})
    video_s = measured["video_s"]
    samples = measured["allcloud_samples"]
    per_frame = sum(s["round_trip_ms"] for s in samples) / len(samples) / 1000
    hybrid = Usage(
        "hybrid", video_s, measured["edge_cpu_s"], doc["uplink_bytes"],
        summary["cloud_calls"], sum(measured["hybrid_round_trips_ms"]) / 1000,
    )  # fmt: skip
    all_cloud = Usage(
        "all_cloud", video_s, 0, doc["all_cloud_bytes"], doc["frames"],
        per_frame * doc["frames"], gateway=False,
    )  # fmt: skip
    h, a = estimate(hybrid.per_hour(), costs), estimate(all_cloud.per_hour(), costs)
    assert summary["energy_ratio"] == pytest.approx(h.total_j.value / a.total_j.value, abs=1e-6)
    assert summary["cost_ratio"] == pytest.approx(h.total_cost.value / a.total_cost.value, abs=1e-6)
    assert summary["energy_ratio"] < 1.0  # the seed's claim, on this run
    per_hour = load_run(REPO / "bench" / "results" / "hybrid.json")
    month = project(per_hour, costs, cameras=50, hours=24, days=30)
    assert month.estimates["hybrid"].usage.video_s == pytest.approx(50 * 24 * 30 * 3600)
    assert month.estimates["all_cloud"].usage.cloud_calls == pytest.approx(
        doc["frames"] / video_s * 3600 * 50 * 24 * 30
    )


def test_meter_totals_follow_the_counters() -> None:
    now = [100.0]
    cpu = [5.0]
    stats = Stats()
    meter = CostMeter(stats, COSTS, clock=lambda: now[0], cpu_clock=lambda: cpu[0])
    stats.counter("cloud_uplink_bytes", "b", ["channel"]).labels("events").inc(1000)
    stats.counter("cloud_uplink_bytes", "b", ["channel"]).labels("hard_cases").inc(9000)
    stats.counter("cloud_attempts", "a", ["channel"]).labels("hard_cases").inc(2)
    stats.counter("cloud_round_trip_seconds", "s", ["channel"]).labels("hard_cases").inc(0.5)
    stats.counter("camera_frames_in", "f", ["camera"]).labels("c").inc(30)
    stats.counter("camera_bytes_in", "b", ["camera"]).labels("c").inc(3e6)
    now[0], cpu[0] = 160.0, 11.0
    snap = stats.snapshot()
    assert snap["estimate_video_seconds"] == {"hybrid": 60.0, "edge_only": 60.0, "all_cloud": 60.0}
    assert snap["estimate_uplink_bytes"] == {
        "hybrid": 10_000.0, "edge_only": 1000.0, "all_cloud": 3e6
    }  # fmt: skip
    assert snap["estimate_cloud_calls"] == {"hybrid": 2.0, "edge_only": 0.0, "all_cloud": 30.0}
    assert snap["estimate_cloud_seconds"] == {"hybrid": 0.5, "edge_only": 0.0, "all_cloud": 3.0}
    assert snap["estimate_edge_cpu_seconds"] == {"hybrid": 6.0, "edge_only": 6.0, "all_cloud": 0}
    joules = snap["estimate_joules"]
    assert isinstance(joules, dict)
    hybrid_j = 2.7 * 60 + 3.6 * 6 / 4 + 0.01 * 5.22 + 0.5 * 7 * 1.135
    assert joules["hybrid"] == pytest.approx(hybrid_j, abs=1e-5)
    assert joules["all_cloud"] == pytest.approx(3 * 5.22 + 3.0 * 7 * 1.135, abs=1e-5)
    text = stats.prometheus_text().decode()
    assert 'edgegw_estimate_cost{mode="all_cloud"}' in text
    with pytest.raises(ValueError, match="unknown mode"):
        meter.usage("fog")
