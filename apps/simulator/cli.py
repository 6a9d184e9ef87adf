"""`edgegw simulate -c FILE`: device traffic for the demo, tests and benchmarks.

The broker comes from the gateway config; the devices are the simulator's own
(`sim_<format>_<n>`). `--print-sensors` prints the `sensors:` entries that read them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import sys
from typing import Any

from apps.simulator import FORMATS, Format, make_fleet, simulate
from gateway.config import load_config
from gateway.errors import ConfigError
from gateway.mqtt.tls import tls_context

_SENSORS: dict[Format, dict[str, Any]] = {
    "plain": {
        "topic": "sim/plain/+/+",
        "decoder": "plain",
        "decoder_options": {"device_from_topic": 2, "metric_from_topic": 3},
    },
    "json": {
        "topic": "sim/json/+",
        "decoder": "json",
        "decoder_options": {
            "device_from_topic": -1,
            "timestamp": "ts",
            "fields": {"temperature": "env.temperature", "humidity": "env.humidity"},
            "units": {"temperature": "°C", "humidity": "%"},
        },
    },
    "tasmota": {"topic": "tele/+/SENSOR", "decoder": "tasmota"},
    "zigbee2mqtt": {"topic": "zigbee2mqtt/+", "decoder": "zigbee2mqtt"},
    "shelly": {"topic": "+/events/rpc", "decoder": "shelly"},
}


def sensor_entries(formats: tuple[Format, ...] = FORMATS) -> list[dict[str, Any]]:
    """One `sensors:` entry per format, reading every simulated device of that format."""
    return [{"id": f"sim_{fmt}", **_SENSORS[fmt]} for fmt in formats]


def cmd_simulate(args: argparse.Namespace) -> int:
    """Publish simulated device traffic to the config's broker."""
    formats: tuple[Format, ...] = tuple(args.formats) if args.formats else FORMATS
    if args.print_sensors:
        print(json.dumps({"sensors": sensor_entries(formats)}, indent=2))
        return 0
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        return 1
    mqtt = config.mqtt
    fleet = make_fleet(
        per_format=args.devices,
        formats=formats,
        interval_s=args.interval,
        silent_after_s=args.silent_after or None,
        seed=args.seed,
    )
    print(
        f"simulating {len(fleet)} device(s) ({', '.join(formats)}) on "
        f"{mqtt.host}:{mqtt.port}, every {args.interval:g}s; Ctrl-C to stop",
        file=sys.stderr,
    )
    password = mqtt.password.get_secret_value() if mqtt.password is not None else None
    run = simulate(
        fleet,
        host=mqtt.host,
        port=mqtt.port,
        username=mqtt.username,
        password=password,
        tls_context=tls_context(mqtt.tls),
        client_id=f"edgegw-simulator-{config.gateway.id}",
        duration_s=args.duration,
        seed=args.seed,
    )
    with contextlib.suppress(KeyboardInterrupt):
        report = asyncio.run(run)
        print(f"sent {report.messages} messages, {report.bytes} bytes", file=sys.stderr)
    return 0


def add_simulate_parser(sub: Any) -> None:
    """Add `simulate` to the `edgegw` subcommands (`sub` from `add_subparsers`)."""
    sim = sub.add_parser("simulate", help="publish simulated device traffic (demo, benchmarks)")
    sim.add_argument("-c", "--config", required=True, help="gateway YAML config (its broker)")
    sim.add_argument("--devices", type=int, default=2, help="devices per format (default 2)")
    sim.add_argument("--formats", nargs="+", choices=FORMATS, help="payload formats (default: all)")
    sim.add_argument(
        "--interval", type=float, default=5.0, help="seconds between reports (default 5)"
    )
    sim.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    sim.add_argument(
        "--silent-after",
        type=float,
        default=60.0,
        help="the first device goes silent after this many seconds (0: never; default 60)",
    )
    sim.add_argument("--seed", type=int, default=0, help="random seed")
    sim.add_argument(
        "--print-sensors",
        action="store_true",
        help="print the sensors: entries that read the simulated devices, and exit",
    )
    sim.set_defaults(func=cmd_simulate)
