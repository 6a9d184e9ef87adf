"""Hostile config files: `edgegw validate` refuses each with one line, quickly, in bounded memory.

Each bomb runs `python -m edgegw validate` as a real subprocess under an address-space
limit (`prlimit --as`, so a regression fails the test instead of swapping the machine),
and the child's own peak RSS is read from `wait4`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.config.loader import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_NODES

REPO = Path(__file__).resolve().parents[3]
ADDRESS_SPACE = 2 * 1024**3  # the child dies (and the test fails) past 2 GB
PRLIMIT = shutil.which("prlimit") or "/usr/bin/prlimit"  # util-linux: exec()s the command
MAX_RSS_MB = 300
MAX_SECONDS = 10.0


@dataclass(slots=True, frozen=True)
class Outcome:
    """How one `edgegw validate` child ended."""

    code: int
    out: str
    err: str
    seconds: float
    peak_rss_mb: float


def validate(path: Path, tmp_path: Path) -> Outcome:
    """Run `edgegw validate path` in a child; its exit code, output, time and peak RSS."""
    out_file, err_file = tmp_path / "validate.out", tmp_path / "validate.err"
    hwm_file = tmp_path / "validate.hwm"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with out_file.open("wb") as out, err_file.open("wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(
            [PRLIMIT, f"--as={ADDRESS_SPACE}", sys.executable, "-m", "tests.support.hwm",
             str(hwm_file), "edgegw", "validate", str(path)],
            stdout=out, stderr=err, cwd=REPO, env=env,
        )  # fmt: skip
        try:
            _, status, _usage = os.wait4(proc.pid, 0)
        finally:
            proc.returncode = 0  # reaped by wait4: keep Popen from waiting again
        seconds = time.monotonic() - started
    return Outcome(
        code=os.waitstatus_to_exitcode(status),
        out=out_file.read_text(),
        err=err_file.read_text(),
        seconds=seconds,
        # The child's own VmHWM (tests/support/hwm.py): ru_maxrss inherits pytest's peak.
        peak_rss_mb=int(hwm_file.read_text()) / 1024 if hwm_file.exists() else -1.0,
    )


def assert_refused(outcome: Outcome, path: Path, line: int | None, reason: str) -> None:
    """One `error: file:line: reason` line, exit 1, no traceback, fast and small."""
    where = f"{path}:{line}" if line is not None else f"{path}"
    assert outcome.code == 1, outcome.err
    assert outcome.err.splitlines() == [f"error: {where}: {reason}"], outcome.err
    assert "Traceback" not in outcome.err
    assert outcome.seconds < MAX_SECONDS, outcome
    assert 0 < outcome.peak_rss_mb < MAX_RSS_MB, outcome


def billion_laughs() -> str:
    """The classic: nine levels of nine aliases each, 9**9 strings once expanded."""
    text = "gateway: {id: gw1}\nx:\n a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n"
    previous = "a"
    for name in "bcdefghi":
        text += f" {name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]\n"
        previous = name
    return text


def test_billion_laughs_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "laughs.yaml"
    path.write_text(billion_laughs())
    assert path.stat().st_size < 400
    outcome = validate(path, tmp_path)
    sizes = [10]  # level a: a sequence of 9 strings; each next level: 9 of the previous
    while sizes[-1] <= MAX_NODES:
        sizes.append(1 + 9 * sizes[-1])
    reason = f"refused: expands to more than {MAX_NODES} values (YAML aliases)"
    assert_refused(outcome, path, 3 + len(sizes) - 1, reason)  # level a is on line 3


@pytest.mark.parametrize(("opening", "closing"), [("[", "]"), ("{a: ", "}")])
def test_deep_nesting_is_refused(tmp_path: Path, opening: str, closing: str) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text("gateway: {id: gw1}\nx: " + opening * 20_000 + closing * 20_000 + "\n")
    assert path.stat().st_size >= 40_000
    outcome = validate(path, tmp_path)
    assert_refused(outcome, path, 2, f"refused: nested deeper than {MAX_DEPTH} levels")


def test_deep_nesting_through_aliases_is_refused(tmp_path: Path) -> None:
    # every anchor is 4 levels deep; a{i} holds a{i-1} 3 levels down: 4 + 3i expanded
    text = "gateway: {id: gw1}\nx:\n  a0: &a0 [[[x]]]\n"
    text += "".join(f"  a{i}: &a{i} [[[*a{i - 1}]]]\n" for i in range(1, 20))
    path = tmp_path / "chain.yaml"
    path.write_text(text)
    outcome = validate(path, tmp_path)
    first_too_deep = next(i for i in range(20) if 4 + 3 * i > MAX_DEPTH)
    reason = f"refused: nested deeper than {MAX_DEPTH} levels once aliases expand"
    assert_refused(outcome, path, 3 + first_too_deep, reason)


def test_recursive_alias_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text("gateway: {id: gw1}\nx: &loop [1, *loop]\n")
    outcome = validate(path, tmp_path)
    reason = "refused: an alias refers to its own anchor (a recursive structure)"
    assert_refused(outcome, path, 2, reason)


def test_too_many_values_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "wide.yaml"
    path.write_text("gateway: {id: gw1}\nx: [" + ", ".join(["1"] * (MAX_NODES + 10)) + "]\n")
    assert path.stat().st_size < MAX_CONFIG_BYTES
    outcome = validate(path, tmp_path)
    assert_refused(outcome, path, 2, f"refused: more than {MAX_NODES} values")


def test_a_20_mb_file_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    with path.open("w") as f:
        f.write("gateway: {id: gw1}\n")
        line = "# " + "x" * 98 + "\n"
        f.writelines(line for _ in range(200_000))
    assert path.stat().st_size > 20_000_000
    outcome = validate(path, tmp_path)
    assert_refused(outcome, path, None, f"refused: larger than {MAX_CONFIG_BYTES} bytes")


def test_an_endless_file_is_refused(tmp_path: Path) -> None:
    path = Path("/dev/zero")
    outcome = validate(path, tmp_path)
    assert_refused(outcome, path, None, f"refused: larger than {MAX_CONFIG_BYTES} bytes")


def test_a_bad_timestamp_is_an_error_on_its_line(tmp_path: Path) -> None:
    path = tmp_path / "date.yaml"
    path.write_text("gateway: {id: gw1}\nx: 2024-13-45\n")
    outcome = validate(path, tmp_path)
    assert_refused(outcome, path, 2, "invalid YAML: month must be in 1..12")


def test_anchors_within_bounds_still_work(tmp_path: Path) -> None:
    path = tmp_path / "anchors.yaml"
    path.write_text(
        "gateway: {id: gw1}\n"
        "mqtt:\n  reconnect: &backoff {min_delay_s: 1, max_delay_s: 5}\n"
        "cameras:\n"
        "  - {id: c1, source: 'mqtt:cam/1', reconnect: *backoff}\n"
        "  - {id: c2, source: 'mqtt:cam/2', reconnect: *backoff}\n"
    )
    outcome = validate(path, tmp_path)
    assert outcome.code == 0, outcome.err
    assert outcome.out.startswith(f"ok: {path}: gateway gw1")
    assert "2 camera(s)" in outcome.out
