"""Stop a test's server subprocess: SIGTERM so it shuts down cleanly, SIGKILL if it hangs."""

from __future__ import annotations

import signal
import subprocess

__all__ = ["terminate"]


def terminate(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    """Send SIGTERM, wait up to `timeout_s`, then SIGKILL and reap."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
