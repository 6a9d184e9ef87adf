"""Liveness: a device silent for longer than its expected interval is offline."""

from __future__ import annotations

import time
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Silence:
    """A device that just went offline."""

    device: str
    silent_s: float
    last_seen: float | None
    """Unix time of its last message; None if it was never heard from."""


@dataclass(slots=True, frozen=True)
class Return:
    """A device that reported again after being offline."""

    device: str
    offline_s: float


class Liveness:
    """Last-seen times of the devices of one sensor, on the monotonic clock."""

    __slots__ = ("_expected_s", "_last", "_never_seen", "_offline")

    def __init__(self, expected_s: float, *, devices: tuple[str, ...] = (), now: float) -> None:
        self._expected_s = expected_s
        # Devices named in the config are expected from the start, heard from or not.
        self._last: dict[str, float] = dict.fromkeys(devices, now)
        self._never_seen: set[str] = set(devices)
        self._offline: dict[str, float] = {}

    def seen(self, device: str, now: float) -> Return | None:
        """Note a message of `device` at monotonic `now`; a Return if it was offline."""
        self._last[device] = now
        if self._never_seen:
            self._never_seen.discard(device)
        if self._offline:
            went = self._offline.pop(device, None)
            if went is not None:
                return Return(device, now - went)
        return None

    def expect(self, device: str, now: float) -> None:
        """Expect `device` (known from a previous run) from `now` on, if not already tracked."""
        self._last.setdefault(device, now)

    def expire(self, now: float) -> list[Silence]:
        """Mark devices silent past the expected interval offline; return the new ones."""
        out: list[Silence] = []
        wall = time.time()
        for device, last in self._last.items():
            silent = now - last
            if silent > self._expected_s and device not in self._offline:
                self._offline[device] = now
                seen = None if device in self._never_seen else wall - silent
                out.append(Silence(device, silent, seen))
        return out

    def online(self) -> int:
        """How many tracked devices are not offline."""
        return len(self._last) - len(self._offline)

    def next_deadline(self) -> float:
        """Monotonic time at which the next online device would turn offline."""
        online = [t for d, t in self._last.items() if d not in self._offline]
        return min(online, default=float("inf")) + self._expected_s
