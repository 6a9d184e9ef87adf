"""The durable outbox: items wait here, on disk, until the cloud acknowledges them.

    with Outbox(path, policies={"events": ClassPolicy(max_bytes=50_000_000, ttl_s=86_400)}) as ob:
        ob.put(OutboxItem(id=event_id, klass="events", priority=5, created=ts, payload=body))
        batch = ob.lease("events", 100, max_bytes=1_000_000)
        ...send batch; on the cloud's acknowledgement:
        ob.ack(item.id for item in batch)

SQLite (stdlib) in WAL mode with synchronous=FULL; bounded by bytes per class (lowest
priority, oldest evicted first), TTL per class; every drop is counted, and the counters
persist in the database.
"""

from cloud_bridge.outbox._model import (
    ClassPolicy,
    ClassStats,
    OutboxItem,
    OutboxStats,
    PutResult,
    PutStatus,
)
from cloud_bridge.outbox._schema import Check
from cloud_bridge.outbox._store import Outbox

__all__ = [
    "Check",
    "ClassPolicy",
    "ClassStats",
    "Outbox",
    "OutboxItem",
    "OutboxStats",
    "PutResult",
    "PutStatus",
]
