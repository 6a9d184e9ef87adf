"""KServe's model server for the interop tests, in its own virtualenv.

KServe 0.21.0 cannot share the project's venv: it needs Starlette >= 1.3.1 (FastAPI
0.165), and MLServer 1.7.1, also tested here, needs FastAPI < 0.116 (Starlette < 0.47);
pip reports `ResolutionImpossible` for the pair. So `kserve` lives in
`<data dir>/venvs/kserve-<version>`, made on first use by the `kserve_python` fixture or
by `scripts/bootstrap.sh --test` (`python -m tests.support.kserve_env`), from PyPI with
the ordinary pip client. A lock file keeps two test sessions from building it at once.

    python -m tests.support.kserve_env      build it if missing; print its python

`KServeProcess` runs `kserve.ModelServer` hosting the test's models
(`tests/cloud_bridge/oip/kserve_model.py`) on a free port. KServe binds 0.0.0.0 (its
REST server does not take a host); the tests talk to it on loopback.
"""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from lab.venvs import pip_venv
from tests.support.processes import terminate

__all__ = ["KSERVE_VERSION", "KServeEnvError", "KServeProcess", "ensure_kserve_python"]

MODEL_FILE = Path(__file__).resolve().parents[1] / "cloud_bridge" / "oip" / "kserve_model.py"
MODELS = ("judge", "judge_pixels")

KSERVE_VERSION = "0.21.0"
_REQUIREMENTS = (f"kserve=={KSERVE_VERSION}",)
_PIP_TIMEOUT_S = 900


class KServeEnvError(RuntimeError):
    """The KServe venv cannot be built (no network, no PyPI, pip failed)."""


def ensure_kserve_python(data_dir: Path | None = None) -> Path:
    """Return the KServe venv's python, building the venv first if it is missing."""
    return pip_venv(
        f"kserve-{KSERVE_VERSION}",
        _REQUIREMENTS,
        data_dir=data_dir,
        error=KServeEnvError,
        timeout_s=_PIP_TIMEOUT_S,
    )


@dataclass(slots=True)
class KServeProcess:
    """A `kserve.ModelServer` subprocess hosting the test models (`MODELS`)."""

    python: Path
    port: int
    log: Path
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """Base URL, on loopback."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 60.0) -> None:
        """Start it; return once the server and every model answer ready."""
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(self.python), str(MODEL_FILE), "--http_port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, cwd=self.log.parent,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        paths = ["/v2/health/ready", *(f"/v2/models/{m}/ready" for m in MODELS)]
        while paths:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise KServeEnvError(f"kserve exited {self.proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise KServeEnvError(f"kserve not ready within {timeout_s}s; see {self.log}")
            if _answers_200(self.url + paths[0]):
                paths.pop(0)
            else:
                time.sleep(0.2)  # poll interval while it starts, bounded by the deadline

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        terminate(self.proc, 15)
        self.proc = None


def _answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


if __name__ == "__main__":
    print(ensure_kserve_python())
