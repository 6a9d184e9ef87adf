"""Outbox semantics on real SQLite files: order, caps, TTL, idempotency, persistence."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud_bridge.errors import CloudBridgeError, OutboxError
from cloud_bridge.outbox import ClassPolicy, Outbox, OutboxItem, OutboxStats, PutStatus

BIG = ClassPolicy(max_bytes=10**9, ttl_s=10**6)


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def item(
    item_id: str,
    *,
    klass: str = "events",
    priority: int = 1,
    created: float = 1_000.0,
    size: int = 100,
    media: bytes | None = None,
) -> OutboxItem:
    return OutboxItem(
        id=item_id,
        klass=klass,
        priority=priority,
        created=created,
        payload=b"x" * size,
        media=media,
    )


def ids(items: list[OutboxItem]) -> list[str]:
    return [i.id for i in items]


def assert_balanced(stats: OutboxStats) -> None:
    """Every item put leaves through exactly one exit, or is still there."""
    for name, c in stats.classes.items():
        assert c.put == c.depth + c.acked + c.evicted + c.expired, name


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def outbox(tmp_path: Path, clock: FakeClock) -> Iterator[Outbox]:
    policies = {"events": BIG, "hard_cases": BIG}
    with Outbox(tmp_path / "outbox.db", policies=policies, clock=clock) as ob:
        yield ob


def test_lease_orders_by_priority_then_age(outbox: Outbox) -> None:
    outbox.put(item("a", priority=1, created=10))
    outbox.put(item("b", priority=5, created=30))
    outbox.put(item("c", priority=5, created=20))
    outbox.put(item("d", priority=3, created=5))
    outbox.put(item("e", priority=1, created=1))
    outbox.put(item("h", klass="hard_cases", priority=4, created=1))

    assert ids(outbox.lease("events", 10)) == ["c", "b", "d", "e", "a"]
    assert ids(outbox.lease("events", 2)) == ["c", "b"]
    assert ids(outbox.lease(None, 3)) == ["c", "b", "h"]
    assert ids(outbox.lease("hard_cases", 10)) == ["h"]
    assert outbox.lease("nothing_here", 10) == []
    assert outbox.lease("events", 0) == []


def test_equal_priority_and_age_falls_back_to_id(outbox: Outbox) -> None:
    for item_id in ["03", "01", "02"]:
        outbox.put(item(item_id, created=7))

    assert ids(outbox.lease("events", 10)) == ["01", "02", "03"]


def test_lease_keeps_items_and_counts_attempts_until_ack(outbox: Outbox) -> None:
    outbox.put(item("a", priority=2, media=b"jpeg"))
    outbox.put(item("b", priority=1))

    first = outbox.lease("events", 10)
    second = outbox.lease("events", 10)

    assert [(i.id, i.attempts) for i in first] == [("a", 1), ("b", 1)]
    assert [(i.id, i.attempts) for i in second] == [("a", 2), ("b", 2)]
    assert first[0].media == b"jpeg"
    assert first[0].payload == b"x" * 100
    assert outbox.ack(["a", "missing"]) == 1
    assert outbox.ack(["a"]) == 0
    assert ids(outbox.lease("events", 10)) == ["b"]
    stats = outbox.stats()
    assert (stats.acked, stats.depth, stats.bytes) == (1, 1, 100)
    assert_balanced(stats)


def test_lease_max_bytes_takes_in_order_and_always_the_first(outbox: Outbox) -> None:
    outbox.put(item("big", priority=9, size=500))
    outbox.put(item("m1", priority=5, size=100, media=b"m" * 100))
    outbox.put(item("s1", priority=4, size=100))
    outbox.put(item("s2", priority=3, size=100))

    assert ids(outbox.lease("events", 10, max_bytes=50)) == ["big"]
    outbox.ack(["big"])
    assert ids(outbox.lease("events", 10, max_bytes=300)) == ["m1", "s1"]
    assert ids(outbox.lease("events", 10, max_bytes=299)) == ["m1"]
    assert ids(outbox.lease("events", 2, max_bytes=10_000)) == ["m1", "s1"]


def test_ack_many_ids_crosses_statement_chunks(outbox: Outbox) -> None:
    for n in range(1_200):
        outbox.put(item(f"{n:05d}", size=1))

    leased = outbox.lease("events", 2_000)

    assert len(leased) == 1_200
    assert outbox.ack(i.id for i in leased) == 1_200
    assert outbox.stats().depth == 0


def test_cap_evicts_exactly_the_lowest_priority_oldest(tmp_path: Path) -> None:
    policies = {"events": ClassPolicy(max_bytes=1_000, ttl_s=3_600), "other": BIG}
    with Outbox(tmp_path / "o.db", policies=policies, clock=FakeClock()) as ob:
        plan = [("p1-old", 1, 1), ("p1-new", 1, 2), ("p0-new", 0, 9), ("p0-old", 0, 3)]
        plan += [(f"p5-{n}", 5, n) for n in range(6)]
        for item_id, priority, created in plan:
            assert ob.put(item(item_id, priority=priority, created=created)).stored
        ob.put(item("x", klass="other", priority=0, created=0))
        assert ob.stats().classes["events"].bytes == 1_000

        result = ob.put(item("new", priority=3, created=10, size=250))

        assert result.status is PutStatus.STORED
        assert result.evicted == ("p0-old", "p0-new", "p1-old")
        stats = ob.stats()
        events = stats.classes["events"]
        assert (events.evicted, events.depth, events.bytes) == (3, 8, 950)
        assert stats.classes["other"].depth == 1
        assert stats.evicted == 3
        assert ids(ob.lease("events", 20))[-2:] == ["new", "p1-new"]
        assert_balanced(stats)


def test_new_item_that_ranks_lowest_is_dropped_itself(tmp_path: Path) -> None:
    policies = {"events": ClassPolicy(max_bytes=300, ttl_s=3_600)}
    with Outbox(tmp_path / "o.db", policies=policies, clock=FakeClock()) as ob:
        for n in range(3):
            ob.put(item(f"keep{n}", priority=5, created=n))

        result = ob.put(item("low", priority=1, created=100))

        assert (result.status, result.evicted, result.stored) == (PutStatus.EVICTED, (), False)
        assert ids(ob.lease("events", 10)) == ["keep0", "keep1", "keep2"]
        assert ob.stats().evicted == 1
        assert_balanced(ob.stats())


def test_room_is_not_made_for_an_item_only_to_drop_it_too(tmp_path: Path) -> None:
    # Order of eviction: older (p0), new (p0), high (p5). Dropping `older` frees too
    # little, so `new` would go as well; dropping `new` alone keeps `older`.
    policies = {"events": ClassPolicy(max_bytes=100, ttl_s=3_600)}
    with Outbox(tmp_path / "o.db", policies=policies, clock=FakeClock()) as ob:
        ob.put(item("high", priority=5, created=1, size=90))
        ob.put(item("older", priority=0, created=2, size=5))

        result = ob.put(item("new", priority=0, created=3, size=50))

        assert (result.status, result.evicted) == (PutStatus.EVICTED, ())
        assert ids(ob.lease("events", 10)) == ["high", "older"]


def test_item_larger_than_the_cap_touches_nothing_else(tmp_path: Path) -> None:
    policies = {"events": ClassPolicy(max_bytes=300, ttl_s=3_600)}
    with Outbox(tmp_path / "o.db", policies=policies, clock=FakeClock()) as ob:
        ob.put(item("a", priority=0))

        result = ob.put(item("huge", priority=9, size=200, media=b"m" * 101))

        assert result.status is PutStatus.EVICTED
        assert ids(ob.lease("events", 10)) == ["a"]
        assert ob.stats().classes["events"].evicted == 1


def test_lowered_cap_on_reopen_evicts_down_to_it(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, policies={"events": BIG}, clock=FakeClock()) as ob:
        for n in range(5):
            ob.put(item(f"{n}", created=n))
    small = {"events": ClassPolicy(max_bytes=200, ttl_s=3_600)}
    with Outbox(path, policies=small, clock=FakeClock()) as ob:
        result = ob.put(item("new", priority=0, created=9))

        assert result.status is PutStatus.EVICTED
        # "new" ranks lowest but dropping it alone is not enough for the lowered cap.
        assert result.evicted == ("0", "1", "2")
        assert ids(ob.lease("events", 10)) == ["3", "4"]
        assert_balanced(ob.stats())


def test_ttl_expiry_with_injected_clock(tmp_path: Path, clock: FakeClock) -> None:
    policies = {"events": ClassPolicy(max_bytes=10**6, ttl_s=60), "hard_cases": BIG}
    with Outbox(tmp_path / "o.db", policies=policies, clock=clock) as ob:
        clock.now = 1_000
        ob.put(item("old", created=1_000, priority=9))
        ob.put(item("young", created=1_030))
        ob.put(item("hc", klass="hard_cases", created=1_000))

        clock.now = 1_060  # "old" is exactly ttl_s old: not yet older than the TTL
        assert ids(ob.lease("events", 10)) == ["old", "young"]
        clock.now = 1_060.5
        assert ids(ob.lease("events", 10)) == ["young"]
        assert ids(ob.lease(None, 10)) == ["hc", "young"]
        stale = ob.put(item("stale", created=1_000))
        clock.now = 2_000
        assert ids(ob.lease(None, 10)) == ["hc"]

        assert stale.status is PutStatus.EXPIRED
        stats = ob.stats()
        assert (stats.classes["events"].expired, stats.classes["events"].depth) == (3, 0)
        assert stats.classes["hard_cases"].expired == 0
        assert_balanced(stats)


def test_expired_items_leave_before_live_ones_are_evicted(tmp_path: Path, clock: FakeClock) -> None:
    policies = {"events": ClassPolicy(max_bytes=200, ttl_s=60)}
    with Outbox(tmp_path / "o.db", policies=policies, clock=clock) as ob:
        ob.put(item("stale", priority=9, created=1_000))
        ob.put(item("live", priority=0, created=1_050))
        clock.now = 1_100

        result = ob.put(item("new", priority=0, created=1_100))

        assert (result.status, result.evicted) == (PutStatus.STORED, ())
        stats = ob.stats().classes["events"]
        assert (stats.expired, stats.evicted, stats.depth) == (1, 0, 2)


def test_duplicate_id_is_stored_once(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, policies={"events": BIG}, clock=clock) as ob:
        assert ob.put(item("same", size=10)).status is PutStatus.STORED
        again = ob.put(item("same", size=20, priority=9))
        assert (again.status, again.stored) == (PutStatus.DUPLICATE, True)
    with Outbox(path, policies={"events": BIG}, clock=clock) as ob:
        assert ob.put(item("same")).status is PutStatus.DUPLICATE
        leased = ob.lease("events", 10)
        stats = ob.stats()

    assert [(i.id, len(i.payload), i.priority) for i in leased] == [("same", 10, 1)]
    assert (stats.depth, stats.put, stats.duplicates) == (1, 1, 2)


def test_reopen_keeps_items_attempts_and_counters(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "o.db"
    policies = {"events": ClassPolicy(max_bytes=250, ttl_s=60)}
    with Outbox(path, policies=policies, clock=clock) as ob:
        ob.put(item("a", priority=2, media=b"\x00\xff"))
        ob.put(item("b", priority=1))
        ob.put(item("c", priority=0))  # evicts itself: the class holds 250 bytes
        ob.put(item("gone", created=0))  # expired on arrival
        ob.lease("events", 1)
        ob.put(item("acked", priority=3, size=10))
        ob.ack(["acked"])
        before = ob.stats()

    with Outbox(path, policies=policies, clock=clock) as ob:
        after = ob.stats()
        leased = ob.lease("events", 10)

    assert after == before
    assert (after.put, after.evicted, after.expired, after.acked) == (5, 1, 1, 1)
    assert [(i.id, i.attempts, i.media) for i in leased] == [("a", 2, b"\x00\xff"), ("b", 1, None)]


def test_put_many_is_one_transaction_with_per_item_results(
    tmp_path: Path, clock: FakeClock
) -> None:
    policies = {"events": ClassPolicy(max_bytes=250, ttl_s=60)}
    with Outbox(tmp_path / "o.db", policies=policies, clock=clock) as ob:
        batch = [
            item("a", priority=5),
            item("a"),
            item("stale", created=0),
            item("b", priority=4),
            item("c", priority=3),
        ]
        results = ob.put_many(batch)
        with pytest.raises(OutboxError, match="no policy"):
            ob.put_many([item("d"), item("e", klass="nope")])
        assert [r.status for r in results] == [
            PutStatus.STORED,
            PutStatus.DUPLICATE,
            PutStatus.EXPIRED,
            PutStatus.STORED,
            PutStatus.EVICTED,
        ]
        assert ids(ob.lease("events", 10)) == ["a", "b"]
        assert ob.put_many([]) == []
        assert_balanced(ob.stats())


def test_stats_list_every_policy_class(outbox: Outbox) -> None:
    stats = outbox.stats()

    assert set(stats.classes) == {"events", "hard_cases"}
    assert stats.classes["hard_cases"].depth == 0
    assert (stats.depth, stats.bytes, stats.put) == (0, 0, 0)


def test_class_without_policy_is_refused_on_put(outbox: Outbox) -> None:
    with pytest.raises(OutboxError, match="no policy for class 'nope'"):
        outbox.put(item("a", klass="nope"))


def test_closed_outbox_raises(tmp_path: Path) -> None:
    ob = Outbox(tmp_path / "o.db", policies={"events": BIG})
    ob.close()
    ob.close()

    with pytest.raises(OutboxError, match="closed"):
        ob.put(item("a"))


def test_not_a_database_raises_outbox_error_with_path(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not SQLite, just some bytes\n" * 200)

    with pytest.raises(OutboxError) as caught:
        Outbox(path, policies={"events": BIG})

    assert caught.value.path == path
    assert "not a database" in caught.value.reason
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, CloudBridgeError)
    assert isinstance(caught.value.__cause__, sqlite3.DatabaseError)


def test_damaged_pages_fail_the_check(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "o.db"
    with Outbox(path, policies={"events": BIG}, clock=clock) as ob:
        for n in range(300):
            assert ob.put(item(f"{n:04d}", size=1_000)).status is PutStatus.STORED
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    for offset in range(3 * page, len(data) - page, 7 * page):
        data[offset : offset + 64] = b"\xa5" * 64  # scribble over b-tree page headers
    path.write_bytes(bytes(data))

    with pytest.raises(OutboxError, match=r"corrupt|malformed") as caught:
        Outbox(path, policies={"events": BIG}, check="quick")
    assert caught.value.path == path


def test_other_database_or_missing_directory_raise_outbox_error(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()

    with pytest.raises(OutboxError, match="no outbox schema"):
        Outbox(other, policies={"events": BIG})
    with pytest.raises(OutboxError, match=r"cannot open|unable to open"):
        Outbox(tmp_path / "missing" / "o.db", policies={"events": BIG})


def test_threads_share_one_outbox(outbox: Outbox) -> None:
    def worker(n: int) -> None:
        for k in range(50):
            outbox.put(item(f"{n}-{k:03d}", size=10))
            if k % 10 == 9:
                outbox.ack(i.id for i in outbox.lease("events", 5))

    threads = [threading.Thread(target=worker, args=(n,), name=f"put-{n}") for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    stats = outbox.stats()
    assert (stats.put, stats.depth + stats.acked) == (200, 200)
    assert_balanced(stats)
