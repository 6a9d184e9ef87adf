"""Cost, energy and latency of hybrid vs edge-only vs all-cloud: derivations and live totals.

    estimate.py  Usage -> Estimate (joules, money), latencies with the network model,
                 Comparison of the three modes (used by `edgegw demo`, bench/hybrid.py,
                 `edgegw estimate`)
    meter.py     CostMeter: running totals per mode on the gateway's stats
    cli.py       `edgegw estimate`: a month for a fleet, from a measured run

`start(ctx)` is the pipeline the runtime is handed (`gateway.plugins`): it puts the
meter on the gateway's stats; a reload gives it the new `costs:` section.
"""

from __future__ import annotations

from gateway.config import GatewayConfig
from gateway.costs.meter import CostMeter
from gateway.runtime import ReloadReport, RuntimeContext

__all__ = ["CostMeter", "Costs", "start"]


class Costs:
    """The running meter; a reload swaps its coefficients in place."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self.meter = CostMeter(ctx.stats, ctx.config.costs)

    def check(self, config: GatewayConfig) -> list[str]:
        """Nothing in `costs:` can stop a config from starting."""
        del config
        return []

    async def reload(self, ctx: RuntimeContext) -> ReloadReport:
        """Use the new coefficients from now on (the totals go on)."""
        report = ReloadReport()
        if ctx.config.costs != self.meter.costs:
            self.meter.costs = ctx.config.costs
            report.updated.append("costs")
        return report


async def start(ctx: RuntimeContext) -> Costs:
    """Put the meter on the gateway's stats."""
    return Costs(ctx)
