"""SQLite store of the events gateways upload, deduplicated by event id.

The event id is the idempotency key of the at-least-once uplink: a gateway that never
saw our acknowledgement sends the same event again, and it is stored once.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, Self

__all__ = ["EventSink", "StoreResult"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    kind TEXT,
    received_at REAL NOT NULL,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_kind ON events (kind, seq);
"""


@dataclass(slots=True, frozen=True)
class StoreResult:
    """Which event ids of one batch were new, and which were already stored."""

    accepted: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)


class EventSink:
    """Store events in one SQLite file (WAL); thread-safe, blocking: call off the loop.

    Use as ``with EventSink(path) as sink:``; ``":memory:"`` keeps nothing on disk.
    """

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None

    def open(self) -> None:
        """Open (and create if needed) the database."""
        db = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a committed batch survives a process crash; an OS crash may
        # lose the last commits, which the gateways resend (at-least-once).
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        self._db = db

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> Self:
        """Open the database."""
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the database."""
        self.close()

    def store(self, events: Sequence[Mapping[str, Any]]) -> StoreResult:
        """Store a batch in one transaction; an id seen before (or earlier in it) is a duplicate.

        Each event must be a mapping with a non-empty string `id` (ValueError otherwise,
        and nothing of the batch is stored).
        """
        rows: list[tuple[str, str | None, str]] = []
        for index, event in enumerate(events):
            event_id = event.get("id")
            if not isinstance(event_id, str) or not event_id:
                raise ValueError(f"event {index} has no string 'id'")
            kind = event.get("kind")
            rows.append((event_id, kind if isinstance(kind, str) else None, json.dumps(event)))
        result = StoreResult()
        now = time.time()
        with self._lock:
            db = self._connection()
            with db:  # one transaction for the batch
                db.execute("BEGIN")
                for event_id, kind, body in rows:
                    cur = db.execute(
                        "INSERT OR IGNORE INTO events (id, kind, received_at, body)"
                        " VALUES (?, ?, ?, ?)",
                        (event_id, kind, now, body),
                    )
                    target = result.accepted if cur.rowcount == 1 else result.duplicates
                    target.append(event_id)
        return result

    def query(self, *, kind: str | None = None, limit: int = 1000) -> list[dict[str, Any]]:
        """Return stored events in arrival order, optionally only one `kind`."""
        sql = "SELECT body FROM events"
        args: tuple[Any, ...] = ()
        if kind is not None:
            sql += " WHERE kind = ?"
            args = (kind,)
        sql += " ORDER BY seq LIMIT ?"
        with self._lock:
            rows = self._connection().execute(sql, (*args, limit)).fetchall()
        return [json.loads(body) for (body,) in rows]

    def count(self) -> int:
        """Return how many events are stored."""
        with self._lock:
            (n,) = self._connection().execute("SELECT COUNT(*) FROM events").fetchone()
        return int(n)

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("EventSink is not open")
        return self._db
