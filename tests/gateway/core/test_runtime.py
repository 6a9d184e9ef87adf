"""The gateway process: `edgegw run` as a real subprocess, stats, health, commands."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.plugins import build_gateway
from gateway.runtime import Supervisor
from gateway.stats_registry import Stats
from tests.conftest import ConfigFactory
from tests.support.mosquitto import Mosquitto, free_port, wait_port
from tests.support.mqtt import client, next_message, running
from tests.support.waits import eventually

REPO = Path(__file__).resolve().parents[3]


def write_config(tmp_path: Path, gateway_id: str, port: int, extra: str = "") -> Path:
    path = tmp_path / "gw.yaml"
    path.write_text(
        f"gateway: {{id: {gateway_id}}}\n"
        f"mqtt:\n  host: 127.0.0.1\n  port: {port}\n"
        "  reconnect: {min_delay_s: 0.05, max_delay_s: 0.5}\n" + extra
    )
    return path


class GatewayProcess:
    """`python -m edgegw run -c FILE` as a child process; its stderr is collected."""

    def __init__(self, config: Path, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgegw", "run", "-c", str(config), *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
            cwd=REPO,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()

    def wait_for_log(self, text: str, timeout_s: float = 20.0, *, count: int = 1) -> None:
        """Block until `count` stderr lines contain `text`."""
        with self._changed:
            if not self._changed.wait_for(
                lambda: sum(text in line for line in self.lines) >= count, timeout=timeout_s
            ):
                raise AssertionError(f"no log line with {text!r} in: {''.join(self.lines)}")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str]:
        self.proc.send_signal(sig)
        self.proc.wait(timeout=20)
        self._reader.join(timeout=5)
        return self.proc.returncode, "".join(self.lines)


@pytest.fixture
def gateway_process() -> Iterator[list[GatewayProcess]]:
    started: list[GatewayProcess] = []
    yield started
    for p in started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.communicate()


async def test_run_publishes_online_stats_and_offline_on_sigterm(
    mosquitto: Mosquitto,
    tmp_path: Path,
    gateway_id: str,
    gateway_process: list[GatewayProcess],
) -> None:
    http_port = free_port()
    cfg = write_config(
        tmp_path,
        gateway_id,
        mosquitto.port,
        f"stats: {{interval_s: 1, http_port: {http_port}}}\n",
    )
    prefix = f"edgegw/{gateway_id}"
    async with client(mosquitto) as c:
        await c.subscribe(f"{prefix}/status", qos=1)
        await c.subscribe(f"{prefix}/stats", qos=1)
        gw = GatewayProcess(cfg, "--log-format", "json")
        gateway_process.append(gw)
        seen: dict[str, bytes] = {}
        while "status" not in seen or "stats" not in seen:
            m = await next_message(c)
            seen[m.topic.value.rsplit("/", 1)[-1]] = m.payload
        assert seen["status"] == b"online"
        stats = json.loads(seen["stats"])
        assert stats["v"] == 1
        assert stats["gateway"] == gateway_id
        metrics = stats["metrics"]
        for key in (
            "uptime_seconds",
            "mqtt_messages_in_total",
            "mqtt_messages_out_total",
            "mqtt_reconnects_total",
            "mqtt_queue_depth",
            "process_resident_memory_bytes",
            "process_cpu_seconds_total",
        ):
            assert key in metrics, key
        assert metrics["process_resident_memory_bytes"] > 10e6

        wait_port(http_port)
        body = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{http_port}/healthz").read()
        )
        assert json.loads(body) == {"healthy": True, "problems": []}
        text = await asyncio.to_thread(
            lambda: urllib.request.urlopen(f"http://127.0.0.1:{http_port}/metrics").read()
        )
        assert b"edgegw_mqtt_connected 1.0" in text

        code, err = gw.stop(signal.SIGTERM)
        assert code == 0, err
        while (m := await next_message(c)).topic.value != f"{prefix}/status":
            pass
        assert m.payload == b"offline"
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert any("connected to MQTT broker" in line["msg"] for line in lines)
    assert all({"ts", "level", "logger", "msg"} <= line.keys() for line in lines)


async def test_killed_gateway_goes_offline_through_its_will(
    mosquitto: Mosquitto,
    tmp_path: Path,
    gateway_id: str,
    gateway_process: list[GatewayProcess],
) -> None:
    cfg = write_config(tmp_path, gateway_id, mosquitto.port)
    async with client(mosquitto) as c:
        await c.subscribe(f"edgegw/{gateway_id}/status", qos=1)
        gw = GatewayProcess(cfg)
        gateway_process.append(gw)
        assert (await next_message(c)).payload == b"online"
        gw.proc.kill()  # SIGKILL: no clean shutdown; the broker publishes the Will
        assert (await next_message(c)).payload == b"offline"


async def test_run_keeps_retrying_while_the_broker_is_down(
    own_mosquitto: Mosquitto,
    tmp_path: Path,
    gateway_id: str,
    gateway_process: list[GatewayProcess],
) -> None:
    cfg = write_config(tmp_path, gateway_id, own_mosquitto.port)
    gw = GatewayProcess(cfg)
    gateway_process.append(gw)
    await asyncio.to_thread(gw.wait_for_log, "cannot connect to MQTT broker")
    with pytest.raises(subprocess.TimeoutExpired):
        gw.proc.wait(timeout=1.0)  # it must not exit on a dead broker
    own_mosquitto.start()
    async with client(own_mosquitto) as c:
        await c.subscribe(f"edgegw/{gateway_id}/status", qos=1)
        assert (await next_message(c)).payload == b"online"
    code, err = gw.stop(signal.SIGINT)
    assert code == 0
    # Logged once per distinct reason (a broker that is starting may reset the first
    # connection after refusing many), never once per attempt.
    reasons = [
        line.split("cannot connect to MQTT broker", 1)[1].split("; retrying", 1)[0]
        for line in err.splitlines()
        if "cannot connect to MQTT broker" in line
    ]
    assert 1 <= len(reasons) <= 3, reasons
    assert all(a != b for a, b in itertools.pairwise(reasons)), reasons


def test_run_with_a_bad_config_exits_1_before_starting(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("gateway: {id: gw1}\nmqtt: {port: 99999}\n")
    result = subprocess.run(
        [sys.executable, "-m", "edgegw", "run", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 1
    assert f"{bad}:2: mqtt.port: Input should be less than or equal to 65535" in result.stderr


async def test_demo_config_runs_on_the_embedded_broker(
    tmp_path: Path, gateway_process: list[GatewayProcess], vww_path: Path
) -> None:
    del vww_path  # the demo camera's model, fetched: the gateway process finds it
    port, http_port = free_port(), free_port()
    demo = (REPO / "configs" / "demo.yaml").read_text()
    demo = demo.replace("port: 11883", f"port: {port}").replace(
        "http_port: 8787", f"http_port: {http_port}"
    )
    assert str(port) in demo
    assert str(http_port) in demo
    cfg = tmp_path / "demo.yaml"
    cfg.write_text(demo)
    gw = GatewayProcess(cfg)
    gateway_process.append(gw)
    await asyncio.to_thread(wait_port, port, timeout_s=20)
    import aiomqtt

    async with aiomqtt.Client("127.0.0.1", port) as c:
        await c.subscribe("edgegw/demo/status", qos=1)
        # amqtt 0.12.1 also hands a new subscriber some retained messages of other topics
        # (here: Home Assistant discovery); Mosquitto does not. Skip to ours.
        while (message := await next_message(c)).topic.value != "edgegw/demo/status":
            pass
        assert message.payload == b"online"
    code, err = gw.stop()
    assert code == 0, err


async def test_ping_and_unknown_commands_are_answered(
    mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    cfg = make_config(mosquitto)
    prefix = cfg.topic_prefix
    async with running(build_gateway(cfg)), client(mosquitto) as c:
        await c.subscribe(f"{prefix}/cmd/+/result", qos=1)
        await c.publish(f"{prefix}/cmd/ping", b"", qos=1)
        reply = json.loads((await next_message(c)).payload)
        assert reply["ok"] is True
        assert reply["pong"] is True
        await c.publish(f"{prefix}/cmd/reboot", b"{}", qos=1)
        reply = json.loads((await next_message(c)).payload)
        assert reply["ok"] is False
        assert "ping" in reply["commands"]
        await c.publish(f"{prefix}/cmd/ping", b"not json", qos=1)
        reply = json.loads((await next_message(c)).payload)
        assert reply["ok"] is False
        assert "not JSON" in reply["error"]


async def test_health_reports_a_lost_broker(
    own_mosquitto: Mosquitto, make_config: ConfigFactory
) -> None:
    own_mosquitto.start()
    gw = build_gateway(make_config(own_mosquitto))
    async with running(gw):
        assert gw.health_problems() == []
        own_mosquitto.stop()
        await eventually(gw.health_problems)
        assert gw.health_problems()[0].startswith("mqtt not connected")


class Flaky:
    """A component that crashes twice, then runs until cancelled."""

    name = "flaky"

    def __init__(self) -> None:
        self.runs = 0
        self.healthy = asyncio.Event()

    async def run(self) -> None:
        self.runs += 1
        if self.runs <= 2:
            raise RuntimeError("boom")
        self.healthy.set()
        await asyncio.Event().wait()


async def test_supervisor_restarts_a_crashed_component_with_backoff() -> None:
    stats = Stats()
    flaky = Flaky()
    async with Supervisor(stats=stats, min_restart_s=0.01, max_restart_s=0.05) as sup:
        sup.start(flaky)
        async with asyncio.timeout(5):
            await flaky.healthy.wait()
        assert sup.failing == []
    assert flaky.runs == 3
    assert stats.snapshot()["component_restarts_total"] == {"flaky": 2.0}


async def test_busy_http_port_is_a_clear_error_and_the_gateway_keeps_running(
    mosquitto: Mosquitto, make_config: ConfigFactory, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", free_port()))
        busy.listen()
        port = busy.getsockname()[1]
        gw = build_gateway(make_config(mosquitto, stats={"http_port": port}))
        caplog.set_level(logging.ERROR, logger="gateway.runtime.supervisor")
        async with running(gw):
            await eventually(lambda: "component http is restarting" in gw.health_problems())
            assert gw.bus is not None
            assert gw.bus.connected.is_set()  # the rest of the gateway is unaffected
    failures = [r for r in caplog.records if "component http failed" in r.getMessage()]
    assert failures
    assert f"cannot serve HTTP on 127.0.0.1:{port}" in failures[0].getMessage()
    assert failures[0].exc_info is None  # a known failure: one line, no traceback
