"""`edgegw estimate`: a month of a fleet, projected from a measured run, coefficients shown.

    edgegw estimate -c gateway.yaml --cameras 50 --hours 24 [--run demo-out/report.json]

The run is the per-hour usage of each mode that `edgegw demo` (`report.json`, its
`hybrid_vs_all_cloud` panel) or `python -m bench.hybrid` (`hybrid.json`, its `costs`)
measured. Each camera's usage is that hour's times `--hours` a day times `--days`; one
gateway board per camera, counted for the hours of video only. The config's `costs:`
section (board, radio, cloud, coefficients) prices it.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gateway.config import load_config
from gateway.config.costs import CostsSection
from gateway.costs.estimate import HOUR_S, MODES, Estimate, Usage, estimate
from gateway.errors import ConfigError

__all__ = ["Projection", "add_estimate_parser", "load_run", "project"]

DEFAULT_RUNS = (Path("demo-out/report.json"), Path("bench/results/hybrid.json"))
J_PER_KWH = 3.6e6


class RunError(ValueError):
    """A measured-run file that cannot be read as one."""


def load_run(path: Path) -> dict[str, Usage]:
    """The per-hour usage of each mode in a demo report or a bench/hybrid.py result."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        msg = f"{path}: cannot read a measured run: {exc}"
        raise RunError(msg) from exc
    panel = doc.get("hybrid_vs_all_cloud") or doc.get("costs") if isinstance(doc, dict) else None
    if not isinstance(panel, dict) or not isinstance(panel.get("per_hour"), dict):
        msg = (
            f"{path}: no per-hour usage (`hybrid_vs_all_cloud.per_hour` of an edgegw demo "
            "report, or `costs.per_hour` of bench/hybrid.py's hybrid.json)"
        )
        raise RunError(msg)
    out: dict[str, Usage] = {}
    for mode in MODES:
        raw = panel["per_hour"].get(mode, {}).get("usage")
        try:
            out[mode] = Usage(**raw)
        except TypeError as exc:
            msg = f"{path}: per_hour.{mode}.usage is not a usage: {exc}"
            raise RunError(msg) from exc
    return out


@dataclass(slots=True, frozen=True)
class Projection:
    """A month of the fleet in each mode."""

    cameras: int
    hours_per_day: float
    days: float
    estimates: dict[str, Estimate]

    def to_json(self, costs: CostsSection) -> dict[str, Any]:
        """The projection with the deployment and every coefficient's value."""
        return {
            "cameras": self.cameras,
            "hours_per_day": self.hours_per_day,
            "days": self.days,
            "deployment": {
                "board": costs.board,
                "radio": costs.radio,
                "cloud": costs.cloud,
                "currency": costs.currency,
                "edge_cpu_scale": costs.edge_cpu_scale,
            },
            "coefficients": costs.coefficients.model_dump(),
            "modes": {mode: e.to_json() for mode, e in self.estimates.items()},
        }


def project(
    per_hour: dict[str, Usage], costs: CostsSection, *, cameras: int, hours: float, days: float
) -> Projection:
    """Scale each mode's hour to `cameras` x `hours` a day x `days`; estimate it."""
    factor = cameras * hours * days
    estimates = {}
    for mode, usage in per_hour.items():
        hour = usage.scaled(HOUR_S / usage.video_s) if usage.video_s > 0 else usage
        estimates[mode] = estimate(hour.scaled(factor), costs)
    return Projection(cameras, hours, days, estimates)


def lines(p: Projection, costs: CostsSection, run: Path) -> list[str]:
    """The projection as a table, then the coefficients it used."""
    cur = costs.currency
    out = [
        f"{p.cameras} camera(s) x {p.hours_per_day:g} h/day x {p.days:g} days, measured run "
        f"{run}; board {costs.board}, radio {costs.radio}, cloud {costs.cloud}",
        f"{'mode':<11}{'uplink GB':>11}{'cloud calls':>13}{'cloud h':>9}{'edge kWh':>10}"
        f"{'cloud kWh':>10}{'energy ' + cur:>12}{'cloud ' + cur:>11}{'data ' + cur:>10}"
        f"{'total ' + cur:>11}",
    ]
    used: dict[str, None] = {}
    for mode, e in p.estimates.items():
        u = e.usage
        out.append(
            f"{mode:<11}{u.uplink_bytes / 1e9:>11.2f}{u.cloud_calls:>13.0f}"
            f"{u.cloud_s / HOUR_S:>9.1f}{(e.board_j.value + e.radio_j.value) / J_PER_KWH:>10.2f}"
            f"{e.cloud_j.value / J_PER_KWH:>10.2f}{e.energy_cost.value:>12.2f}"
            f"{e.cloud_cost.value:>11.2f}{e.data_cost.value:>10.2f}{e.total_cost.value:>11.2f}"
        )
        used.update(dict.fromkeys((*e.total_j.uses, *e.total_cost.uses)))
    out.append("coefficients used (sources: docs/costs.md):")
    for name in used:
        value = (
            costs.edge_cpu_scale if name == "edge_cpu_scale" else getattr(costs.coefficients, name)
        )
        out.append(f"  {name} = {value}")
    return out


def cmd_estimate(args: argparse.Namespace) -> int:
    """Print (or write as JSON) a month of the fleet in each mode."""
    try:
        costs = load_config(args.config).costs if args.config is not None else CostsSection()
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        return 1
    run: Path | None = args.run
    if run is None:
        run = next((p for p in DEFAULT_RUNS if p.is_file()), None)
        if run is None:
            print(
                "error: no measured run: run `edgegw demo` (demo-out/report.json) or "
                "`python -m bench.hybrid`, or pass --run FILE",
                file=sys.stderr,
            )
            return 1
    try:
        per_hour = load_run(run)
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    projection = project(per_hour, costs, cameras=args.cameras, hours=args.hours, days=args.days)
    if args.json:
        print(json.dumps(projection.to_json(costs), indent=2))
    else:
        print("\n".join(lines(projection, costs, run)))
    return 0


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"{text}: must be 1 or more"
        raise argparse.ArgumentTypeError(msg)
    return value


def _hours(text: str) -> float:
    value = float(text)
    if not 0 < value <= 24:
        msg = f"{text}: hours of video a day, in (0, 24]"
        raise argparse.ArgumentTypeError(msg)
    return value


def add_estimate_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `estimate` to the `edgegw` subcommands."""
    p = sub.add_parser(
        "estimate",
        help="project a month of a fleet (energy, money) from a measured run",
        description=__doc__.split("\n")[0] if __doc__ else None,
    )
    p.add_argument(
        "-c",
        "--config",
        type=Path,
        help="gateway config whose `costs:` prices it (default: built-in)",
    )
    p.add_argument("--cameras", type=_positive_int, default=1, help="cameras in the fleet")
    p.add_argument("--hours", type=_hours, default=24.0, help="hours of video a day per camera")
    p.add_argument("--days", type=float, default=30.0, help="days in the month (default 30)")
    p.add_argument(
        "--run",
        type=Path,
        help="measured run: an edgegw demo report.json or bench/hybrid.py's hybrid.json "
        "(default: demo-out/report.json, else bench/results/hybrid.json)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_estimate)
