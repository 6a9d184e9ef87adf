"""The cloud sink: which events go upstream, as which outbox items, and the outbox writer.

`Events.emit` calls the sink on the event loop; the sink only appends to an in-memory
handoff and wakes the writer, which commits batches with `put_many` in a worker thread
(one fsync per batch). So a slow disk or a dead cloud never blocks the MQTT loop or a
camera. The honest price: an event is durable when its batch commits, typically a few
milliseconds after `emit` returned; a SIGKILL inside that window loses what is still in
the handoff. `OutboxWriter.flush()` waits for the commit when a caller needs the promise.
"""

from __future__ import annotations

import asyncio
import fnmatch
import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from cloud_bridge.errors import OutboxError
from cloud_bridge.outbox import ClassPolicy, Outbox, OutboxItem, PutResult
from cloud_bridge.uplink import HardCase
from gateway.backoff import Backoff
from gateway.config.cloud import CloudSection
from gateway.events import Event, Kind
from gateway.logs import RateLimitedLog
from gateway.payloads import HardCaseData
from gateway.stats_registry import Stats

__all__ = [
    "EVENTS",
    "HARD_CASES",
    "HARD_CASE_KIND",
    "VERDICT_KIND",
    "EventRouter",
    "OutboxWriter",
    "class_policies",
    "hard_case_data",
]

log = logging.getLogger(__name__)
_limited = RateLimitedLog(log)

EVENTS = "events"
HARD_CASES = "hard_cases"
HARD_CASE_KIND = Kind.VISION_HARD_CASE
VERDICT_KIND = Kind.CLOUD_VERDICT
# Outbox priority = event priority * this + a rank within it (hard cases: uncertainty),
# so leases go by event priority first, then most uncertain, then oldest.
_PRIORITY_STRIDE = 1000
_CASE = "case"  # the key of the edge's HardCaseData in HardCase.extra


def class_policies(cfg: CloudSection) -> dict[str, ClassPolicy]:
    """The outbox classes and their bounds."""
    return {
        EVENTS: ClassPolicy(cfg.outbox.events.max_bytes, cfg.outbox.events.ttl_s),
        HARD_CASES: ClassPolicy(cfg.outbox.hard_cases.max_bytes, cfg.outbox.hard_cases.ttl_s),
    }


@dataclass(slots=True, frozen=True)
class EventRouter:
    """Decide what of an event goes upstream, as which outbox item (None: nothing)."""

    forward_kinds: tuple[str, ...]
    drop_kinds: tuple[str, ...]

    @classmethod
    def from_config(cls, cfg: CloudSection) -> EventRouter:
        """Build from the `cloud:` section."""
        return cls(tuple(cfg.forward_kinds), tuple(cfg.drop_kinds))

    def forwards(self, kind: str) -> bool:
        """Whether events of `kind` go upstream; verdicts never go back up."""
        if kind == VERDICT_KIND or any(fnmatch.fnmatchcase(kind, p) for p in self.drop_kinds):
            return False
        return any(fnmatch.fnmatchcase(kind, p) for p in self.forward_kinds)

    def to_item(self, event: Event) -> OutboxItem | None:
        """The outbox item for `event`, or None when it stays local."""
        if not self.forwards(event.kind):
            return None
        if event.kind == HARD_CASE_KIND:
            case = self._hard_case(event)
            if case is not None and event.media is not None:
                rank = round(case.uncertainty * (_PRIORITY_STRIDE - 1))
                return OutboxItem(
                    id=event.id,
                    klass=HARD_CASES,
                    priority=int(event.priority) * _PRIORITY_STRIDE + rank,
                    created=event.ts,
                    payload=case.to_payload(),
                    media=event.media,
                )
            if case is not None:
                _limited.warning(
                    "hard-case", "hard case %s has no image; sent as an event", event.id
                )
        return OutboxItem(
            id=event.id,
            klass=EVENTS,
            priority=int(event.priority) * _PRIORITY_STRIDE,
            created=event.ts,
            payload=event.to_json(),
        )

    def _hard_case(self, event: Event) -> HardCase | None:
        try:
            data = HardCaseData.model_validate(event.data)
        except ValidationError as exc:
            _limited.warning(
                "hard-case-data", "hard case %s: bad data (%s); sent as an event", event.id, exc
            )
            return None
        return HardCase(
            id=event.id,
            source=event.source,
            label=data.label,
            score=data.score,
            band_middle=data.band_middle,
            extra={_CASE: data.to_data(), "ts": event.ts, "priority": int(event.priority)},
        )


def hard_case_data(case: HardCase) -> HardCaseData | None:
    """Return the edge's `HardCaseData` a hard case carries (None: an item from before it)."""
    try:
        return HardCaseData.model_validate(case.extra.get(_CASE))
    except ValidationError:
        return None


class OutboxWriter:
    """Take events from `Events` (the sink), commit them in batches, wake the senders.

    A supervised component. `accept` may be called from any thread; `flush()` waits
    until everything accepted before it is committed.
    """

    name = "cloud-outbox-writer"

    def __init__(
        self,
        *,
        outbox: Outbox,
        router: EventRouter,
        stats: Stats,
        max_items: int,
        on_stored: Callable[[Sequence[OutboxItem]], None],
        batch_items: int = 500,
    ) -> None:
        self._outbox = outbox
        self._router = router
        self._max_items = max_items
        self._on_stored = on_stored
        self._batch_items = batch_items
        self._pending: deque[OutboxItem] = deque()
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._accepted = 0
        self._committed = 0
        self._progress = asyncio.Condition()
        self._dropped = stats.counter(
            "cloud_handoff_dropped", "Events dropped before the outbox: handoff full."
        )
        self._put = stats.counter(
            "cloud_outbox_put", "Outbox puts, by class and result.", ["klass", "status"]
        )
        stats.gauge_fn(
            "cloud_handoff_depth", "Events waiting in memory for the outbox.", self.depth
        )

    def depth(self) -> float:
        """Events accepted but not yet committed."""
        return float(len(self._pending))

    def __call__(self, event: Event) -> None:
        """The `Events` sink: route `event`, hand its item to the writer."""
        item = self._router.to_item(event)
        if item is None:
            return
        if threading.get_ident() == self._loop_thread:
            self._accept(item)
        else:
            self._loop.call_soon_threadsafe(self._accept, item)

    def _accept(self, item: OutboxItem) -> None:
        if len(self._pending) >= self._max_items:
            self._dropped.inc()
            _limited.warning("handoff-full", "cloud handoff full: event %s dropped", item.id)
            return
        self._pending.append(item)
        self._accepted += 1
        self._wake.set()

    async def flush(self) -> None:
        """Wait until every item accepted so far is committed to the outbox."""
        target = self._accepted
        async with self._progress:
            await self._progress.wait_for(lambda: self._committed >= target)

    async def run(self) -> None:
        """Commit batches until cancelled; on cancel, commit what is left."""
        backoff = Backoff(0.1, 5.0)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    batch = [
                        self._pending.popleft()
                        for _ in range(min(self._batch_items, len(self._pending)))
                    ]
                    try:
                        results = await asyncio.to_thread(self._outbox.put_many, batch)
                    except OutboxError as exc:
                        self._pending.extendleft(reversed(batch))
                        delay = backoff.next_delay()
                        log.error("outbox write failed (%s); retrying in %.1fs", exc, delay)
                        await asyncio.sleep(delay)
                        continue
                    backoff.reset()
                    await self._committed_batch(batch, results)
        finally:
            self._final_drain()

    async def _committed_batch(self, batch: list[OutboxItem], results: list[PutResult]) -> None:
        for item, result in zip(batch, results, strict=True):
            self._put.labels(item.klass, result.status.value).inc()
        async with self._progress:
            self._committed += len(batch)
            self._progress.notify_all()
        self._on_stored(batch)

    def _final_drain(self) -> None:
        if not self._pending:
            return
        batch = list(self._pending)
        self._pending.clear()
        try:
            self._outbox.put_many(batch)  # shutdown: blocking once is fine
            self._committed += len(batch)
        except OutboxError as exc:
            log.error("outbox: %d event(s) lost at shutdown: %s", len(batch), exc)
