"""Credentials written into URLs never reach a log line or `validate --show`; plain HTTP
with a cloud token is refused unless `allow_insecure: true`, and then warned at start."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.logs import redact_urls
from gateway.plugins import build_gateway
from tests.conftest import ConfigFactory
from tests.gateway.core.test_runtime import GatewayProcess, gateway_process, write_config
from tests.support.mosquitto import Mosquitto, free_port
from tests.support.mqtt import running

__all__ = ["gateway_process"]  # the fixture, shared with test_runtime

REPO = Path(__file__).resolve().parents[3]
PASSWORD = "s3cr3t-Pw"


@dataclass(slots=True, frozen=True)
class RedactCase:
    """A text and what it must become."""

    text: str
    redacted: str


REDACT = [
    RedactCase(f"rtsp://admin:{PASSWORD}@10.0.0.5:554/s1", "rtsp://admin:***@10.0.0.5:554/s1"),
    RedactCase(f"open http://u:{PASSWORD}@cam/x failed", "open http://u:***@cam/x failed"),
    RedactCase("https://:tok@h/", "https://:***@h/"),
    RedactCase("https://h/x?token=abc&x=1", "https://h/x?token=***&x=1"),
    RedactCase("https://h/x?a=1&API_KEY=k#f", "https://h/x?a=1&API_KEY=***#f"),
    RedactCase("rtsp://10.0.0.5/s1", "rtsp://10.0.0.5/s1"),
    RedactCase("rtsp://admin@10.0.0.5/s1", "rtsp://admin@10.0.0.5/s1"),
    RedactCase("temperature=21 ok", "temperature=21 ok"),
    RedactCase("a@b:c", "a@b:c"),
]


@pytest.mark.parametrize("case", REDACT, ids=lambda c: c.text[:24])
def test_redact_urls(case: RedactCase) -> None:
    assert redact_urls(case.text) == case.redacted


def config_with_credentials(tmp_path: Path, port: int, rtsp_port: int) -> Path:
    camera = (
        "cameras:\n"
        f"  - id: door\n    source: rtsp://admin:{PASSWORD}@127.0.0.1:{rtsp_port}/stream\n"
        "    reconnect: {min_delay_s: 0.05, max_delay_s: 0.2, open_timeout_s: 1}\n"
        "logging: {rate_limit_s: 0}\n"
    )
    return write_config(tmp_path, "creds", port, camera)


def test_validate_show_masks_url_passwords(tmp_path: Path) -> None:
    path = config_with_credentials(tmp_path, 1883, 554)
    text = path.read_text() + (
        "cloud:\n"
        f"  url: https://gw:{PASSWORD}@cloud.example.com/base\n"
        "  token: '${CLOUD_TOKEN_FOR_TEST}'\n"
    )
    path.write_text(text)
    env = {**os.environ, "PYTHONPATH": str(REPO), "CLOUD_TOKEN_FOR_TEST": "tok-value-42"}
    result = subprocess.run(
        [sys.executable, "-m", "edgegw", "validate", str(path), "--show"],
        capture_output=True, text=True, timeout=60, check=False, cwd=REPO, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert PASSWORD not in result.stdout
    assert "tok-value-42" not in result.stdout
    assert "rtsp://admin:***@127.0.0.1:554/stream" in result.stdout
    assert "https://gw:***@cloud.example.com/base" in result.stdout


async def test_start_up_line_and_retry_warnings_mask_the_password(
    tmp_path: Path, mosquitto: Mosquitto, gateway_process: list[GatewayProcess]
) -> None:
    rtsp_port = free_port()  # nothing listens: every open fails and is retried
    path = config_with_credentials(tmp_path, mosquitto.port, rtsp_port)
    gw = GatewayProcess(path, env={"PYTHONPATH": str(REPO)})
    gateway_process.append(gw)
    source = f"rtsp://admin:***@127.0.0.1:{rtsp_port}/stream"
    gw.wait_for_log(f"camera door: {source}, model none")
    gw.wait_for_log(f"camera door: OpenCV cannot open {source}", count=2)
    code, err = gw.stop()
    assert code == 0, err
    retries = [line for line in err.splitlines() if "OpenCV cannot open" in line]
    assert len(retries) >= 2
    assert PASSWORD not in err


def write(tmp_path: Path, cloud: str) -> Path:
    path = tmp_path / "cloud.yaml"
    path.write_text("gateway: {id: gw1}\ncloud:\n" + cloud)
    return path


@pytest.mark.parametrize(
    "cloud",
    [
        "  url: https://cloud.example.com\n  token: t0ken\n",
        "  url: http://cloud.example.com\n",  # no token: nothing to leak
        "  url: http://127.0.0.1:8080\n  token: t0ken\n",  # loopback never leaves the host
        "  url: http://localhost:8080\n  token: t0ken\n",
        "  url: http://[::1]:8080\n  token: t0ken\n",
        "  url: http://cloud.example.com\n  token: t0ken\n  allow_insecure: true\n",
    ],
)
def test_cloud_urls_that_validate(tmp_path: Path, cloud: str) -> None:
    load_config(write(tmp_path, cloud), env={})


@pytest.mark.parametrize(
    ("cloud", "where"),
    [
        ("  url: http://cloud.example.com\n  token: t0ken\n", "http://cloud.example.com"),
        ("  url: http://10.1.2.3:8080\n  token_file: tok\n", "http://10.1.2.3"),
        (
            "  url: https://cloud.example.com\n  oip_url: http://models.example.com\n"
            "  token: t0ken\n",
            "http://models.example.com",
        ),
    ],
)
def test_plain_http_with_a_token_is_refused(tmp_path: Path, cloud: str, where: str) -> None:
    (tmp_path / "tok").write_text("t0ken\n")
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, cloud), env={})
    (issue,) = info.value.issues
    assert issue.line == 2
    assert issue.path == "cloud"
    assert f"a token would be sent in clear text to {where}" in issue.reason
    assert "allow_insecure: true" in issue.reason


async def test_allowed_plain_http_is_warned_once_at_start(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    cloud = {
        "enabled": True,
        "url": "http://192.0.2.10:9",  # TEST-NET-1: never answers
        "token": "t0ken",
        "allow_insecure": True,
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "request_timeout_s": 1,
    }
    caplog.set_level(logging.INFO, logger="gateway.cloudlink")
    async with running(build_gateway(make_config(mosquitto, cloud=cloud))):
        pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    clear = [w for w in warnings if "token is sent in clear text to http://192.0.2.10" in w]
    assert len(clear) == 1, warnings
