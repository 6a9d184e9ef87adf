"""Run a module as `python -m`, then write the process's own peak RSS (VmHWM, KiB) to a file.

    python -m tests.support.hwm OUT_FILE MODULE [ARGS...]

`ru_maxrss` of a child is no good for this on Linux: a process forked from a large parent
(pytest after the suite loaded its models) inherits the parent's high-water mark across
exec, so every child looks as large as the test runner. VmHWM belongs to the child's own
address space, which exec makes new.
"""

from __future__ import annotations

import atexit
import runpy
import sys
from pathlib import Path


def peak_kib() -> int:
    """Return this process's peak resident set size in KiB (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return -1


def main() -> None:
    """Run the module named in argv[2] with the rest of argv, recording the peak at exit."""
    out, module, *args = sys.argv[1:]
    atexit.register(lambda: Path(out).write_text(str(peak_kib())))
    sys.argv = [module, *args]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
