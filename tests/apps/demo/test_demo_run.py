"""`edgegw demo` as a real subprocess: embedded broker, reference cloud, gateway, devices.

Each test runs the demo on its own free ports and output dir. The config is the demo's
own with one change: the escalation band reaches 1.0, so that every announced track is a
hard case and an 8-second run surely has some for the cloud to judge (at the default
band of [0.5, 0.9) the first tracks of vtest.avi are all settled at the edge).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import cv2
import pytest

from apps.demo.image import HEADER_H, comparison_panel
from apps.demo.prepare import CAMERA_MODEL, DEFAULT_CONFIG
from apps.demo.report import DemoReport
from tests.support.mosquitto import free_port

REPO = Path(__file__).resolve().parents[3]
STREAMS = {"demo_cam", "sim_plain", "sim_json", "sim_tasmota", "sim_zigbee2mqtt", "sim_shelly"}


@pytest.fixture(scope="module")
def fixtures(judge_models: dict[str, Path], model_paths: dict[str, Path], vtest_path: Path) -> None:
    """The models and footage the demo fetches on first run, fetched before it starts."""
    assert CAMERA_MODEL == "person_ssdlite"  # bundled in the package: nothing to fetch
    assert "blazeface_full" in model_paths  # faces are blurred on what leaves the gateway
    del judge_models, vtest_path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    text = DEFAULT_CONFIG.read_text(encoding="utf-8")
    for old, new in (
        ("port: 11883", f"port: {free_port()}"),
        ("http_port: 8787", f"http_port: {free_port()}"),
        ("high: 0.9}", "high: 1.0}"),
    ):
        assert old in text, old
        text = text.replace(old, new)
    path = tmp_path / "demo.yaml"
    path.write_text(text, encoding="utf-8")
    return path


class Demo:
    """`python -m edgegw demo ...` with its stdout collected line by line."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edgegw", "demo", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self.errors: list[str] = []
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.errors), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def _read(self, stream: IO[str] | None, into: list[str]) -> None:
        assert stream is not None
        for line in stream:
            with self._changed:
                into.append(line)
                self._changed.notify_all()

    def wait_for(self, text: str, timeout_s: float) -> None:
        with self._changed:
            if not self._changed.wait_for(
                lambda: any(text in line for line in self.lines), timeout=timeout_s
            ):
                raise AssertionError(f"no line with {text!r} in: {''.join(self.lines)}")

    def finish(self, timeout_s: float) -> tuple[int, str, str]:
        try:
            self.proc.wait(timeout=timeout_s)
        finally:
            self.proc.kill()
        for reader in self._readers:
            reader.join(timeout=5)
        return self.proc.returncode, "".join(self.lines), "".join(self.errors)


@pytest.fixture
def demos() -> Iterator[list[Demo]]:
    started: list[Demo] = []
    yield started
    for demo in started:
        if demo.proc.poll() is None:
            demo.proc.kill()
            demo.proc.wait(timeout=10)


def load_report(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = json.loads((out / "report.json").read_text(encoding="utf-8"))
    image = cv2.imread(str(out / "report.png"))
    assert image is not None, "report.png does not decode"
    assert image.shape[0] > 300
    assert image.shape[1] > 1000
    return report


@pytest.mark.usefixtures("fixtures")
def test_a_short_demo_reports_every_stream_and_judged_hard_cases(
    tmp_path: Path, config: Path, demos: list[Demo]
) -> None:
    out = tmp_path / "out"
    demo = Demo(
        "--duration", "8", "--out", str(out), "--config", str(config), "--log-level", "INFO"
    )
    demos.append(demo)
    code, stdout, stderr = demo.finish(timeout_s=50)
    assert code == 0, stderr
    assert f"report: {out / 'report.json'}" in stdout

    report = load_report(out)
    assert report["interrupted"] is False
    streams = {s["stream"]: s for s in report["streams"]}
    assert set(streams) == STREAMS
    for name, stream in streams.items():
        assert stream["messages_in"] > 0, (name, (out / "metrics.json").read_text(), stderr)
        assert stream["bytes_in"] > 0, (name, stdout, stderr)
    camera = streams["demo_cam"]
    assert camera["type"] == "camera"
    assert camera["messages_in"] >= 80
    assert 0 < camera["bytes_up"] < camera["bytes_in"] / 20
    assert report["bytes_up"] == sum(report["uplink_wire_bytes"].values())
    hard = camera["hard_cases"]
    assert hard["sent"] >= 1
    assert hard["judged"] >= 1
    outcomes = ("confirmed", "rejected", "relabelled", "unsure")
    assert hard["judged"] == sum(hard[k] for k in outcomes)
    judged = [h for h in report["hard_cases"] if h["verdict"] is not None]
    assert judged
    assert all(h["cloud_label"] for h in judged)
    assert report["cloud_stored_events"] > 0
    check_comparison(report, out, stdout)
    check_corrections(report, out, stdout)


def check_corrections(report: dict[str, Any], out: Path, stdout: str) -> None:
    """The cloud's corrections and the faces proof: in the progress line, JSON and summary."""
    fixed = report["corrections"]
    assert fixed["camera"] == "demo_cam"
    applied = fixed["applied"]
    kinds = ("confirmed", "rejected", "relabelled", "split", "named", "duplicate")
    done = sum(applied[k] for k in kinds)
    assert done >= 1
    # Every verdict the cloud sent back was either applied or counted with why not (the
    # stats are read before the gateway stops: verdicts for its last crops can come after).
    counted = done + sum(applied["unchanged"].values())
    assert fixed["verdicts"] - 2 <= counted <= fixed["verdicts"]
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert applied["faces_redacted"] == metrics["camera_faces_redacted_total"]["demo_cam"]
    hard = next(s for s in report["streams"] if s["stream"] == "demo_cam")["hard_cases"]
    faces = fixed["faces"]
    assert (faces["model"], faces["threshold"]) == ("blazeface_full", 0.5)
    assert faces["uploads"] == hard["sent"]
    assert faces["uploads_unmatched"] == 0  # each crop's unredacted frame was found
    assert faces["faces_in_uploads_before"] >= faces["uploads_with_faces_before"] >= 1
    assert faces["faces_in_uploads_after"] == 0, faces["leaked"]
    # The stats were read before the gateway stopped; its last crops can come after.
    assert faces["faces_blurred_by_edge"] >= applied["faces_redacted"]
    # Plain progress: the block's lines joined by ' || ', spaces squeezed (a terminal's
    # block pads each line's name to 9 columns: 3 more than here).
    progress = [part.strip() for line in stdout.splitlines() for part in line.split(" || ")]
    cloud = [p for p in progress if p.startswith("cloud ")]
    assert cloud, stdout
    assert all("verdicts:" in p and "faces blurred" in p for p in cloud)
    assert all(len(p) <= 97 for p in progress if p.startswith(("camera ", "cloud ", "uplink ")))
    assert "demo_cam corrected by the cloud:" in stdout
    assert "0 after redaction" in stdout


def check_comparison(report: dict[str, Any], out: Path, stdout: str) -> None:
    """The "hybrid vs all-cloud" panel: in the JSON, the PNG and the terminal."""
    panel = report["hybrid_vs_all_cloud"]
    measured = panel["measured"]
    assert measured["frames"] >= 80
    assert measured["edge_cpu_s"] > 0
    assert len(measured["all_cloud"]) == 20  # whole frames timed on the reference cloud
    per_hour = panel["per_hour"]
    assert set(per_hour) == {"hybrid", "edge_only", "all_cloud"}
    hour = 3600 / measured["video_s"]
    all_cloud = per_hour["all_cloud"]["usage"]
    assert all_cloud["cloud_calls"] == pytest.approx(measured["frames"] * hour)
    assert all_cloud["uplink_bytes"] == pytest.approx(measured["frame_bytes"] * hour)
    hybrid = per_hour["hybrid"]["usage"]
    assert hybrid["cloud_calls"] == pytest.approx(measured["hard_cases"] * hour)
    assert 0 < hybrid["uplink_bytes"] < all_cloud["uplink_bytes"]
    for mode, figures in per_hour.items():
        for name in ("board_j", "radio_j", "cloud_j", "total_j", "total_cost"):
            figure = figures[name]
            assert set(figure["uses"]) <= set(panel["coefficients"]), (mode, name)
        assert figures["total_j"]["value"] > 0
    assert panel["energy_ratio"] == pytest.approx(
        per_hour["hybrid"]["total_j"]["value"] / per_hour["all_cloud"]["total_j"]["value"],
        rel=1e-4,
    )
    assert 0 < panel["cost_ratio"] < 1
    lat = panel["latency"]
    rtt = panel["coefficients"]["network_rtt_ms"]
    assert 0 < lat["hybrid_event"]["p50_ms"] <= lat["hybrid_event"]["p99_ms"]
    assert lat["hybrid_verdict"]["p50_ms"] > rtt
    assert lat["all_cloud"]["samples"] == 20
    assert lat["all_cloud"]["p50_ms"] > rtt
    assert "hybrid vs all-cloud, per hour of video" in stdout
    image = cv2.imread(str(out / "report.png"))
    assert image is not None
    drawn = comparison_panel(DemoReport(**{**report, "streams": [], "hard_cases": []}), 1536)
    assert drawn is not None
    top = HEADER_H
    assert (image[top : top + drawn.shape[0]] == drawn).all()  # PNG: lossless


@pytest.mark.usefixtures("fixtures")
def test_ctrl_c_stops_cleanly_and_still_writes_the_report(
    tmp_path: Path, config: Path, demos: list[Demo]
) -> None:
    out = tmp_path / "out"
    demo = Demo("--out", str(out), "--config", str(config))  # the whole clip: 79.5 s
    demos.append(demo)
    demo.wait_for("camera ", timeout_s=40)  # the first progress line: frames are flowing
    demo.proc.send_signal(signal.SIGINT)
    code, stdout, stderr = demo.finish(timeout_s=30)
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert f"and {out / 'report.png'}" in stdout
    report = load_report(out)
    assert report["interrupted"] is True
    assert report["duration_s"] < 40
    camera = next(s for s in report["streams"] if s["stream"] == "demo_cam")
    assert 0 < camera["messages_in"] < 795
