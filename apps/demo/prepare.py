"""Before the demo runs: its options, the files it needs, free ports and its gateway config."""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gateway.config import GatewayConfig
from gateway.config.loader import parse_config
from gateway.errors import EdgegwError

__all__ = [
    "CAMERA_MODEL",
    "DEFAULT_CONFIG",
    "DemoError",
    "DemoOptions",
    "Endpoint",
    "demo_config",
    "fetch_assets",
    "pick_port",
]

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "demo.yaml"
CAMERA_MODEL = "person_ssdlite"  # bundled: nothing to fetch

Say = Callable[[str], None]


class DemoError(EdgegwError):
    """The demo cannot start: a file cannot be fetched, a port or option is unusable."""


@dataclass(slots=True, frozen=True)
class Endpoint:
    """A host and port, as `--broker HOST:PORT` gives them."""

    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Endpoint:
        """Parse `HOST:PORT` (or `:PORT`, meaning 127.0.0.1)."""
        host, sep, port = text.rpartition(":")
        if not sep or not port.isdigit() or not 0 < int(port) < 65536:
            msg = f"expected HOST:PORT, got {text!r}"
            raise ValueError(msg)
        return cls(host.strip("[]") or "127.0.0.1", int(port))

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(slots=True, frozen=True)
class DemoOptions:
    """What `edgegw demo` was asked to do."""

    out_dir: Path
    duration_s: float | None = None
    """Stop after this long; None: when the clip ends (79.5 s at 10 fps)."""
    broker: Endpoint | None = None
    """An external broker; None: the config's embedded one."""
    cloud_url: str | None = None
    """An external cloud; None: the reference cloud in this process."""
    camera: bool = True
    config: Path = DEFAULT_CONFIG
    devices_per_format: int = 2
    sensor_interval_s: float = 1.0
    allcloud_samples: int = 20
    """Whole frames sent to the reference cloud after the run, to measure all-cloud."""
    drain_s: float = 20.0
    """After the clip, wait at most this long for verdicts and the outbox to empty."""
    live: bool | None = None
    """Redraw the progress in place; None: when stdout is a terminal."""


def fetch_assets(*, camera: bool, cloud: bool, say: Say) -> Path | None:
    """Fetch the models and the footage the demo needs; return vtest.avi's path."""
    from gateway.errors import ModelError
    from gateway.inference.catalog import fetch
    from gateway.vision.redact import FACE_MODEL
    from lab.footage import FootageError, default_data_dir, fetch_vtest
    from refcloud.judges import DEFAULT_JUDGE, JUDGE_MODELS, NAMER_MODELS

    # The camera's detector is bundled; faces are blurred on everything that leaves.
    names = [FACE_MODEL] if camera else []
    names += [*JUDGE_MODELS[DEFAULT_JUDGE], *NAMER_MODELS] if cloud else []
    try:
        if names:
            fetch(names, progress=lambda message: say(f"models: {message}"))
        if not camera:
            return None
        cached = default_data_dir() / "footage" / "vtest.avi"
        if not cached.is_file():
            say("footage: fetching vtest.avi from Debian's opencv-doc package (96 MB) ...")
        path = fetch_vtest()
    except (ModelError, FootageError) as exc:
        raise DemoError(str(exc)) from exc
    say(f"footage: vtest.avi ready ({path})")
    return path


def pick_port(host: str, preferred: int) -> int:
    """Return `preferred` when it can be bound on `host`, else a free port."""
    for port in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or port == 0:
                    raise DemoError(f"cannot bind {host}:{port}: {exc}") from exc
                continue
            bound: int = sock.getsockname()[1]
            return bound
    raise AssertionError("unreachable")  # pragma: no cover


def demo_config(
    options: DemoOptions,
    *,
    broker: Endpoint,
    cloud_url: str,
    http_port: int | None,
    state_dir: Path,
    cloud_token: str | None = None,
) -> GatewayConfig:
    """The demo's config file, with the broker, cloud, ports and outbox of this run.

    `cloud_token` is the bearer token of the demo's own cloud (None: the file's).
    """
    path = options.config
    try:
        data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DemoError(f"cannot read {path}: {exc}") from exc
    mqtt = data.setdefault("mqtt", {})
    mqtt.update(host=broker.host, port=broker.port)
    if options.broker is not None:
        mqtt["broker"] = "external"
    stats = data.setdefault("stats", {})
    stats["http_port"] = http_port
    cloud = data.setdefault("cloud", {})
    cloud.update(enabled=True, url=cloud_url)
    if cloud_token is not None:
        cloud["token"] = cloud_token
    cloud.setdefault("outbox", {})["path"] = str(state_dir / "outbox.db")
    if not options.camera:
        data["cameras"] = []
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    return parse_config(text, file=str(path), base_dir=path.parent)


def camera_topic(config: GatewayConfig) -> tuple[str, str] | None:
    """The (camera id, MQTT topic) of the first MQTT camera, if there is one."""
    for camera in config.cameras:
        if camera.enabled and camera.mqtt_topic is not None:
            return camera.id, camera.mqtt_topic
    return None
