"""`edgegw`: run the gateway, check its config, fetch models, simulate devices, serve the cloud."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from apps.demo import add_demo_parser
from apps.simulator.cli import add_simulate_parser
from gateway import __version__
from gateway.cli import add_gateway_commands
from refcloud.cli import add_cloud_parser

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of `edgegw`."""
    parser = argparse.ArgumentParser(prog="edgegw", description=__doc__)
    parser.add_argument("--version", action="version", version=f"edgegw {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_gateway_commands(sub)
    add_simulate_parser(sub)
    add_cloud_parser(sub)
    add_demo_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `edgegw` console script."""
    args = build_parser().parse_args(argv)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
