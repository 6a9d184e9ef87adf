"""Child of the SIGKILL test: emit events through the gateway's cloud sink until killed.

Usage: python sink_crash_child.py OUTBOX_DB, then one line per run on stdin: RUN

A zygote: it imports once, then forks one writer per run (a real process, SIGKILLed by
the test through the pid the zygote prints), relays the writer's complete lines after
it died, and ends them with "end RUN STATUS". Imports are paid once, not 20 times.

Builds the gateway's `CloudLink` (outbox + writer, no senders: the cloud is down) and
feeds its sink like `Events.emit` does; after each `flush()` returns, prints
"put <id>" for every event committed. A printed id is a promise the outbox must keep.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from gateway.cloudlink.link import CloudLink
from gateway.config.cloud import CloudSection
from gateway.events import Event, Priority
from gateway.stats_registry import Stats


async def main(db: Path, run: int) -> None:
    cfg = CloudSection(enabled=True, url="http://127.0.0.1:9", outbox={"path": db})
    link = await CloudLink.open(cfg, gateway_id="crash", stats=Stats(), on_verdict=print)
    writer_task = asyncio.create_task(link.writer.run())
    print("start", flush=True)
    for n in range(100_000):
        batch = [
            Event(
                gateway="crash", source="s", kind="sensor.alert",
                priority=Priority((n + k) % 4), data={"run": run, "n": n, "k": k},
            )
            for k in range(5)
        ]  # fmt: skip
        for event in batch:
            link.writer(event)
        await link.writer.flush()
        sys.stdout.write("".join(f"put {e.id}\n" for e in batch))
        sys.stdout.flush()
    writer_task.cancel()


def zygote(db: Path) -> None:
    for line in sys.stdin:
        run = int(line)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the writer: stdout is the pipe
            os.close(read_end)
            os.dup2(write_end, 1)
            os.close(write_end)
            sys.stdout = os.fdopen(1, "w")
            asyncio.run(main(db, run))
            os._exit(0)
        os.close(write_end)
        print(f"pid {pid}", flush=True)
        with os.fdopen(read_end, "rb") as pipe:
            data = pipe.read()  # until the writer died
        _, status = os.waitpid(pid, 0)
        complete = data.split(b"\n")[:-1]  # a line cut by the kill promises nothing
        sys.stdout.write("".join(f"{c.decode()}\n" for c in complete))
        print(f"end {run} {status}", flush=True)


if __name__ == "__main__":
    zygote(Path(sys.argv[1]))
