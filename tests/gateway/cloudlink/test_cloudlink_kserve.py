"""The gateway with KServe as its cloud: a real `kserve.ModelServer` judges the hard cases.

KServe is an OIP server only (no event sink), so the config names `oip_url` and forwards
hard cases alone. The models are `tests/cloud_bridge/oip/kserve_model.py`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from gateway.events import Priority
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from tests.conftest import ConfigFactory
from tests.support.kserve_env import KServeProcess
from tests.support.mosquitto import Mosquitto
from tests.support.mqtt import client, next_message, running
from tests.support.payloads import hard_case_data
from tests.support.waits import eventually

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]


def kserve_section(kserve: KServeProcess, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """A `cloud:` section for an OIP-only cloud: no `url`, no event sink."""
    return {
        "enabled": True,
        "oip_url": kserve.url,
        "model": "judge",
        "forward_kinds": ["vision.hard_case"],
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "retry": {"base_s": 0.05, "cap_s": 0.3},
        "breaker": {"failure_threshold": 1, "open_s": 30},  # one counted failure opens it
        "infer_timeout_s": 10,
        "idle_poll_s": 0.5,
        **overrides,
    }


def metric(gw: Gateway, name: str, key: str) -> float:
    value = gw.stats.snapshot().get(name, {})
    assert isinstance(value, dict)
    return float(value.get(key, 0.0))


def emit_hard_case(gw: Gateway, jpeg: bytes, label: str) -> str:
    events = gw.events
    assert events is not None
    event = events.make(
        source="door",
        kind="vision.hard_case",
        priority=Priority.HIGH,
        data=hard_case_data(label, 0.62, camera="door"),
        media=jpeg,
        media_type="image/jpeg",
    )
    events.emit(event)
    return event.id


async def test_versioned_model_fails_each_hard_case_for_good_and_the_breaker_stays_closed(
    *,
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    kserve: KServeProcess,
    tmp_path: Path,
    crops: dict[str, bytes],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="cloud_bridge")
    cfg = make_config(mosquitto, cloud=kserve_section(kserve, tmp_path, model_version="1"))
    async with running(build_gateway(cfg)) as gw:
        for _ in range(3):
            emit_hard_case(gw, crops["astronaut.png"], "person")
        await eventually(lambda: metric(gw, "cloud_dropped_total", "hard_cases,http_501") == 3)
        assert metric(gw, "cloud_circuit_state", "hard_cases") == 0  # closed
        assert metric(gw, "cloud_failures_total", "hard_cases,http_5xx") == 0
    checks = [r.getMessage() for r in caplog.records if "does not fit" in r.getMessage()]
    assert len(checks) == 1  # once, at start-up
    assert "OIP server (cloud.oip_url)" in checks[0]
    assert "kserve 0.21.0" in checks[0]
    assert "versioned routes" in checks[0]
    assert "unset cloud.model_version" in checks[0]
    drops = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(drops) == 3
    assert all(r.levelno == logging.ERROR for r in drops)
    assert "HTTP 501" in drops[0].getMessage()
    assert "Model versioning not supported yet." in drops[0].getMessage()


async def test_model_exception_is_retried_on_a_fresh_connection(
    mosquitto: Mosquitto,
    make_config: ConfigFactory,
    kserve: KServeProcess,
    tmp_path: Path,
    crops: dict[str, bytes],
) -> None:
    cloud = kserve_section(kserve, tmp_path, breaker={"failure_threshold": 2, "open_s": 0.3})
    cfg = make_config(mosquitto, cloud=cloud)
    prefix = cfg.topic_prefix
    async with running(build_gateway(cfg)) as gw, client(mosquitto) as watcher:
        await watcher.subscribe(f"{prefix}/events/cloud.verdict/+", qos=1)
        first = emit_hard_case(gw, crops["astronaut.png"], "person")  # a pooled connection
        verdict = json.loads((await next_message(watcher, timeout_s=20)).payload)
        assert verdict["data"]["hard_case_id"] == first
        failing = emit_hard_case(gw, crops["astronaut.png"], "fail-once")
        verdict = json.loads((await next_message(watcher, timeout_s=20)).payload)
        assert verdict["data"]["hard_case_id"] == failing
        assert (verdict["data"]["verdict"], verdict["data"]["cloud_label"]) == (
            "confirmed",
            "fail-once",
        )
        assert metric(gw, "cloud_failures_total", "hard_cases,http_5xx") == 1
        assert metric(gw, "cloud_failures_total", "hard_cases,connection") == 0
        assert metric(gw, "cloud_delivered_total", "hard_cases") == 2


async def test_edgegw_run_on_footage_gets_verdicts_from_kserve_over_mqtt(
    *,
    mosquitto: Mosquitto,
    kserve: KServeProcess,
    vww_path: Path,
    vtest_path: Path,
    tmp_path: Path,
    gateway_id: str,
) -> None:
    """`edgegw run` as a user runs it: a camera on vtest.avi, KServe judging hard cases."""
    del vww_path  # fetched into the data dir, where the child finds it
    config = {
        "gateway": {"id": gateway_id},
        "mqtt": {"host": "127.0.0.1", "port": mosquitto.port},
        "cameras": [
            {
                "id": "walk",
                "source": str(vtest_path),
                "model": "person",
                "detect_fps": 10,
                "tracker": {"labels": ["person"], "min_score": 0.5, "max_misses": 2, "lost_s": 0},
                "escalation": {"low": 0.5, "high": 1.0},
            }
        ],
        "models": [{"id": "person", "name": "visual_wake_words"}],
        "cloud": kserve_section(kserve, tmp_path, breaker={"failure_threshold": 5}),
    }
    path = tmp_path / "gw.yaml"
    path.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
    prefix = f"edgegw/{gateway_id}"
    wanted = 3
    verdicts: list[dict[str, Any]] = []
    retained: dict[str, Any] = {}
    log = tmp_path / "gw.log"
    async with client(mosquitto) as watcher:
        await watcher.subscribe(f"{prefix}/events/cloud.verdict/+", qos=1)
        await watcher.subscribe(f"{prefix}/cameras/walk/verdict", qos=1)
        with log.open("wb") as out:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "edgegw", "run", "-c", str(path),
                stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
                env={**os.environ, "PYTHONPATH": str(REPO)},
            )  # fmt: skip
        try:
            async with asyncio.timeout(120):
                while len(verdicts) < wanted or not retained:
                    message = await next_message(watcher, timeout_s=120)
                    body = json.loads(message.payload)
                    if message.topic.value.endswith("/verdict"):
                        retained = body
                    else:
                        verdicts.append(body)
        finally:
            proc.terminate()
            await proc.wait()
    text = log.read_text(errors="replace")
    assert "model 'judge' on OIP server (cloud.oip_url)" in text, text[-3000:]
    assert "(kserve 0.21.0) ready; binary tensor data off" in text
    for verdict in verdicts:
        data = verdict["data"]
        assert verdict["source"] == "walk"
        assert data["model"] == "judge"
        assert (data["verdict"], data["cloud_label"]) in {
            ("confirmed", "person"),
            ("rejected", "background"),
        }
    assert len({v["data"]["hard_case_id"] for v in verdicts}) == len(verdicts)
    assert retained["kind"] == "cloud.verdict"
