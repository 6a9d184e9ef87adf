"""The data that crosses the outbox boundary: items in, results and stats out."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class OutboxItem:
    """One thing waiting to go upstream.

    `id` is time-ordered and unique, given by the caller; it is the idempotency key both
    here (a second put with the same id is ignored) and at the cloud (at-least-once
    delivery means the cloud may see it twice). The item's size, which the byte cap and
    `lease(max_bytes=...)` count, is ``len(payload) + len(media or b"")``.
    """

    id: str
    klass: str
    priority: int
    created: float
    payload: bytes
    media: bytes | None = None
    attempts: int = 0

    @property
    def size(self) -> int:
        """Bytes this item counts against its class cap."""
        return len(self.payload) + (len(self.media) if self.media is not None else 0)


@dataclass(slots=True, frozen=True)
class ClassPolicy:
    """Bounds for one class: at most `max_bytes` stored, each item kept at most `ttl_s`."""

    max_bytes: int
    ttl_s: float

    def __post_init__(self) -> None:
        if self.max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {self.max_bytes}")
        if self.ttl_s <= 0:
            raise ValueError(f"ttl_s must be positive, got {self.ttl_s}")


class PutStatus(enum.Enum):
    """What became of a put item."""

    STORED = "stored"
    """Committed; it will be leased until acked, evicted or expired."""
    DUPLICATE = "duplicate"
    """An item with this id is already stored; nothing changed (idempotent put)."""
    EVICTED = "evicted"
    """Not kept: larger than the class cap, or it ranks lowest among what had to go."""
    EXPIRED = "expired"
    """Not kept: already older than the class TTL when it arrived."""


@dataclass(slots=True, frozen=True)
class PutResult:
    """The fate of one put; `evicted` lists the ids of *other* items dropped for room."""

    status: PutStatus
    evicted: tuple[str, ...] = ()

    @property
    def stored(self) -> bool:
        """Whether the item is in the outbox now (or already was, for a duplicate)."""
        return self.status in (PutStatus.STORED, PutStatus.DUPLICATE)


@dataclass(slots=True, frozen=True)
class ClassStats:
    """Gauges and counters of one class.

    Counters persist across restarts (they live in the database, updated in the same
    transaction as the change they count). Every item counted in `put` leaves through
    exactly one of `acked`, `evicted`, `expired`, so ``put == depth + acked + evicted +
    expired`` (items dropped on arrival count in `put` and in `evicted`/`expired`).
    """

    depth: int
    bytes: int
    put: int = 0
    duplicates: int = 0
    evicted: int = 0
    expired: int = 0
    acked: int = 0
    oldest: float | None = None
    """Creation time (Unix) of the oldest item waiting, None when empty."""


@dataclass(slots=True, frozen=True)
class OutboxStats:
    """Per-class stats and their totals."""

    classes: Mapping[str, ClassStats]
    depth: int
    bytes: int
    put: int
    duplicates: int
    evicted: int
    expired: int
    acked: int

    @classmethod
    def from_classes(cls, classes: Mapping[str, ClassStats]) -> OutboxStats:
        """Sum per-class stats into totals."""
        values = classes.values()
        return cls(
            classes=dict(classes),
            depth=sum(c.depth for c in values),
            bytes=sum(c.bytes for c in values),
            put=sum(c.put for c in values),
            duplicates=sum(c.duplicates for c in values),
            evicted=sum(c.evicted for c in values),
            expired=sum(c.expired for c in values),
            acked=sum(c.acked for c in values),
        )
