"""Child process for the outbox crash test: put (and sometimes ack) until killed.

Usage: python outbox_crash_child.py DB RUN SEED

Writes "start" once imports are done, then, forever: puts an item and writes "put <id>"
only after `put` returned (committed). Every few puts it leases up to three items, writes
"acking <id> <id> ...", acks them, and writes "ack <id>" for each only after `ack`
returned, so the parent knows which ids a kill may have left acked but unreported. Each
line is flushed at once: a line on stdout is a promise the database must keep after a
SIGKILL.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

from cloud_bridge.outbox import ClassPolicy, Outbox, OutboxItem, PutStatus

POLICIES = {
    "events": ClassPolicy(max_bytes=10**9, ttl_s=10**9),
    "hard_cases": ClassPolicy(max_bytes=10**9, ttl_s=10**9),
}
MAX_PUTS = 100_000  # a bound, in case the parent dies without killing us


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def main(path: Path, run: int, seed: int) -> None:
    rng = random.Random(seed)
    say("start")
    with Outbox(path, policies=POLICIES) as outbox:
        for n in range(MAX_PUTS):
            klass = rng.choice(("events", "hard_cases"))
            media = rng.randbytes(rng.randrange(1, 4_000)) if klass == "hard_cases" else None
            item = OutboxItem(
                id=f"{run:03d}-{n:06d}",
                klass=klass,
                priority=rng.randrange(5),
                created=time.time(),
                payload=b'{"v": 1, "n": %d}' % n,
                media=media,
            )
            if outbox.put(item).status is not PutStatus.STORED:
                raise SystemExit(f"put {item.id} was not stored")
            say(f"put {item.id}")
            if n % 7 == 6:
                leased = outbox.lease(rng.choice(("events", "hard_cases")), 3)
                say(" ".join(["acking", *(i.id for i in leased)]))
                outbox.ack(i.id for i in leased)
                for i in leased:
                    say(f"ack {i.id}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]))
