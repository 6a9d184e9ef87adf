"""Fixtures: a real `edgegw cloud serve` process, crops, and a cloud-enabled gateway config."""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt
import pytest

from tests.support.mosquitto import free_port
from tests.support.processes import terminate

TOKEN = "cloud-test-token"
REPO = Path(__file__).resolve().parents[3]


@dataclass(slots=True)
class CloudProcess:
    """An `edgegw cloud serve` subprocess we own, on a fixed port (restartable)."""

    port: int
    db: Path
    log: Path
    proc: subprocess.Popen[bytes] | None = None
    token_file: bool = True
    """Pass `TOKEN` in a file (`--token-file`); False: the caller sets $EDGEGW_CLOUD_TOKEN."""

    @property
    def url(self) -> str:
        """Base URL."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, timeout_s: float = 30.0) -> None:
        """Start it and wait for its "listening on" line."""
        token_args: list[str] = []
        if self.token_file:
            path = self.db.with_name("cloud-token")
            path.write_text(TOKEN + "\n", encoding="utf-8")
            token_args = ["--token-file", str(path)]
        with self.log.open("ab") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "edgegw", "cloud", "serve", "--port", str(self.port),
                 "--db", str(self.db), *token_args, "--log-level", "WARNING"],
                stdout=subprocess.PIPE, stderr=err, cwd=REPO,
            )  # fmt: skip
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout_s
        line = b""
        while time.monotonic() < deadline and b"listening on" not in line:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if ready:
                line = self.proc.stdout.readline()
                if not line:
                    break
        assert b"listening on" in line, f"cloud serve did not start; see {self.log}"

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        terminate(self.proc, 10)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.proc = None

    def events(self, kind: str | None = None) -> list[dict[str, Any]]:
        """What the sink stored, in arrival order."""
        query = f"?kind={kind}&limit=100000" if kind else "?limit=100000"
        request = urllib.request.Request(
            self.url + "/v1/events" + query, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        with urllib.request.urlopen(request, timeout=10) as resp:
            body: list[dict[str, Any]] = json.loads(resp.read())
        return body


@pytest.fixture
def cloud_process(tmp_path: Path, judge_models: dict[str, Path]) -> Iterator[CloudProcess]:
    """A cloud process, not started: tests start it when they want the cloud up.

    `judge_models` fetched what `cloud serve` loads: the subprocess finds them in the
    same `$EDGEGW_DATA_DIR`.
    """
    del judge_models
    cloud = CloudProcess(free_port(), tmp_path / "cloud-events.db", tmp_path / "cloud.log")
    yield cloud
    cloud.stop()


@pytest.fixture
def cloud(cloud_process: CloudProcess) -> CloudProcess:
    """A started cloud process."""
    cloud_process.start()
    return cloud_process


@pytest.fixture(scope="session")
def crops(images: dict[str, npt.NDArray[np.uint8]]) -> dict[str, bytes]:
    """The sample images as JPEG, by name (astronaut.png: a person, coffee.png: none)."""
    out: dict[str, bytes] = {}
    for name, pixels in images.items():
        ok, buf = cv2.imencode(".jpg", pixels)
        assert ok
        out[name] = bytes(buf)
    return out


def cloud_section(url: str, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A `cloud:` section for tests: fast retries, short timeouts, its own outbox."""
    section: dict[str, Any] = {
        "enabled": True,
        "url": url,
        "token": TOKEN,
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "retry": {"base_s": 0.05, "cap_s": 0.3},
        "breaker": {"failure_threshold": 3, "open_s": 0.3, "max_open_s": 0.6},
        "request_timeout_s": 2,
        "infer_timeout_s": 10,
        "idle_poll_s": 0.5,
    }
    for key, value in overrides.items():
        if isinstance(value, dict) and isinstance(section.get(key), dict):
            section[key] = {**section[key], **value}
        else:
            section[key] = value
    return section
