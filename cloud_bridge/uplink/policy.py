"""Retry policy (exponential backoff, full jitter) and the classification of failures.

`cloud_bridge` cannot import `gateway.backoff`, and the retry loop lives here beside the
outbox it drains (see `cloud_bridge.uplink.delivery`), so the policy is its own small
value object; the gateway builds it from its config.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from cloud_bridge.errors import (
    UplinkConnectionError,
    UplinkError,
    UplinkHTTPError,
    UplinkProtocolError,
    UplinkRefused,
    UplinkTimeout,
)

__all__ = ["Failure", "RetryPolicy", "classify"]

# A well-formed request the cloud will never take: retrying cannot help (RFC 9110 15.5).
# 501 (Not Implemented: KServe's answer to any `/versions/{v}/` route) and 505 (HTTP
# Version Not Supported) are 5xx but say the same of this request, not the server's health.
_PERMANENT_STATUSES = frozenset({400, 413, 415, 422, 501, 505})
# MQTT 5 reason codes that refuse the message itself, not the session: Packet too large,
# Payload format invalid (MQTT 5 section 2.4). Not authorized (0x87), Quota exceeded
# (0x97) and the rest are about the deployment: keep the items and retry.
_PERMANENT_MQTT_CODES = frozenset({0x95, 0x99})


@dataclass(slots=True)
class RetryPolicy:
    """Delay before retry n: uniform(0, min(cap_s, base_s * 2**n)), never below base_s/10.

    `delay()` counts the attempt; `reset()` after a success. A server's `Retry-After`
    is honoured as a floor (capped at `max_retry_after_s`, so a hostile header cannot
    park the uplink for a day).
    """

    base_s: float
    cap_s: float
    max_retry_after_s: float = 300.0
    rng: random.Random = field(default_factory=random.Random)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.cap_s:
            raise ValueError(f"need 0 < base_s <= cap_s, got {self.base_s}, {self.cap_s}")

    def delay(self, retry_after: float | None = None) -> float:
        """Return the delay before the next attempt and count this one."""
        ceiling = min(self.cap_s, self.base_s * (2 ** min(self.attempt, 32)))
        self.attempt += 1
        # Full jitter, but never zero: a zero delay would busy-loop against a dead cloud.
        jittered = max(self.base_s / 10, self.rng.uniform(0, ceiling))
        if retry_after is not None:
            return max(jittered, min(retry_after, self.max_retry_after_s))
        return jittered

    def reset(self) -> None:
        """Start again from the base delay."""
        self.attempt = 0


@dataclass(slots=True, frozen=True)
class Failure:
    """What one failed call means for delivery.

    `reason` is a short stats label; `permanent` says the cloud refused these items for
    good (they are dropped and counted, not retried); `retry_after` is the server's hint.
    """

    reason: str
    permanent: bool = False
    retry_after: float | None = None

    @property
    def counts_against_breaker(self) -> bool:
        """Whether this failure says the endpoint is unhealthy (not just our items)."""
        return not self.permanent


def classify(exc: UplinkError) -> Failure:
    """Map an uplink error to a `Failure`."""
    if isinstance(exc, UplinkTimeout):
        return Failure("timeout")
    if isinstance(exc, UplinkConnectionError):
        return Failure("tls" if exc.tls else "connection")
    if isinstance(exc, UplinkProtocolError):
        return Failure("protocol")
    if isinstance(exc, UplinkRefused):
        slug = re.sub(r"[^a-z0-9]+", "_", exc.name.lower()).strip("_") or f"code_{exc.code}"
        permanent = exc.stage == "publish" and exc.code in _PERMANENT_MQTT_CODES
        return Failure(slug, permanent=permanent)
    if isinstance(exc, UplinkHTTPError):
        if exc.status in _PERMANENT_STATUSES:
            return Failure(f"http_{exc.status}", permanent=True)
        if exc.status == 429:
            return Failure("http_429", retry_after=exc.retry_after)
        if exc.status >= 500:
            return Failure("http_5xx", retry_after=exc.retry_after)
        # 401/403/404/408...: a config or deployment problem; keep the items and retry.
        return Failure(f"http_{exc.status}", retry_after=exc.retry_after)
    return Failure("other")
