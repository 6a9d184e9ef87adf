"""Third-party packages in their own virtualenvs under the data dir, each built once.

KServe, Home Assistant (the interop tests) and norfair (`bench.trackers`) pin versions the
project's venv cannot share, so each lives in `<data dir>/venvs/<name>`. A lock file keeps
two test sessions from building one at once, and a stamp file holding what was installed
marks a finished build: a venv whose stamp differs from what is wanted now (an interrupted
build, a changed pin) is built again.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.datadir import default_data_dir

__all__ = ["locked_venv", "pip_venv", "run_step"]

_STAMP = ".edgegw-ready"


def locked_venv(
    name: str,
    wanted: str,
    install: Callable[[Path, Path], None],
    *,
    data_dir: Path | None,
    error: type[RuntimeError],
) -> Path:
    """Return the python of venv `name`, made by `install(venv, python)` if not ready.

    `wanted` is the stamp's text: what the venv holds when ready. `error` is raised when
    the venv cannot be created.
    """
    root = (data_dir or default_data_dir()) / "venvs"
    venv = root / name
    python = venv / "bin" / "python"
    stamp = venv / _STAMP
    if stamp.is_file() and stamp.read_text() == wanted:
        return python
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be building it
        if stamp.is_file() and stamp.read_text() == wanted:
            return python
        run_step(
            [sys.executable, "-m", "venv", "--clear", str(venv)],
            "create the venv",
            error=error,
            timeout_s=600,
        )
        install(venv, python)
        stamp.write_text(wanted)
    return python


def pip_venv(
    name: str,
    requirements: Sequence[str],
    *,
    data_dir: Path | None,
    error: type[RuntimeError],
    timeout_s: float,
) -> Path:
    """Return the python of venv `name` holding `requirements` from PyPI (`pip install`),
    built first if it is not ready (see `locked_venv`)."""

    def install(_venv: Path, python: Path) -> None:
        run_step(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             *requirements],
            f"pip install {' '.join(requirements)}",
            error=error,
            timeout_s=timeout_s,
        )  # fmt: skip

    return locked_venv(name, " ".join(requirements) + "\n", install, data_dir=data_dir, error=error)


def run_step(argv: list[str], what: str, *, error: type[RuntimeError], timeout_s: float) -> None:
    """Run one build step; raise `error` with the output's tail when it fails."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise error(f"cannot {what}: {exc}") from exc
    if done.returncode != 0:
        tail = (done.stdout + done.stderr).strip()[-2000:]
        raise error(f"cannot {what} (exit {done.returncode}):\n{tail}")
