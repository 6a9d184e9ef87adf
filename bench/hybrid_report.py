"""Rows, the printed table and the band plot of `bench.hybrid` (drawn with OpenCV)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from gateway.vision.cascade import Band
from lab.evaluation import (
    EventScore,
    PresenceScore,
    TrackPath,
    frame_presence,
    frames_with_boxes,
    match_events,
)

__all__ = [
    "Axes",
    "BandRow",
    "ModeRow",
    "ScoredRow",
    "draw_band_plot",
    "mode_row",
    "print_table",
    "text",
]


@dataclass(slots=True, frozen=True)
class ScoredRow:
    """Accuracy of one mode against the oracle."""

    name: str
    tracks: int
    presence: PresenceScore
    events: EventScore

    def to_json(self) -> dict[str, Any]:
        """Return the row as JSON-ready values."""
        e, p = self.events, self.presence
        return {
            "name": self.name,
            "tracks": self.tracks,
            "frame_precision": round(p.precision, 4),
            "frame_recall": round(p.recall, 4),
            "frame_f1": round(p.f1, 4),
            "event_recall": round(e.recall, 4),
            "event_precision": round(e.precision, 4),
            "lenient_recall": round(e.lenient_recall, 4),
            "lenient_precision": round(e.lenient_precision, 4),
            "matched": e.matched,
            "oracle_tracks": e.oracle,
            "fp_duplicates": e.duplicates,
            "fp_spurious": e.spurious,
            "fn_merged": e.merged,
            "fn_missed": e.missed,
        }


@dataclass(slots=True, frozen=True)
class ModeRow:
    """One mode: its accuracy, what it uploaded and what the edge spent."""

    row: ScoredRow
    uplink_bytes: int
    uplink_ratio: float
    cloud_calls: int
    edge_cpu_s: float | None

    def to_json(self) -> dict[str, Any]:
        """Return the row as JSON-ready values."""
        return {
            **self.row.to_json(),
            "uplink_bytes": self.uplink_bytes,
            "uplink_ratio": round(self.uplink_ratio, 6),
            "cloud_calls": self.cloud_calls,
            "edge_cpu_s": None if self.edge_cpu_s is None else round(self.edge_cpu_s, 2),
        }


@dataclass(slots=True, frozen=True)
class BandRow:
    """The hybrid at one escalation band."""

    band: Band
    row: ScoredRow
    uplink_bytes: int
    uplink_ratio: float
    cloud_calls: int
    rejected: int
    """Hard cases the cloud did not confirm (dropped)."""

    def to_json(self) -> dict[str, Any]:
        """Return the row as JSON-ready values."""
        return {
            "band": [self.band.low, self.band.high],
            "cloud_rejected": self.rejected,
            **self.row.to_json(),
            "uplink_bytes": self.uplink_bytes,
            "uplink_ratio": round(self.uplink_ratio, 6),
            "cloud_calls": self.cloud_calls,
        }


def mode_row(
    name: str, reported: Sequence[TrackPath], oracle: Sequence[TrackPath], frames: Sequence[int]
) -> ScoredRow:
    """Score reported tracks against the oracle's tracks."""
    presence = frame_presence(frames_with_boxes(reported), frames_with_boxes(oracle), frames)
    return ScoredRow(name, len(reported), presence, match_events(reported, oracle))


def print_table(
    modes: Sequence[ModeRow], bands: Sequence[BandRow], *, oracle_tracks: int, frames: int
) -> None:
    """Print the modes and the band sweep as aligned text."""
    print(f"{frames} frames, {oracle_tracks} oracle tracks (one-to-one: IoU>=0.3 or centre in box,")
    print("greedy by matched frames, >=3 frames; lenient: any match of >=3 frames)")
    print("dup: 2nd track on a person, spur: on nobody, grp: person only inside a group track")
    head = (
        f"{'mode':<22}{'uplink B':>11}{'ratio':>9}{'calls':>6}{'fP':>6}{'fR':>6}{'fF1':>6}"
        f"{'evR':>6}{'evP':>6}{'lenR':>6}{'lenP':>6}{'trk':>5}{'dup':>5}{'spur':>5}"
        f"{'grp':>5}{'miss':>5}{'cpu s':>7}"
    )
    print(head)
    for m in modes:
        cpu = "-" if m.edge_cpu_s is None else f"{m.edge_cpu_s:.1f}"
        _line(m.row, m.uplink_bytes, m.uplink_ratio, m.cloud_calls, cpu)
    print("band sweep (hybrid):")
    for b in bands:
        _line(b.row, b.uplink_bytes, b.uplink_ratio, b.cloud_calls, "")


def _line(row: ScoredRow, uplink: int, ratio: float, calls: int, cpu: str) -> None:
    p, e = row.presence, row.events
    print(
        f"{row.name:<22}{uplink:>11}{ratio * 100:>8.3f}%{calls:>6}{p.precision:>6.2f}"
        f"{p.recall:>6.2f}{p.f1:>6.2f}{e.recall:>6.2f}{e.precision:>6.2f}"
        f"{e.lenient_recall:>6.2f}{e.lenient_precision:>6.2f}{row.tracks:>5}{e.duplicates:>5}"
        f"{e.spurious:>5}{e.merged:>5}{e.missed:>5}{cpu:>7}"
    )


TARGET_RATIO_PCT = 0.5
_W, _H, _M = 860, 560, 70  # canvas and margin, pixels
_INK = (40, 40, 40)
_GRID = (220, 220, 220)
_POINT = (200, 120, 0)
_DEFAULT = (0, 0, 220)
_EDGE = (0, 150, 0)


@dataclass(slots=True, frozen=True)
class Axes:
    """A plot area on a canvas: x linear or log10 over [x_lo, x_hi], y from 0 to 1."""

    left: int
    top: int
    right: int
    bottom: int
    x_lo: float
    x_hi: float
    log_x: bool = False

    @classmethod
    def log_percent(
        cls, ratios_pct: Sequence[float], left: int, top: int, right: int, bottom: int
    ) -> Axes:
        """Log x axis over whole decades around `ratios_pct` (floored at 1e-4 %)."""
        lo = math.floor(math.log10(min(max(r, 1e-4) for r in ratios_pct)))
        hi = max(math.ceil(math.log10(max(max(r, 1e-4) for r in ratios_pct))), lo + 1)
        return cls(left, top, right, bottom, float(lo), float(hi), log_x=True)

    def xy(self, x: float, y: float) -> tuple[int, int]:
        """Canvas pixel of the point (x, y)."""
        fx = (
            (math.log10(max(x, 1e-4)) - self.x_lo) / (self.x_hi - self.x_lo)
            if self.log_x
            else (x - self.x_lo) / (self.x_hi - self.x_lo)
        )
        return (
            int(self.left + fx * (self.right - self.left)),
            int(self.bottom - y * (self.bottom - self.top)),
        )

    def draw(self, img: np.ndarray[Any, Any], x_ticks: Sequence[float] = ()) -> None:
        """Grid, tick labels (decades on a log axis, else `x_ticks`) and the frame."""
        if self.log_x:
            x_ticks = [10.0**k for k in range(int(self.x_lo), int(self.x_hi) + 1)]
        for t in x_ticks:
            x, _ = self.xy(t, 0)
            cv2.line(img, (x, self.top), (x, self.bottom), _GRID, 1)
            text(img, f"{t:g}%" if self.log_x else f"{t:g}", (x - 18, self.bottom + 22))
        for k in range(6):
            _, y = self.xy(10.0**self.x_lo if self.log_x else self.x_lo, k / 5)
            cv2.line(img, (self.left, y), (self.right, y), _GRID, 1)
            text(img, f"{k / 5:.1f}", (self.left - 40, y + 5))
        cv2.rectangle(img, (self.left, self.top), (self.right, self.bottom), _INK, 1)


def draw_band_plot(bands: Sequence[BandRow], default: Band, edge_recall: float, path: Path) -> None:
    """Draw uplink ratio (log x, % of all-cloud) against one-to-one event recall as a PNG."""
    img = np.full((_H, _W, 3), 255, np.uint8)
    ratios = [max(b.uplink_ratio * 100, 1e-4) for b in bands]
    axes = Axes.log_percent(ratios, _M, _M, _W - _M, _H - _M)
    xy = axes.xy
    lo = axes.x_lo
    axes.draw(img)
    xt, _ = xy(TARGET_RATIO_PCT, 0)
    if _M < xt < _W - _M:
        for y in range(_M, _H - _M, 12):
            cv2.line(img, (xt, y), (xt, y + 6), _DEFAULT, 1)
        text(img, "target 0.5%", (xt + 4, _M + 16), _DEFAULT)
    _, ye = xy(10.0**lo, edge_recall)
    for x in range(_M, _W - _M, 12):
        cv2.line(img, (x, ye), (x + 6, ye), _EDGE, 2)
    text(img, f"edge only {edge_recall:.2f}", (_M + 6, ye - 6), _EDGE)
    # Points are numbered; the legend (bottom right) gives each band's figures.
    top = _H - _M - 14 * len(bands) - 22
    cv2.rectangle(img, (_W - _M - 336, top), (_W - _M - 2, _H - _M - 2), (255, 255, 255), -1)
    for k, (b, r) in enumerate(zip(bands, ratios, strict=True), start=1):
        p = xy(r, b.row.events.recall)
        is_default = b.band == default
        colour = _DEFAULT if is_default else _POINT
        cv2.circle(img, p, 7 if is_default else 4, colour, -1)
        text(img, str(k), (p[0] - 4, p[1] - 10 - 12 * (k % 3)), colour)
        line = (
            f"{k:>2} [{b.band.low:g},{b.band.high:g}) {r:.3f}% R={b.row.events.recall:.2f} "
            f"P={b.row.events.precision:.2f} calls={b.cloud_calls}"
        )
        text(img, line, (_W - _M - 330, _H - _M - 14 * (len(bands) - k) - 8), colour)
    text(img, "uplink, % of all-cloud bytes (log)", (_W // 2 - 140, _H - 20))
    text(img, "one-to-one event recall vs the oracle (P: precision); red = default band", (_M, 40))
    cv2.imwrite(str(path), img)


def text(
    img: np.ndarray[Any, Any], words: str, at: tuple[int, int], colour: tuple[int, int, int] = _INK
) -> None:
    """Write `words` at `at` (the plots' one font)."""
    cv2.putText(img, words, at, cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
