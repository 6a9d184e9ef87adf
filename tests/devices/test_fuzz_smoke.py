"""bench.fuzz runs end to end (500 inputs, real Mosquitto) and accounts for every input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_fuzz_bench_smoke() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.fuzz", "--inputs", "500", "--no-config-bombs"],
        check=False, capture_output=True, text=True, timeout=110, cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    assert lines, result.stderr[-2000:]
    last = json.loads(lines[-1])
    details = json.loads(lines[0])
    assert last["inputs"] == 504  # 500 mutations + 4 image bombs
    assert last["crashes"] == 0, result.stdout
    assert details["lost_in_gateway"] == 0  # every message sent was counted by the gateway
    direct_uncounted = sum(v for k, v in details["outcomes"].items() if k.endswith(":uncounted"))
    assert last["uncounted"] == direct_uncounted
    assert 0 < last["peak_rss_mb"] <= 300
    assert last["max_stall_ms"] >= 0  # measured by the bench; a shared machine makes it noisy
    for kind in ("plain", "json", "tasmota", "zigbee2mqtt", "shelly", "camera"):
        assert any(k.startswith(f"{kind}:") for k in details["outcomes"]), kind
    assert details["outcomes"].get("camera:too_many_pixels", 0) >= 2  # the bombs
