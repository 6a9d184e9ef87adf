"""Fuzz bench: malformed payloads and frames through a real broker into a running gateway.

    .venv/bin/python -m bench.fuzz [--inputs 100000] [--seed 1] [--batch 250]

Starts its own Mosquitto on a free port and a `Gateway` in this process, with one sensor
per payload decoder (`plain`, `json`, `tasmota`, `zigbee2mqtt`, `shelly`) and one MQTT
camera. Then `--inputs` inputs, 80% sensor payloads and 20% camera frames, each a
mutation of a valid one (bytes flipped, cut, inserted; values made "hot", NaN, 1e400,
huge, nested deep; non-UTF-8, empty, oversize), followed by the bomb set: image bombs
(a 629-byte JPEG and a PNG claiming 30000x30000), truncated JPEGs (half a JPEG with an
end-of-image marker appended), and config bombs (billion laughs, 40 KB of `[[[`, a 20 MB
file) given to `edgegw validate` in a subprocess each (limited to 2 GB of address space).

Every input is accounted for twice:

- directly: the decoder (`make_decoder`) or `decode_frame` must give readings or a
  counted reason (an error / a `FrameIssue`); an exception is a crash, neither an
  `uncounted` input;
- through the broker, in batches of `--batch`: the gateway's counters must reach the
  number sent (`sensor_messages`; camera frames decoded + corrupt + skipped =
  `camera_frames_in`); what never shows up is `uncounted`, a supervisor restart a crash.
  Publishing waits for each batch to be counted, so the gateway is never flooded past
  its MQTT queue (bench.sensor_ingest measures that limit).

A config bomb is a crash when `validate` does not exit 1 with a `file:line: reason`
message within 60 s (a traceback, a MemoryError, a timeout).

`max_stall_ms` is the worst lateness of a 10 ms timer on the gateway's event loop,
`peak_rss_mb` this process's peak resident memory (the gateway's; the config bombs'
subprocesses are reported apart). The last line printed is JSON:
`{"inputs": N, "crashes": 0, "uncounted": 0, "peak_rss_mb": ..., "max_stall_ms": ...}`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiomqtt
import cv2
import numpy as np

from devices.cameras import EncodedFrame, FrameIssue, decode_frame
from devices.decoders import Decoder, make_decoder
from gateway.config import GatewayConfig
from gateway.inference.catalog import fetch
from gateway.plugins import build_gateway
from gateway.runtime import Gateway
from gateway.vision.redact import FACE_MODEL
from tests.support.bombs import jpeg_bomb, png_bomb, truncated_jpeg
from tests.support.mosquitto import Mosquitto

log = logging.getLogger("bench.fuzz")

REPO = Path(__file__).resolve().parents[1]
CAMERA_TOPIC = "fuzz/cam"
CAMERA = "fuzzcam"
CONFIG_BOMB_AS_BYTES = 2 * 1024**3
CONFIG_BOMB_TIMEOUT_S = 60.0

# One valid payload per decoder, and the sensor's decoder options.
SENSORS: dict[str, tuple[dict[str, Any], list[bytes]]] = {
    "plain": (
        {"device_from_topic": 2, "metric": "temperature"},
        [b"21.5", b"ON", b"-3e1"],
    ),
    "json": (
        {"fields": {"temperature": "temp", "humidity": "env.hum"}, "device_from_topic": 2},
        [b'{"temp": 21.5, "env": {"hum": 40}}', b'{"temp": "22.0"}'],
    ),
    "tasmota": (
        {"tele_prefix": "fztele"},
        [
            b'{"Time":"2024-05-01T12:00:00","DS18B20":{"Temperature":21.5},"TempUnit":"C"}',
            b'{"Time":"2024-05-01T12:00:00","ENERGY":{"Power":40,"Voltage":230}}',
        ],
    ),
    "zigbee2mqtt": (
        {"base_topic": "fuzz/zigbee2mqtt"},
        [b'{"temperature":21.5,"humidity":40.1,"battery":90,"occupancy":true}'],
    ),
    "shelly": (
        {},
        [
            b'{"src":"shellyht-1","method":"NotifyStatus",'
            b'"params":{"ts":1714564800,"temperature:0":{"tC":21.5}}}',
            b'{"temperature:0":{"id":0,"tC":21.5,"tF":70.7}}',
        ],
    ),
}
# Where each decoder's devices publish (the sensor subscribes to the filter).
FILTERS = {
    "plain": "fuzz/plain/+",
    "json": "fuzz/json/+",
    "tasmota": "fztele/+/SENSOR",
    "zigbee2mqtt": "fuzz/zigbee2mqtt/+",
    "shelly": "fuzz/shelly/#",
}


def device_topic(kind: str, device: str, seed: bytes) -> str:
    """The topic a device of `kind` publishes `seed`-like payloads on."""
    if kind == "tasmota":
        return f"fztele/{device}/SENSOR"
    if kind == "shelly":
        rpc = seed.startswith(b'{"src"')
        return f"fuzz/shelly/{device}/" + ("events/rpc" if rpc else "status/temperature:0")
    return f"fuzz/{kind}/{device}"


HOSTILE_VALUES = [
    '"hot"', "NaN", "Infinity", "-Infinity", "1e400", "-1e400", "null", "true", "[]", "{}",
    "123456789012345678901234567890", '"21,5"', '"\\u0000"', "[[[[[[[[[[1]]]]]]]]]]",
    '{"a":{"b":{"c":{"d":1}}}}', "0x10", '""',
]  # fmt: skip


@dataclass(slots=True)
class Tally:
    """What the inputs gave."""

    inputs: int = 0
    crashes: int = 0
    uncounted: int = 0
    lost: int = 0
    """Inputs sent through the broker that the gateway never counted."""
    outcomes: Counter[str] = field(default_factory=Counter)
    crash_examples: list[str] = field(default_factory=list)

    def crash(self, what: str) -> None:
        """Count a crash and keep the first few for the report."""
        self.crashes += 1
        if len(self.crash_examples) < 5:
            self.crash_examples.append(what[:300])


def mutate(rng: random.Random, seed: bytes, max_bytes: int) -> bytes:
    """A malformed variant of `seed`."""
    choice = rng.random()
    text = seed.decode("utf-8", "replace")
    if choice < 0.3:  # swap a number for a hostile value
        numbers = [i for i, c in enumerate(text) if c.isdigit()]
        if numbers:
            at = rng.choice(numbers)
            end = at
            while end < len(text) and (text[end].isdigit() or text[end] in ".e-+"):
                end += 1
            return (text[:at] + rng.choice(HOSTILE_VALUES) + text[end:]).encode()
    if choice < 0.35:
        return b"[" * rng.randint(100, 50_000) + b"]" * rng.randint(0, 100)
    if choice < 0.38:
        return b'{"temp": ' + str(rng.random()).encode() * rng.randint(1, max_bytes // 8) + b"}"
    if choice < 0.40:
        return rng.choice([b"", b"\xff\xfe\x00", b"\x00" * 10, "🌡️".encode(), b"\x80abc"])
    data = bytearray(seed)
    for _ in range(rng.randint(1, 6)):
        op = rng.random()
        pos = rng.randrange(len(data) + 1)
        if op < 0.4 and data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
        elif op < 0.7:
            del data[pos : pos + rng.randint(1, 8)]
        else:
            data[pos:pos] = rng.randbytes(rng.randint(1, 8))
    return bytes(data)


def seed_frames() -> list[bytes]:
    """Small real-looking JPEG frames (noise over a gradient), colour and grey."""
    rng = np.random.default_rng(5)
    frames = []
    for width, height in ((160, 120), (96, 64)):
        ramp = np.linspace(0, 255, width, dtype=np.float32)[np.newaxis, :, np.newaxis]
        image = np.clip(ramp + rng.normal(0, 25, (height, width, 3)), 0, 255).astype(np.uint8)
        frames.append(bytes(cv2.imencode(".jpg", image)[1]))
        frames.append(bytes(cv2.imencode(".jpg", image[:, :, 0])[1]))
    return frames


def mutate_frame(rng: random.Random, seeds: list[bytes]) -> bytes:
    """A malformed frame: a flipped, cut or spliced JPEG, or a bomb."""
    seed = rng.choice(seeds)
    choice = rng.random()
    if choice < 0.02:
        return jpeg_bomb(rng.randint(5000, 60000), rng.randint(5000, 60000))
    if choice < 0.04:
        return png_bomb()
    if choice < 0.15:
        return truncated_jpeg(seed)
    if choice < 0.2:
        return seed[: rng.randrange(len(seed))]
    data = bytearray(seed)
    for _ in range(rng.randint(1, 10)):
        pos = rng.randrange(len(data))
        if rng.random() < 0.7:
            data[pos] = rng.randrange(256)
        else:
            data[pos:pos] = rng.randbytes(rng.randint(1, 32))
    return bytes(data)


def gateway_config(port: int, workdir: Path) -> GatewayConfig:
    """One sensor per decoder and one MQTT camera (motion only), on the bench broker."""
    sensors = [
        {
            "id": f"fz_{kind}",
            "topic": FILTERS[kind],
            "decoder": kind,
            "decoder_options": options,
            "window_s": 3600,
        }
        for kind, (options, _) in SENSORS.items()
    ]
    return GatewayConfig.model_validate(
        {
            "gateway": {"id": "fuzz"},
            "mqtt": {"host": "127.0.0.1", "port": port},
            "sensors": sensors,
            "cameras": [{"id": CAMERA, "source": f"mqtt:{CAMERA_TOPIC}", "detect_fps": 100}],
            "logging": {"rate_limit_s": 3600},
        }
    )


def counted(snapshot: dict[str, Any], name: str, key: str | None = None) -> float:
    """Sum a counter's series (optionally one label value) in a stats snapshot."""
    value = snapshot.get(name, {})
    if not isinstance(value, dict):
        return float(value)
    if key is not None:
        return float(value.get(key, 0.0))
    return float(sum(value.values()))


def camera_accounted(snapshot: dict[str, Any]) -> float:
    """Frames the camera decoded, refused with a reason, or skipped for a newer one."""
    corrupt = snapshot.get("camera_frames_corrupt_total", {})
    assert isinstance(corrupt, dict)
    return (
        counted(snapshot, "camera_frames_decoded_total", CAMERA)
        + sum(float(v) for k, v in corrupt.items() if k.startswith(f"{CAMERA},"))
        + counted(snapshot, "camera_frames_skipped_total", CAMERA)
        + counted(snapshot, "camera_errors_total", f"{CAMERA},frame")
    )


def direct(
    tally: Tally, decoders: dict[str, Decoder], kind: str, topic: str, payload: bytes
) -> None:
    """Decode one input directly: readings or a counted reason, never an exception."""
    try:
        if kind == "camera":
            result = decode_frame(EncodedFrame(payload, time.monotonic()))
            tally.outcomes[
                f"camera:{result.problem.value}" if isinstance(result, FrameIssue) else "camera:ok"
            ] += 1
            return
        decoded = decoders[kind].decode(topic, payload, time.time())
    except Exception as exc:  # what the bench is looking for
        tally.crash(f"{kind} {payload[:60]!r}: {type(exc).__name__}: {exc}")
        return
    if decoded.readings:
        tally.outcomes[f"{kind}:readings"] += 1
    elif decoded.errors:
        tally.outcomes[f"{kind}:{decoded.errors[0].reason}"] += 1
    else:
        tally.uncounted += 1
        tally.outcomes[f"{kind}:uncounted"] += 1


async def wait_counted(
    gw: Gateway, sent_sensors: int, sent_frames: int, timeout_s: float = 30.0
) -> tuple[float, float]:
    """Wait until the gateway counted what was sent; return (sensor msgs, camera frames)."""
    deadline = time.monotonic() + timeout_s
    while True:
        snap = gw.stats.snapshot()
        messages = counted(snap, "sensor_messages_total")
        frames = camera_accounted(snap)
        if (messages >= sent_sensors and frames >= sent_frames) or time.monotonic() > deadline:
            return messages, frames
        await asyncio.sleep(0.01)  # counters have no event to wait on


async def loop_lag(stop: asyncio.Event, worst: list[float]) -> None:
    """Record the worst lateness of a 10 ms timer on this loop."""
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        worst[0] = max(worst[0], time.perf_counter() - t0 - 0.01)


async def fuzz_gateway(args: argparse.Namespace, broker: Mosquitto, tally: Tally) -> float:
    """Run the inputs and bombs through the broker into a gateway; return max stall (s)."""
    rng = random.Random(args.seed)
    decoders = {kind: make_decoder(kind, **options) for kind, (options, _) in SENSORS.items()}
    frames = seed_frames()
    gw = build_gateway(gateway_config(broker.port, Path(args.workdir)))
    stop = asyncio.Event()
    task = asyncio.create_task(gw.run(stop), name="gateway")
    ready = asyncio.create_task(gw.started.wait(), name="gateway-started")
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():  # the gateway refused to start (e.g. a model is missing)
        ready.cancel()
        await task  # raises its error
        msg = "the gateway stopped before it started"
        raise RuntimeError(msg)
    assert gw.bus is not None
    await gw.bus.connected.wait()
    while counted(gw.stats.snapshot(), "camera_ready", CAMERA) < 1:  # noqa: ASYNC110
        await asyncio.sleep(0.05)  # a gauge has no event to wait on
    lag_stop = asyncio.Event()
    worst = [0.0]
    lag = asyncio.create_task(loop_lag(lag_stop, worst))
    bombs = [jpeg_bomb(), png_bomb(), truncated_jpeg(frames[0]), truncated_jpeg(frames[2])]
    sent_sensors = sent_frames = 0
    seen_sensors = seen_frames = 0.0
    kinds = list(SENSORS)
    started = time.monotonic()
    async with aiomqtt.Client("127.0.0.1", broker.port, identifier="fuzz-pub") as pub:
        total = args.inputs + len(bombs)
        for start in range(0, total, args.batch):
            for index in range(start, min(start + args.batch, total)):
                topic = CAMERA_TOPIC
                if index >= args.inputs:
                    kind, payload = "camera", bombs[index - args.inputs]
                elif rng.random() < 0.2:
                    kind, payload = "camera", mutate_frame(rng, frames)
                else:
                    kind = rng.choice(kinds)
                    seed = rng.choice(SENSORS[kind][1])
                    payload = mutate(rng, seed, 16 * 1024)
                    topic = device_topic(kind, f"dev{index % 7}", seed)
                tally.inputs += 1
                direct(tally, decoders, kind, topic, payload)
                await pub.publish(topic, payload, qos=1)
                if kind == "camera":
                    sent_frames += 1
                else:
                    sent_sensors += 1
            seen_sensors, seen_frames = await wait_counted(gw, sent_sensors, sent_frames)
            if (start // args.batch) % 40 == 0:
                log.info(
                    "%d/%d inputs, %.0f s, stall %.0f ms",
                    tally.inputs, total, time.monotonic() - started, worst[0] * 1000,
                )  # fmt: skip
    tally.lost = int(max(0, sent_sensors - seen_sensors) + max(0, sent_frames - seen_frames))
    tally.uncounted += tally.lost
    assert gw.supervisor is not None
    restarts = counted(gw.stats.snapshot(), "component_restarts_total")
    tally.crashes += int(restarts) + len(gw.supervisor.failing)
    if restarts or gw.supervisor.failing:
        tally.crash_examples.append(
            f"supervisor: {restarts} restarts, failing {gw.supervisor.failing}"
        )
    lag_stop.set()
    await lag
    stop.set()
    await task
    return worst[0]


def config_bombs(workdir: Path) -> list[tuple[str, Path]]:
    """The issue's config bombs, as files."""
    laughs = ["gateway: {id: gw1}", "a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        laughs.append(f"{cur}: &{cur} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]")
    files = {
        "billion_laughs": "\n".join(laughs) + "\n",
        "nested_brackets": "gateway: " + "[" * 40_000 + "\n",
        "twenty_mb": "gateway: {id: gw1}\nnote: |\n" + ("  " + "x" * 98 + "\n") * 200_000,
    }
    out = []
    for name, text in files.items():
        path = workdir / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        out.append((name, path))
    return out


def _limit_memory() -> None:  # runs in the child before exec
    resource.setrlimit(resource.RLIMIT_AS, (CONFIG_BOMB_AS_BYTES, CONFIG_BOMB_AS_BYTES))


def run_config_bombs(workdir: Path, tally: Tally) -> dict[str, dict[str, Any]]:
    """`edgegw validate` each config bomb in a memory-limited subprocess."""
    results: dict[str, dict[str, Any]] = {}
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for name, path in config_bombs(workdir):
        tally.inputs += 1
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "edgegw", "validate", str(path)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO, env=env,
            preexec_fn=_limit_memory,  # noqa: PLW1509  # no threads started by then
        )  # fmt: skip
        try:
            out, err = proc.communicate(timeout=CONFIG_BOMB_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        text = (out + err).decode("utf-8", "replace")
        ok = proc.returncode == 1 and "Traceback" not in text and f"{path}:" in text
        results[name] = {
            "exit": proc.returncode,
            "seconds": round(time.monotonic() - t0, 2),
            "message": text.strip().splitlines()[-1][:160] if text.strip() else "",
        }
        if not ok:
            tally.crash(f"config {name}: exit {proc.returncode}: {results[name]['message']}")
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    results["_peak_rss_mb"] = {"any_child": round(children, 1)}
    return results


def own_peak_rss_mb() -> float:
    """This process's own peak RSS (VmHWM): ru_maxrss would include a forking parent's."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    """Run the bench; print the JSON line last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=250)
    parser.add_argument("--no-config-bombs", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("gateway", "devices", "cloud_bridge", "aiomqtt"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    # The camera blurs faces on what it publishes (privacy.redact_faces, on by default), so
    # the gateway refuses to start without the face model: fetch it (a no-op when cached).
    fetch((FACE_MODEL,))
    tally = Tally()
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="edgegw-fuzz-") as tmp:
        args.workdir = tmp
        broker = Mosquitto(Path(tmp))
        broker.start()
        try:
            stall = asyncio.run(fuzz_gateway(args, broker, tally))
        finally:
            broker.stop()
        peak = own_peak_rss_mb()
        configs = {} if args.no_config_bombs else run_config_bombs(Path(tmp), tally)
    details = {
        "outcomes": dict(sorted(tally.outcomes.items())),
        "lost_in_gateway": tally.lost,
        "config_bombs": configs,
    }
    print(json.dumps(details))
    for example in tally.crash_examples:
        print("crash:", example)
    print(f"{time.monotonic() - t0:.0f} s")
    print(
        json.dumps(
            {
                "inputs": tally.inputs,
                "crashes": tally.crashes,
                "uncounted": tally.uncounted,
                "peak_rss_mb": round(peak, 1),
                "max_stall_ms": round(stall * 1000, 1),
            }
        )
    )
    return 0 if tally.crashes == 0 and tally.uncounted == 0 and peak <= 300 else 1


if __name__ == "__main__":
    sys.exit(main())
