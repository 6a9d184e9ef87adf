"""`edgegw cloud serve`: the reference cloud (OIP model server + event sink) on aiohttp.

It does not start without a bearer token, read from `--token-file` or `$EDGEGW_CLOUD_TOKEN`
(never from the command line, where `ps` shows it), unless `--no-auth` says so, and
`--no-auth` is refused on anything but a loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import ssl
import sys
from pathlib import Path

from gateway.errors import EdgegwError
from gateway.logs import setup_logging
from refcloud.judges import (
    DEFAULT_JUDGE,
    JUDGE_MODELS,
    NAMING_MODEL_NAME,
    make_judge,
    make_namer,
)

__all__ = ["add_cloud_parser"]

TOKEN_ENV = "EDGEGW_CLOUD_TOKEN"
log = logging.getLogger(__name__)


def add_cloud_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add `cloud serve` to the `edgegw` command line."""
    cloud = sub.add_parser("cloud", help="the reference cloud: model server and event sink")
    cloud_sub = cloud.add_subparsers(dest="cloud_command", required=True)
    serve = cloud_sub.add_parser(
        "serve", help="serve Open Inference Protocol endpoints and the event sink"
    )
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    serve.add_argument("--port", type=int, default=8080, help="port (8080; 0 picks a free one)")
    serve.add_argument("--db", type=Path, default=Path("edgegw-cloud.db"), help="event store")
    serve.add_argument("--token", help=argparse.SUPPRESS)  # refused: see _token
    serve.add_argument(
        "--token-file",
        type=Path,
        help=f"file holding the bearer token clients must send (or set ${TOKEN_ENV})",
    )
    serve.add_argument(
        "--no-auth",
        action="store_true",
        help="answer clients without a token (only with a loopback --host)",
    )
    serve.add_argument("--model-name", default="person", help="OIP name of the judge (person)")
    serve.add_argument(
        "--judge",
        choices=tuple(JUDGE_MODELS),
        default=DEFAULT_JUDGE,
        help="hard-case judge: 'oracle' (DeepLabv3 + BlazePose, answers people boxes; what "
        "bench.hybrid uses) or 'segmentation' (DeepLabv3 alone, label and score only)",
    )
    serve.add_argument(
        "--naming-model",
        default=NAMING_MODEL_NAME,
        help=f"OIP name of the judge naming unknown objects, EfficientNet-Lite0 "
        f"({NAMING_MODEL_NAME}; '' hosts none)",
    )
    serve.add_argument(
        "--model-path", type=Path, help="--judge segmentation: .tflite (default deeplabv3)"
    )
    serve.add_argument("--tls-cert", type=Path, help="PEM certificate chain: serve HTTPS")
    serve.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    serve.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    serve.set_defaults(func=cmd_serve)


class _TokenError(Exception):
    """The token options are unusable; the message says what to do."""


def _token(args: argparse.Namespace) -> str | None:
    """The bearer token, or None with `--no-auth`; `_TokenError` when neither is usable."""
    if args.token is not None:
        raise _TokenError(
            f"--token is no longer accepted: the command line is visible to every user "
            f"(ps); put the token in a file and pass --token-file FILE, or set ${TOKEN_ENV}"
        )
    token: str | None = None
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise _TokenError(f"cannot read {args.token_file}: {exc.strerror}") from None
        if not token:
            raise _TokenError(f"{args.token_file} is empty")
    elif os.environ.get(TOKEN_ENV, "").strip():
        token = os.environ[TOKEN_ENV].strip()
    if token is not None and args.no_auth:
        raise _TokenError("--no-auth and a token (--token-file or $EDGEGW_CLOUD_TOKEN) conflict")
    if token is None and not args.no_auth:
        raise _TokenError(
            f"no bearer token: pass --token-file FILE or set ${TOKEN_ENV}; "
            f"--no-auth serves without one, on a loopback --host only"
        )
    return token


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the reference cloud until SIGINT/SIGTERM."""
    from refcloud import EventSink, ServerConfigError, check_auth, serve

    try:
        token = _token(args)
        check_auth(args.host, token, no_auth=args.no_auth)
    except (_TokenError, ServerConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    setup_logging(level=args.log_level, secrets=[token] if token else [])
    ssl_context = None
    if args.tls_cert is not None:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ssl_context.load_cert_chain(args.tls_cert, args.tls_key)
    try:
        judge = make_judge(args.judge, name=args.model_name, model_path=args.model_path)
        models = {args.model_name: judge}
        if args.naming_model:
            models[args.naming_model] = make_namer(name=args.naming_model)
    except EdgegwError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    def started(port: int) -> None:
        scheme = "https" if ssl_context is not None else "http"
        # One line on stdout that scripts and tests wait for.
        print(f"listening on {scheme}://{args.host}:{port}", flush=True)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, task.cancel)
        with EventSink(args.db) as sink, contextlib.suppress(asyncio.CancelledError):
            await serve(
                args.host,
                args.port,
                models=models,
                sink=sink,
                token=token,
                no_auth=args.no_auth,
                ssl_context=ssl_context,
                on_started=started,
            )

    asyncio.run(main())
    return 0
