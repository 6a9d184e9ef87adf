"""Live progress of the demo: a few lines from the gateway's stats, redrawn twice a second.

On a terminal the block is redrawn in place (ANSI cursor moves); elsewhere (a pipe, CI,
a test) one summary line is printed every `plain_every_s`, so logs stay readable.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Mapping
from typing import TextIO

from apps.demo.corrections import corrections, corrections_line
from apps.demo.recorder import Recorder
from gateway.stats_registry import SnapshotValue

__all__ = ["Metrics", "ProgressView", "human_bytes", "metric"]

Metrics = Mapping[str, SnapshotValue]


def metric(metrics: Metrics, name: str, label: str | None = None) -> float:
    """A counter or gauge from a stats snapshot: one label's value, or the sum of all."""
    value = metrics.get(name, 0.0)
    if isinstance(value, dict):
        return value.get(label, 0.0) if label is not None else sum(value.values())
    return value


def human_bytes(n: float) -> str:
    """`1234567` -> `1.2 MB` (decimal units, as network rates are counted)."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


def progress_lines(
    metrics: Metrics,
    recorder: Recorder,
    *,
    camera: str | None,
    elapsed_s: float,
    total_s: float,
    phase: str,
) -> list[str]:
    """The progress block: camera, its corrections by the cloud, sensors, uplink and time."""
    lines = []
    if camera is not None:
        verdicts = sum(recorder.verdict_counts().values())
        lines.append(
            f"camera   {metric(metrics, 'camera_frames_in_total', camera):5.0f} frames in "
            f"({human_bytes(recorder.camera_bytes)}), "
            f"{metric(metrics, 'camera_frames_skipped_total', camera):.0f} skipped | "
            f"detections {metric(metrics, 'events_total', 'vision.detection'):.0f} | "
            f"tracks {metric(metrics, 'camera_tracks_total', camera):.0f} | "
            f"hard cases {metric(metrics, 'camera_hard_cases_total', camera):.0f}"
        )
        lines.append(
            f"cloud    {verdicts} verdicts: {corrections_line(corrections(metrics, camera))}"
        )
    lines.append(
        f"sensors  {metric(metrics, 'sensors_readings_in'):5.0f} readings in "
        f"({human_bytes(metric(metrics, 'sensors_bytes_in'))}) | "
        f"{metric(metrics, 'sensor_summaries_total'):.0f} summaries, "
        f"{metric(metrics, 'sensors_alerts'):.0f} alerts out "
        f"({human_bytes(metric(metrics, 'sensors_bytes_out'))})"
    )
    up = metric(metrics, "cloud_uplink_bytes_total")
    into = recorder.camera_bytes + metric(metrics, "sensors_bytes_in")
    share = f" = {100 * up / into:.2f}% of input" if into else ""
    lines.append(
        f"uplink   {human_bytes(up)}{share} | events "
        f"{metric(metrics, 'cloud_delivered_total', 'events'):.0f} delivered, hard cases "
        f"{metric(metrics, 'cloud_delivered_total', 'hard_cases'):.0f} judged | "
        f"{metric(metrics, 'events_total'):.0f} events in all"
    )
    lines.append(f"time     {elapsed_s:5.1f} s of {total_s:.1f} s  ({phase})")
    return lines


class ProgressView:
    """Print `lines()` every `interval_s` until cancelled."""

    def __init__(
        self,
        lines: Callable[[], list[str]],
        *,
        live: bool | None = None,
        out: TextIO | None = None,
        interval_s: float = 0.5,
        plain_every_s: float = 5.0,
    ) -> None:
        self._lines = lines
        self._out = out or sys.stdout
        self._live = self._out.isatty() if live is None else live
        self._interval_s = interval_s
        self._plain_every_s = plain_every_s
        self._drawn = 0

    async def run(self) -> None:
        """Redraw until cancelled; then draw the last state once more."""
        last_plain = time.monotonic()
        try:
            while True:
                await asyncio.sleep(self._interval_s)
                if self._live:
                    self.draw()
                elif time.monotonic() - last_plain >= self._plain_every_s:
                    last_plain = time.monotonic()
                    self.draw()
        finally:
            self.draw()

    def draw(self) -> None:
        """Print the block once (in place on a terminal)."""
        lines = self._lines()
        if self._live:
            up = f"\x1b[{self._drawn}F" if self._drawn else ""
            text = up + "".join(f"\x1b[2K{line}\n" for line in lines)
            self._drawn = len(lines)
        else:
            text = " || ".join(" ".join(line.split()) for line in lines) + "\n"
        self._out.write(text)
        self._out.flush()
