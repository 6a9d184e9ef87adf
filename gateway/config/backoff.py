"""`BackoffConfig`: the one retry backoff model (MQTT reconnects, camera sources, model loading)."""

from __future__ import annotations

from typing import Self

from pydantic import Field, model_validator

from gateway.backoff import Backoff
from gateway.config.base import Section


class BackoffConfig(Section):
    """Retry backoff: exponential with full jitter, from `min_delay_s` up to `max_delay_s`."""

    min_delay_s: float = Field(1.0, gt=0.0, le=600.0, description="First retry delay (seconds).")
    max_delay_s: float = Field(30.0, gt=0.0, le=3600.0, description="Cap on the retry delay.")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_delay_s < self.min_delay_s:
            msg = "max_delay_s must be >= min_delay_s"
            raise ValueError(msg)
        return self

    def backoff(self) -> Backoff:
        """Return a fresh `Backoff` with these delays."""
        return Backoff(self.min_delay_s, self.max_delay_s)
