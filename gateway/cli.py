"""The device's own subcommands: `edgegw run`, `validate`, `schema` and `models`.

The `edgegw` entry point (`edgegw.cli`) adds these next to the apps' and the reference
cloud's subcommands; this module imports nothing outside the device package.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path

from gateway.config import GatewayConfig, load_config
from gateway.costs.cli import add_estimate_parser
from gateway.errors import ConfigError, EdgegwError
from gateway.inference.cli import add_models_parser
from gateway.logs import redact_urls, setup_logging


def _print_config_error(exc: ConfigError) -> None:
    for issue in exc.issues:
        print(f"error: {issue}", file=sys.stderr)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a config file: exit 0 when valid, 1 with every issue when not."""
    try:
        config = load_config(args.file)
    except ConfigError as exc:
        _print_config_error(exc)
        return 1
    mqtt = config.mqtt
    print(
        f"ok: {args.file}: gateway {config.gateway.id}, broker {mqtt.broker} "
        f"{mqtt.host}:{mqtt.port} ({'TLS' if mqtt.tls.enabled else 'plain TCP'}), "
        f"{len(config.sensors)} sensor(s), {len(config.cameras)} camera(s), "
        f"{len(config.models)} model(s), cloud {'on' if config.cloud.enabled else 'off'}"
    )
    if args.show:
        # SecretStr fields dump as '**********': secrets never reach the terminal.
        # URL credentials (rtsp://user:password@...) are masked the same way.
        print(redact_urls(config.model_dump_json(indent=2)))
    return 0


def cmd_schema(_args: argparse.Namespace) -> int:
    """Print the config's JSON Schema (for editors: yaml-language-server)."""
    print(json.dumps(GatewayConfig.model_json_schema(), indent=2))
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    """Run the gateway until SIGINT/SIGTERM; SIGHUP reloads the config file."""
    from gateway.plugins import build_gateway
    from gateway.runtime import config_secrets

    try:
        config = load_config(args.config)
    except ConfigError as exc:
        _print_config_error(exc)
        return 1
    setup_logging(
        level=args.log_level or config.logging.level,
        fmt=args.log_format or config.logging.format,
        secrets=config_secrets(config),
    )

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        gateway = build_gateway(config, config_path=Path(args.config))
        reloads: set[asyncio.Task[None]] = set()

        def on_hup() -> None:
            task = loop.create_task(gateway.reload_on_signal(), name="reload:SIGHUP")
            reloads.add(task)
            task.add_done_callback(reloads.discard)

        loop.add_signal_handler(signal.SIGHUP, on_hup)
        await gateway.run(stop)

    try:
        asyncio.run(main())
    except EdgegwError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def add_gateway_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `run`, `validate`, `schema`, `models` and `estimate` to the `edgegw` parser."""
    run = sub.add_parser("run", help="run the gateway")
    run.add_argument("-c", "--config", type=Path, required=True, help="YAML config file")
    run.add_argument("--log-format", choices=["text", "json"], help="overrides logging.format")
    run.add_argument(
        "--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="overrides logging.level"
    )
    run.set_defaults(func=cmd_run)

    validate = sub.add_parser("validate", help="check a config file (exit 0 valid, 1 invalid)")
    validate.add_argument("file", type=Path)
    validate.add_argument("--show", action="store_true", help="print the resolved config")
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser("schema", help="print the config JSON Schema")
    schema.set_defaults(func=cmd_schema)
    add_models_parser(sub)
    add_estimate_parser(sub)
