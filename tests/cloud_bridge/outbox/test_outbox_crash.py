"""Kill a process that is writing the outbox, 20 times on one file; nothing it promised is lost.

The child (outbox_crash_child.py) prints "put <id>" after `put` returned, "acking <ids>"
before `ack` and "ack <id>" after it returned. SIGKILL lands at a random moment: during
open, inside a transaction, between commit and print. After each kill the database must
open (and pass integrity_check), hold every printed put that was not printed as acked,
and hold no printed ack; ids announced as "acking" but not printed as acked may be
either way (the kill fell between the ack's commit and its print). At the end,
lease+ack drains every remaining item exactly once.

SIGKILL tests crash safety (the OS keeps what was written); power loss, which is what
synchronous=FULL is for, cannot be simulated here.
"""

from __future__ import annotations

import os
import random
import select
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from cloud_bridge.outbox import ClassPolicy, Outbox

CHILD = Path(__file__).with_name("outbox_crash_child.py")
RUNS = 20
START_DEADLINE_S = 30.0
POLICIES = {
    "events": ClassPolicy(max_bytes=10**9, ttl_s=10**9),
    "hard_cases": ClassPolicy(max_bytes=10**9, ttl_s=10**9),
}

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")


def run_child_and_kill(db: Path, run: int, seed: int, log: Path) -> list[str]:
    """Start the child, SIGKILL it 0.05-0.4 s after it started; return its complete lines."""
    with log.open("ab") as stderr:
        child = subprocess.Popen(
            [sys.executable, str(CHILD), str(db), str(run), str(seed)],
            stdout=subprocess.PIPE,
            stderr=stderr,
        )
    assert child.stdout is not None
    try:
        ready, _, _ = select.select([child.stdout], [], [], START_DEADLINE_S)
        assert ready, f"child {run} wrote nothing in {START_DEADLINE_S} s; see {log}"
        time.sleep(random.Random(seed).uniform(0.05, 0.4))  # the random moment is the point
        child.send_signal(signal.SIGKILL)
        out = child.stdout.read()
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL, f"child {run} ended by itself; see {log}"
    # A line cut short by the kill promises nothing; keep complete lines only.
    return out.decode().split("\n")[:-1]


def stored_ids(db: Path) -> set[str]:
    with Outbox(db, policies=POLICIES, check="full") as outbox:
        stats = outbox.stats()
        items = outbox.lease(None, stats.depth + 1)
        for name, c in stats.classes.items():
            assert c.put == c.depth + c.acked + c.evicted + c.expired, name
    assert len(items) == stats.depth
    return {i.id for i in items}


def test_sigkill_loses_no_acknowledged_put(tmp_path: Path) -> None:
    db = tmp_path / "outbox.db"
    log = tmp_path / "child-stderr.log"
    master_seed = int.from_bytes(os.urandom(4), "big")
    promised: set[str] = set()
    acked: set[str] = set()

    for run in range(RUNS):
        seed = master_seed + run
        lines = run_child_and_kill(db, run, seed, log)
        assert lines[:1] == ["start"], (lines[:3], log.read_text())
        promised.update(line[4:] for line in lines if line.startswith("put "))
        acked.update(line[4:] for line in lines if line.startswith("ack "))
        announced = {i for line in lines if line.startswith("acking ") for i in line.split()[1:]}
        in_doubt = announced - acked

        present = stored_ids(db)

        where = f"run {run}, seed {master_seed}"
        lost = promised - acked - in_doubt - present
        assert not lost, (where, sorted(lost))
        assert not present & acked, (where, sorted(present & acked))
        assert len(in_doubt) <= 3, (where, sorted(in_doubt))  # only the last ack call
        acked.update(in_doubt - present)  # that ack committed before the kill

    assert len(promised) > RUNS, f"children put too little to test anything: {len(promised)}"
    drained: Counter[str] = Counter()
    with Outbox(db, policies=POLICIES) as outbox:
        while batch := outbox.lease(None, 50):
            drained.update(i.id for i in batch)
            assert outbox.ack(i.id for i in batch) == len(batch)
        stats = outbox.stats()

    assert max(drained.values(), default=1) == 1
    assert promised - acked <= drained.keys()
    assert not drained.keys() & acked
    assert stats.depth == 0
    assert stats.put == stats.acked
