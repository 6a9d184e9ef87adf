"""The plot drawing the hybrid benches share (bench.sweep): axes and text, with OpenCV."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

__all__ = ["Axes", "text"]


_W, _H, _M = 860, 560, 70  # canvas and margin, pixels
_INK = (40, 40, 40)
_GRID = (220, 220, 220)


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


def text(
    img: np.ndarray[Any, Any], words: str, at: tuple[int, int], colour: tuple[int, int, int] = _INK
) -> None:
    """Write `words` at `at` (the plots' one font)."""
    cv2.putText(img, words, at, cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1, cv2.LINE_AA)
