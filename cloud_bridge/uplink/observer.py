"""What the delivery loops report, so the gateway can count it without us importing it."""

from __future__ import annotations

from typing import Protocol

from cloud_bridge.uplink.breaker import CircuitState
from cloud_bridge.uplink.hard_cases import Verdict

__all__ = ["NullObserver", "UplinkObserver"]


class UplinkObserver(Protocol):
    """Callbacks from a delivery loop; `channel` is `events` or `hard_cases`. Never raise."""

    def attempt(self, channel: str) -> None:
        """A request is about to go out."""

    def delivered(self, channel: str, *, items: int, wire_bytes: int, round_trip_ms: float) -> None:
        """The cloud acknowledged `items` items."""

    def failed(self, channel: str, reason: str) -> None:
        """A request failed (`reason`: timeout, connection, tls, http_5xx, ...)."""

    def dropped(self, channel: str, reason: str, items: int) -> None:
        """The cloud refused items for good; they left the outbox unsent."""

    def circuit(self, channel: str, state: CircuitState) -> None:
        """The breaker's state, after every change."""

    def budget_wait(self, channel: str, seconds: float) -> None:
        """An item waits for the budget."""

    def verdict(self, verdict: Verdict) -> None:
        """A hard case was judged."""


class NullObserver:
    """Count nothing."""

    def attempt(self, channel: str) -> None:
        """Ignore."""

    def delivered(self, channel: str, *, items: int, wire_bytes: int, round_trip_ms: float) -> None:
        """Ignore."""

    def failed(self, channel: str, reason: str) -> None:
        """Ignore."""

    def dropped(self, channel: str, reason: str, items: int) -> None:
        """Ignore."""

    def circuit(self, channel: str, state: CircuitState) -> None:
        """Ignore."""

    def budget_wait(self, channel: str, seconds: float) -> None:
        """Ignore."""

    def verdict(self, verdict: Verdict) -> None:
        """Ignore."""
