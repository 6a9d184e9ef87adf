"""`edgegw demo`: the whole hybrid story on this machine, with nothing set up first."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

from apps.demo.prepare import DEFAULT_CONFIG, DemoError, DemoOptions, Endpoint
from gateway.errors import ConfigError, EdgegwError
from gateway.logs import setup_logging

__all__ = ["add_demo_parser", "cmd_demo"]


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        msg = f"must be > 0, got {text}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _endpoint(text: str) -> Endpoint:
    try:
        return Endpoint.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        msg = f"expected an http:// or https:// URL, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return text.rstrip("/")


def add_demo_parser(sub: Any) -> None:
    """Add `demo` to the `edgegw` subcommands (`sub` from `add_subparsers`)."""
    demo = sub.add_parser(
        "demo",
        help="run broker, reference cloud, gateway, simulated sensors and camera; report",
        description="Start the embedded broker, the reference cloud, the gateway with "
        "configs/demo.yaml, the device simulator and a camera streaming vtest.avi over MQTT; "
        "show live progress; write <out>/report.json and <out>/report.png. Ctrl-C stops "
        "everything and still writes the report.",
    )
    demo.add_argument(
        "--duration",
        type=_positive,
        default=None,
        metavar="S",
        help="stop after S seconds (default: when the clip ends, 79.5 s)",
    )
    demo.add_argument(
        "--broker",
        type=_endpoint,
        default=None,
        metavar="HOST:PORT",
        help="use this MQTT broker instead of starting the embedded one",
    )
    demo.add_argument(
        "--cloud",
        type=_url,
        default=None,
        metavar="URL",
        help="use this cloud (event sink + OIP) instead of the in-process reference cloud",
    )
    demo.add_argument(
        "--out", type=Path, default=Path("demo-out"), metavar="DIR", help="(default ./demo-out)"
    )
    demo.add_argument(
        "--no-camera", action="store_true", help="sensors only: no camera, no vision models"
    )
    demo.add_argument(
        "--config", type=Path, default=DEFAULT_CONFIG, help="gateway config (configs/demo.yaml)"
    )
    demo.add_argument(
        "--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"]
    )
    demo.set_defaults(func=cmd_demo)


def _say(message: str) -> None:
    print(message, flush=True)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the demo; exit 0 with the report written (also after Ctrl-C), 1 on failure."""
    from apps.demo.faces import write_leaked
    from apps.demo.image import write_report_image
    from apps.demo.report import build_report, summary_lines
    from apps.demo.run import run_demo

    setup_logging(level=args.log_level)
    options = DemoOptions(
        out_dir=args.out,
        duration_s=args.duration,
        broker=args.broker,
        cloud_url=args.cloud,
        camera=not args.no_camera,
        config=args.config,
    )

    async def main() -> int:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        result = await run_demo(options, stop, _say)
        report = build_report(result)
        json_path, png_path = options.out_dir / "report.json", options.out_dir / "report.png"
        report.write(json_path)
        metrics_path = options.out_dir / "metrics.json"
        metrics_path.write_text(json.dumps(result.metrics, indent=1) + "\n", encoding="utf-8")
        await asyncio.to_thread(write_report_image, report, result.recorder, png_path)
        leaked = (
            write_leaked(result.recorder, result.faces, options.out_dir / "faces-left")
            if result.faces is not None
            else []
        )
        print()
        for line in summary_lines(report):
            print(line)
        if leaked:
            print(f"uploaded crops in which a face was found: {leaked[0].parent}")
        print(f"\nreport: {json_path} and {png_path}", flush=True)
        return 0

    try:
        return asyncio.run(main())
    except ConfigError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
    except (DemoError, EdgegwError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    return 1
