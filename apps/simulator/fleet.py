"""Simulated devices and the messages they send, one payload format each."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal, get_args

from apps.simulator.signals import Signal, humidity, temperature

Format = Literal["plain", "json", "tasmota", "zigbee2mqtt", "shelly"]
FORMATS: Final[tuple[Format, ...]] = get_args(Format)


@dataclass(slots=True, frozen=True)
class SimMessage:
    """One MQTT message a simulated device publishes."""

    topic: str
    payload: bytes


@dataclass(slots=True, frozen=True)
class SimDevice:
    """A simulated device: its name, payload format, cadence and signals."""

    name: str
    format: Format
    temperature: Signal
    humidity: Signal
    interval_s: float = 5.0
    silent_after_s: float | None = None
    """Stop publishing this many seconds into the run."""
    silent_for_s: float | None = None
    """Publish again after this long; silent for the rest of the run when None."""
    battery: float = 100.0

    def silent_at(self, t: float) -> bool:
        """Whether the device keeps quiet `t` seconds into the run."""
        if self.silent_after_s is None or t < self.silent_after_s:
            return False
        return self.silent_for_s is None or t < self.silent_after_s + self.silent_for_s


def make_fleet(
    *,
    per_format: int = 1,
    formats: tuple[Format, ...] = FORMATS,
    interval_s: float = 5.0,
    silent_after_s: float | None = None,
    silent_for_s: float | None = None,
    seed: int = 0,
) -> list[SimDevice]:
    """`per_format` devices of each format; the very first one goes silent if asked."""
    rng = random.Random(seed)
    fleet: list[SimDevice] = []
    for fmt in formats:
        for i in range(1, per_format + 1):
            first = not fleet
            fleet.append(
                SimDevice(
                    name=f"sim_{fmt}_{i}",
                    format=fmt,
                    temperature=temperature(rng),
                    humidity=humidity(rng),
                    interval_s=interval_s,
                    silent_after_s=silent_after_s if first else None,
                    silent_for_s=silent_for_s if first else None,
                    battery=round(rng.uniform(60.0, 100.0)),
                )
            )
    return fleet


def messages(device: SimDevice, t: float, now: float, rng: random.Random) -> list[SimMessage]:
    """What `device` publishes `t` seconds into the run, at unix time `now`."""
    temp = device.temperature.value(t, rng)
    hum = device.humidity.value(t, rng)
    name = device.name
    match device.format:
        case "plain":
            return [
                SimMessage(f"sim/plain/{name}/temperature", f"{temp}".encode()),
                SimMessage(f"sim/plain/{name}/humidity", f"{hum}".encode()),
            ]
        case "json":
            doc: dict[str, object] = {
                "ts": round(now, 3),
                "env": {"temperature": temp, "humidity": hum},
            }
            return [SimMessage(f"sim/json/{name}", _dumps(doc))]
        case "tasmota":
            doc = {
                "Time": datetime.fromtimestamp(now, UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                "AM2301": {"Temperature": temp, "Humidity": hum, "DewPoint": round(temp - 8, 1)},
                "TempUnit": "C",
            }
            return [SimMessage(f"tele/{name}/SENSOR", _dumps(doc))]
        case "zigbee2mqtt":
            doc = {
                "temperature": temp,
                "humidity": hum,
                "battery": device.battery,
                "linkquality": rng.randint(60, 200),
                "occupancy": rng.random() < 0.2,
            }
            return [SimMessage(f"zigbee2mqtt/{name}", _dumps(doc))]
        case "shelly":
            doc = {
                "src": name,
                "dst": f"{name}/events",
                "method": "NotifyStatus",
                "params": {
                    "ts": round(now, 2),
                    "temperature:0": {"id": 0, "tC": temp, "tF": round(temp * 1.8 + 32, 1)},
                    "humidity:0": {"id": 0, "rh": hum},
                },
            }
            return [SimMessage(f"{name}/events/rpc", _dumps(doc))]


def _dumps(doc: dict[str, object]) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()
