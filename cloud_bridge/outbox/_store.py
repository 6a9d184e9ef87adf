"""The Outbox: a durable, bounded, priority-ordered queue of items for the cloud."""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from cloud_bridge.errors import OutboxError
from cloud_bridge.outbox._model import (
    ClassPolicy,
    ClassStats,
    OutboxItem,
    OutboxStats,
    PutResult,
    PutStatus,
)
from cloud_bridge.outbox._schema import Check, open_database

log = logging.getLogger(__name__)

# Stay well under SQLITE_MAX_VARIABLE_NUMBER (32766 since 3.32, 999 before).
_IDS_PER_STATEMENT = 500
_COUNTERS = ("put", "duplicates", "evicted", "expired", "acked")
_COLUMNS = "id, klass, priority, created, payload, media, size, attempts"


class Outbox:
    """A durable outbox in one SQLite file (WAL, synchronous=FULL).

    An item is on disk when `put` returns and leaves only through `ack` (the cloud took
    it), eviction (its class is over `max_bytes`) or expiry (older than `ttl_s`); each
    exit is counted. Delivery is at-least-once: `lease` does not hide what it returns,
    so one consumer per class should lease, send and ack; a lease that is never acked
    returns the same items next time, with `attempts` grown by one.

    One connection, serialised by a lock, so any thread may call (the gateway uses
    `asyncio.to_thread`). Every method may raise OutboxError; none raises sqlite3 errors.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        policies: Mapping[str, ClassPolicy],
        clock: Callable[[], float] = time.time,
        check: Check = "auto",
    ) -> None:
        """Open or create the outbox at `path`.

        `check` says how much to verify on open (see `Check`; by default quick_check
        after an unclean shutdown only); a failed check raises OutboxError, as does a
        file that is not an outbox database. Classes stored but absent from `policies`
        are still leased and acked, but have no cap and no TTL until a policy names them
        again.
        """
        self._path = Path(path)
        self._policies = dict(policies)
        self._clock = clock
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = open_database(self._path, check=check)

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the database; later calls raise OutboxError. Closing twice is fine."""
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error as exc:
                raise OutboxError(self._path, f"close failed: {exc}") from exc

    def put(self, item: OutboxItem) -> PutResult:
        """Store `item` durably (committed and fsynced on return), within its class cap.

        Duplicate id: nothing changes, DUPLICATE. Older than the TTL: EXPIRED, not kept.
        Larger than the cap: EVICTED, nothing else touched. Otherwise the item is
        inserted and, while the class is over its cap, items leave lowest priority
        first, then oldest (`created`), then lowest id. If the walk reaches the new item
        and dropping it alone is enough, only it goes (EVICTED): room is never made for
        an item only to drop it too. Raises OutboxError for a class without a policy.
        """
        (result,) = self.put_many([item])
        return result

    def put_many(self, items: Sequence[OutboxItem]) -> list[PutResult]:
        """Put each item as `put` would, in one transaction: one fsync for the batch.

        All or nothing: on OutboxError (a class without a policy, a disk error) none of
        the items is stored. Results are in the order of `items`.
        """
        for item in items:
            if item.klass not in self._policies:
                raise OutboxError(self._path, f"no policy for class {item.klass!r}")
        with self._transaction() as conn:
            now = self._clock()
            return [self._put_one(conn, item, now) for item in items]

    def _put_one(self, conn: sqlite3.Connection, item: OutboxItem, now: float) -> PutResult:
        policy = self._policies[item.klass]
        size = item.size
        self._expire(conn, item.klass, policy, now)
        if conn.execute("SELECT 1 FROM items WHERE id = ?", (item.id,)).fetchone():
            _bump(conn, item.klass, duplicates=1)
            return PutResult(PutStatus.DUPLICATE)
        if _is_expired(item.created, policy, now):
            _bump(conn, item.klass, put=1, expired=1)
            return PutResult(PutStatus.EXPIRED)
        if size > policy.max_bytes:
            _bump(conn, item.klass, put=1, evicted=1)
            log.warning(
                "outbox: %s item %s of %d bytes exceeds the class cap of %d; dropped",
                item.klass, item.id, size, policy.max_bytes,
            )  # fmt: skip
            return PutResult(PutStatus.EVICTED)
        conn.execute(
            f"INSERT INTO items ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            (item.id, item.klass, item.priority, item.created, item.payload, item.media, size),
        )
        victims = _choose_victims(conn, item.klass, policy.max_bytes, item.id)
        _delete(conn, victims)
        _bump(conn, item.klass, put=1, evicted=len(victims))
        if victims:
            log.debug("outbox: %s over cap, evicted %d item(s)", item.klass, len(victims))
        others = tuple(v for v in victims if v != item.id)
        status = PutStatus.EVICTED if len(others) != len(victims) else PutStatus.STORED
        return PutResult(status, others)

    def lease(
        self, klass: str | None, limit: int, *, max_bytes: int | None = None
    ) -> list[OutboxItem]:
        """Return up to `limit` items to send: highest priority first, then oldest.

        `klass=None` leases across all classes (sorted without an index; prefer one
        class per consumer). Expired items met on the way are deleted and counted, not
        returned. With `max_bytes`, items are taken in order while their sizes sum to at
        most `max_bytes`, except that the first is always taken, so an item larger than
        the budget cannot block its class. Each returned item's attempt is recorded;
        `attempts` on the result includes it (1 on the first lease).
        """
        if limit <= 0:
            return []
        with self._transaction() as conn:
            now = self._clock()
            if klass is None:
                for name, each in self._policies.items():
                    self._expire(conn, name, each, now)
                cursor = conn.execute(
                    f"SELECT {_COLUMNS} FROM items ORDER BY priority DESC, created, id LIMIT ?",
                    (limit,),
                )
            else:
                own = self._policies.get(klass)
                if own is not None:
                    self._expire(conn, klass, own, now)
                cursor = conn.execute(
                    f"SELECT {_COLUMNS} FROM items WHERE klass = ?"
                    " ORDER BY priority DESC, created, id LIMIT ?",
                    (klass, limit),
                )
            items = _take_within(cursor, max_bytes)
            for chunk in _chunks([i.id for i in items]):
                conn.execute(
                    f"UPDATE items SET attempts = attempts + 1 WHERE id IN ({_marks(chunk)})",
                    chunk,
                )
        return items

    def ack(self, ids: Iterable[str]) -> int:
        """Delete delivered items (call only on the cloud's acknowledgement).

        Returns how many were deleted; ids not present (already acked, evicted or
        expired) are ignored.
        """
        acked: Counter[str] = Counter()
        with self._transaction() as conn:
            for chunk in _chunks(list(ids)):
                rows = conn.execute(
                    f"DELETE FROM items WHERE id IN ({_marks(chunk)}) RETURNING klass", chunk
                ).fetchall()
                acked.update(klass for (klass,) in rows)
            for klass, count in acked.items():
                _bump(conn, klass, acked=count)
        return acked.total()

    def stats(self) -> OutboxStats:
        """Depth and bytes per class (every class with a policy or with items), counters."""
        with self._transaction(write=False) as conn:
            totals = {k: (d, b) for k, d, b in conn.execute("SELECT * FROM class_totals")}
            # One index seek per class (items_expire: klass, created).
            oldest = dict(
                conn.execute("SELECT klass, MIN(created) FROM items GROUP BY klass").fetchall()
            )
            counters: dict[str, dict[str, int]] = {}
            for klass, name, value in conn.execute("SELECT klass, name, value FROM counters"):
                counters.setdefault(klass, {})[name] = value
        classes = {}
        for klass in sorted(self._policies.keys() | totals.keys() | counters.keys()):
            depth, size = totals.get(klass, (0, 0))
            counts = counters.get(klass, {})
            classes[klass] = ClassStats(
                depth=depth,
                bytes=size,
                oldest=oldest.get(klass),
                **{name: counts.get(name, 0) for name in _COUNTERS},
            )
        return OutboxStats.from_classes(classes)

    @contextmanager
    def _transaction(self, *, write: bool = True) -> Iterator[sqlite3.Connection]:
        """Hold the lock and a transaction; commit on success, roll back on any error."""
        with self._lock:
            conn = self._conn
            if conn is None:
                raise OutboxError(self._path, "outbox is closed")
            try:
                # IMMEDIATE takes the write lock up front: no deadlock-prone upgrade later.
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as exc:
                raise OutboxError(self._path, str(exc)) from exc

    def _expire(
        self, conn: sqlite3.Connection, klass: str, policy: ClassPolicy, now: float
    ) -> None:
        cursor = conn.execute(
            "DELETE FROM items WHERE klass = ? AND created < ?", (klass, now - policy.ttl_s)
        )
        if cursor.rowcount > 0:
            _bump(conn, klass, expired=cursor.rowcount)
            log.debug("outbox: %s expired %d item(s)", klass, cursor.rowcount)


def _is_expired(created: float, policy: ClassPolicy, now: float) -> bool:
    return created < now - policy.ttl_s


def _choose_victims(conn: sqlite3.Connection, klass: str, max_bytes: int, new_id: str) -> list[str]:
    (stored,) = conn.execute("SELECT bytes FROM class_totals WHERE klass = ?", (klass,)).fetchone()
    excess = stored - max_bytes
    if excess <= 0:
        return []
    victims: list[str] = []
    freed = 0
    cursor = conn.execute(
        "SELECT id, size FROM items WHERE klass = ? ORDER BY priority, created, id", (klass,)
    )
    try:
        for item_id, size in cursor:
            if item_id == new_id and size >= excess:
                # The state before this put was within the cap (unless the cap was
                # lowered since): dropping the new item alone restores it.
                return [new_id]
            victims.append(item_id)
            freed += size
            if freed >= excess:
                break
    finally:
        cursor.close()
    return victims


def _take_within(cursor: sqlite3.Cursor, max_bytes: int | None) -> list[OutboxItem]:
    items: list[OutboxItem] = []
    used = 0
    try:
        for item_id, klass, priority, created, payload, media, size, attempts in cursor:
            if items and max_bytes is not None and used + size > max_bytes:
                break
            used += size
            items.append(
                OutboxItem(
                    id=item_id,
                    klass=klass,
                    priority=priority,
                    created=created,
                    payload=payload,
                    media=media,
                    attempts=attempts + 1,
                )
            )
    finally:
        cursor.close()
    return items


def _delete(conn: sqlite3.Connection, ids: Sequence[str]) -> None:
    for chunk in _chunks(ids):
        conn.execute(f"DELETE FROM items WHERE id IN ({_marks(chunk)})", chunk)


def _bump(conn: sqlite3.Connection, klass: str, **deltas: int) -> None:
    conn.executemany(
        "INSERT INTO counters (klass, name, value) VALUES (?, ?, ?)"
        " ON CONFLICT (klass, name) DO UPDATE SET value = value + excluded.value",
        [(klass, name, delta) for name, delta in deltas.items() if delta],
    )


def _chunks(ids: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(ids), _IDS_PER_STATEMENT):
        yield list(ids[start : start + _IDS_PER_STATEMENT])


def _marks(chunk: Sequence[str]) -> str:
    return ",".join("?" * len(chunk))
