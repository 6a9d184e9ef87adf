"""One stats registry for the whole gateway, on prometheus-client.

Components add counters and gauges here; the same registry is rendered as Prometheus
text on `/metrics` and as a flat JSON snapshot on `<prefix>/stats`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

# `_created` samples double every counter on MQTT dashboards and mean nothing there.
disable_created_metrics()  # type: ignore[no-untyped-call]

NAMESPACE = "edgegw"
SnapshotValue = float | dict[str, float]


@dataclass(slots=True, frozen=True)
class _CpuMark:
    """Process CPU seconds at a monotonic time, for the CPU % between two snapshots."""

    at: float
    cpu_s: float


class Stats:
    """The gateway's metrics: counters, gauges, process RSS/CPU, uptime."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._clock = clock
        self._started = clock()
        self._counters: dict[str, Counter] = {}
        self._gauges: dict[str, Gauge] = {}
        ProcessCollector(registry=self.registry)
        self.gauge_fn("uptime_seconds", "Seconds since the gateway started.", self.uptime)
        self._cpu_mark: _CpuMark | None = None

    def uptime(self) -> float:
        """Seconds since start."""
        return self._clock() - self._started

    def counter(self, name: str, doc: str, labels: Sequence[str] = ()) -> Counter:
        """Return the counter `name`, creating it on first use (idempotent)."""
        if name not in self._counters:
            self._counters[name] = Counter(
                name, doc, labelnames=tuple(labels), namespace=NAMESPACE, registry=self.registry
            )
        return self._counters[name]

    def gauge(self, name: str, doc: str, labels: Sequence[str] = ()) -> Gauge:
        """Return the gauge `name`, creating it on first use (idempotent)."""
        if name not in self._gauges:
            self._gauges[name] = Gauge(
                name, doc, labelnames=tuple(labels), namespace=NAMESPACE, registry=self.registry
            )
        return self._gauges[name]

    def total(self, name: str, **labels: str) -> float:
        """Sum of counter `name` over the label values matching `labels` (0: not registered)."""
        counter = self._counters.get(name)
        if counter is None:
            return 0.0
        return sum(
            sample.value
            for family in counter.collect()
            for sample in family.samples
            if sample.name.endswith("_total")
            and all(sample.labels.get(k) == v for k, v in labels.items())
        )

    def gauge_fn(self, name: str, doc: str, fn: Callable[[], float]) -> Gauge:
        """Register a gauge whose value is read from `fn` at collection time."""
        gauge = self.gauge(name, doc)
        gauge.set_function(fn)
        return gauge

    def prometheus_text(self) -> bytes:
        """Render the registry in Prometheus text exposition format."""
        return generate_latest(self.registry)

    def snapshot(self) -> dict[str, SnapshotValue]:
        """Flat JSON-able view: `{name: value}` or `{name: {label_values: value}}`."""
        out: dict[str, SnapshotValue] = {}
        prefix = NAMESPACE + "_"
        for family in self.registry.collect():
            for sample in family.samples:
                name = sample.name.removeprefix(prefix)
                if sample.labels:
                    key = ",".join(sample.labels.values())
                    nested = out.setdefault(name, {})
                    if isinstance(nested, dict):
                        nested[key] = sample.value
                else:
                    out[name] = sample.value
        cpu = out.get("process_cpu_seconds_total")
        if isinstance(cpu, float):
            now = self._clock()
            mark = self._cpu_mark
            if mark is not None and now > mark.at:
                out["process_cpu_percent"] = round(100.0 * (cpu - mark.cpu_s) / (now - mark.at), 2)
            self._cpu_mark = _CpuMark(at=now, cpu_s=cpu)
        return out
