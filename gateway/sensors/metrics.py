"""The sensor pipeline's stats: per-sensor counters bound once, plus gateway-wide totals."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import Counter

from devices.readings import DecodeError
from gateway.stats_registry import Stats


@dataclass(slots=True)
class Totals:
    """Plain totals over every sensor (cheap to bump; read by gauges and HA)."""

    readings_in: int = 0
    decode_errors: int = 0
    alerts: int = 0
    bytes_in: int = 0
    bytes_out: int = 0

    def reduction_ratio(self) -> float:
        """Raw payload bytes in per byte the sensor pipeline published (0 before any out)."""
        return self.bytes_in / self.bytes_out if self.bytes_out else 0.0


class SensorMetrics:
    """Counters of one sensor, label children resolved once (none per message)."""

    __slots__ = (
        "_alerts",
        "bytes_in",
        "bytes_out",
        "decode_errors",
        "ignored",
        "messages",
        "readings",
        "sensor",
        "summaries",
        "suppressed",
        "totals",
    )

    def __init__(self, stats: Stats, sensor: str, totals: Totals) -> None:
        self.sensor = sensor
        self.totals = totals
        self.messages = stats.counter(
            "sensor_messages", "MQTT messages received per sensor.", ["sensor"]
        ).labels(sensor)
        self.bytes_in = stats.counter(
            "sensor_bytes_in", "Raw payload bytes received per sensor.", ["sensor"]
        ).labels(sensor)
        self.bytes_out = stats.counter(
            "sensor_bytes_out", "Bytes of summaries and events published per sensor.", ["sensor"]
        ).labels(sensor)
        self.readings = stats.counter(
            "sensor_readings", "Readings decoded and aggregated per sensor.", ["sensor"]
        ).labels(sensor)
        self.ignored = stats.counter(
            "sensor_readings_ignored",
            "Readings of metrics or devices the sensor does not keep.",
            ["sensor"],
        ).labels(sensor)
        errors = stats.counter(
            "sensor_decode_errors", "Rejected payloads or fields, by reason.", ["sensor", "reason"]
        )
        self.decode_errors: dict[DecodeError, Counter] = {
            reason: errors.labels(sensor, reason.value) for reason in DecodeError
        }
        self.summaries = stats.counter(
            "sensor_summaries", "Window summaries published per sensor.", ["sensor"]
        ).labels(sensor)
        self.suppressed = stats.counter(
            "sensor_summaries_suppressed",
            "Window summaries not published: inside the deadband, heartbeat not due.",
            ["sensor"],
        ).labels(sensor)
        self._alerts = stats.counter(
            "sensor_alerts", "Alerts raised, by sensor and rule.", ["sensor", "rule"]
        )

    def alert(self, rule: str) -> None:
        """Count one alert of `rule`."""
        self._alerts.labels(self.sensor, rule).inc()
        self.totals.alerts += 1

    def sent(self, size: int) -> None:
        """Count `size` bytes published."""
        self.bytes_out.inc(size)
        self.totals.bytes_out += size


def register_totals(stats: Stats, totals: Totals) -> None:
    """Expose the totals as gauges (Home Assistant's diagnostic sensors read these)."""
    stats.gauge_fn(
        "sensors_readings_in", "Readings decoded, all sensors.", lambda: totals.readings_in
    )
    stats.gauge_fn(
        "sensors_decode_errors", "Rejections, all sensors.", lambda: totals.decode_errors
    )
    stats.gauge_fn("sensors_alerts", "Alerts raised, all sensors.", lambda: totals.alerts)
    stats.gauge_fn(
        "sensors_bytes_in", "Raw payload bytes in, all sensors.", lambda: totals.bytes_in
    )
    stats.gauge_fn(
        "sensors_bytes_out", "Bytes published by the sensor pipeline.", lambda: totals.bytes_out
    )
    stats.gauge_fn(
        "sensors_reduction_ratio",
        "Raw bytes in per byte published by the sensor pipeline.",
        totals.reduction_ratio,
    )
