"""A real Home Assistant Core for the interoperability tests, in its own virtualenv.

Home Assistant Core 2024.3.3 (the newest release for Python 3.11) pins versions the
project's venv cannot share (paho-mqtt 1.6.1 against the gateway's 2.x, aiohttp 3.9.3,
...), so it lives in `<data dir>/venvs/homeassistant-<version>`, made on first use by
the `homeassistant_python` fixture or by `scripts/bootstrap.sh --test`
(`python -m tests.support.ha_env`), from PyPI with the ordinary pip client: the
homeassistant wheel is downloaded first, its own `package_constraints.txt` is read from
it and passed to pip as `-c`, with the MQTT integration's and the onboarding's
requirements (`paho-mqtt`, `Pillow`, ...) that Home Assistant would otherwise pip-install
at its first start. A lock file keeps two test sessions from building it at once.

    python -m tests.support.ha_env      build it if missing; print its python

`HomeAssistant` runs `python -m homeassistant --skip-pip` on a loopback port with a
minimal `configuration.yaml` (`http`, `api`, `config`, `onboarding`), onboards a user
and gets a token through the REST API, and adds the MQTT integration through the
config-flow API. `states()` reads `/api/states`; `registries()` reads the entity and
device registries over the WebSocket API; `log_lines()` reads `home-assistant.log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from lab.venvs import locked_venv, run_step
from tests.support.processes import terminate

__all__ = [
    "HA_VERSION",
    "HomeAssistant",
    "HomeAssistantEnvError",
    "Registries",
    "ensure_ha_python",
]

HA_VERSION = "2024.3.3"
# What the integrations the tests load need (HA pip-installs these at start-up unless
# `--skip-pip`, which the tests use so that a started HA never reaches PyPI): mqtt ->
# paho-mqtt; onboarding -> person -> image_upload -> Pillow; file_upload -> janus; the
# default integrations frontend, backup, hardware (and analytics, for onboarding) ->
# home-assistant-frontend, securetar, psutil-home-assistant (SQLAlchemy, fnv-hash-fast:
# analytics imports the recorder's models); josepy < 2 for acme's import.
_EXTRA = (
    "paho-mqtt==1.6.1",
    "Pillow==10.2.0",
    "janus==1.0.0",
    "josepy<2",
    "home-assistant-frontend==20240307.0",
    "securetar==2024.2.1",
    "psutil-home-assistant==0.0.1",
    "SQLAlchemy==2.0.27",
    "fnv-hash-fast==0.5.0",
    "PyTurboJPEG==1.7.1",  # camera (loaded with MQTT), which imports numpy
    "numpy==1.26.0",
)
_PIP_TIMEOUT_S = 1800
CLIENT_ID_PATH = "/"


class HomeAssistantEnvError(RuntimeError):
    """Home Assistant cannot be installed or started (no network, pip failed, ...)."""


def ensure_ha_python(data_dir: Path | None = None) -> Path:
    """Return the Home Assistant venv's python, building the venv first if it is missing."""

    def install(venv: Path, python: Path) -> None:
        wheels = venv / "wheels"
        _run(
            [str(python), "-m", "pip", "download", "-q", "--disable-pip-version-check",
             "--no-deps", "-d", str(wheels), f"homeassistant=={HA_VERSION}"],
            f"pip download homeassistant=={HA_VERSION}",
        )  # fmt: skip
        wheel = next(wheels.glob("homeassistant-*.whl"), None)
        if wheel is None:
            raise HomeAssistantEnvError(f"no homeassistant wheel in {wheels}")
        constraints = venv / "package_constraints.txt"
        with zipfile.ZipFile(wheel) as zf:
            constraints.write_bytes(zf.read("homeassistant/package_constraints.txt"))
        _run(
            [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
             str(wheel), "-c", str(constraints), *_EXTRA],
            f"pip install homeassistant=={HA_VERSION}",
        )  # fmt: skip

    return locked_venv(
        f"homeassistant-{HA_VERSION}",
        f"homeassistant=={HA_VERSION} {' '.join(_EXTRA)}\n",
        install,
        data_dir=data_dir,
        error=HomeAssistantEnvError,
    )


def _run(argv: list[str], what: str) -> None:
    run_step(argv, what, error=HomeAssistantEnvError, timeout_s=_PIP_TIMEOUT_S)


CONFIGURATION = """\
homeassistant:
  name: edgegw test
  latitude: 52.37
  longitude: 4.89
  elevation: 0
  unit_system: metric
  time_zone: UTC
  currency: EUR
  country: NL
http:
  server_host: 127.0.0.1
  server_port: {port}
api:
config:
onboarding:
logger:
  default: info
"""


@dataclass(slots=True, frozen=True)
class Registries:
    """Home Assistant's entity and device registries (as its WebSocket API lists them)."""

    entities: list[dict[str, Any]]
    devices: list[dict[str, Any]]

    def entity(self, unique_id: str) -> dict[str, Any] | None:
        """The registry entry with `unique_id` (platform mqtt), if any."""
        return next((e for e in self.entities if e.get("unique_id") == unique_id), None)

    def device_of(self, unique_id: str) -> dict[str, Any] | None:
        """The device of the entity with `unique_id`, if any."""
        entry = self.entity(unique_id)
        if entry is None or entry.get("device_id") is None:
            return None
        return next((d for d in self.devices if d["id"] == entry["device_id"]), None)


@dataclass(slots=True)
class HomeAssistant:
    """A Home Assistant Core subprocess on loopback, onboarded, with the MQTT integration."""

    python: Path
    config_dir: Path
    port: int
    proc: subprocess.Popen[bytes] | None = None
    token: str | None = None

    @property
    def url(self) -> str:
        """Base URL, on loopback."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Home Assistant's own log file."""
        return self.config_dir / "home-assistant.log"

    def start(self, *, timeout_s: float = 180.0) -> None:
        """Start it (writing the configuration on the first start); return once it answers."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        conf = self.config_dir / "configuration.yaml"
        if not conf.exists():
            conf.write_text(CONFIGURATION.format(port=self.port))
        out = (self.config_dir / "stdout.log").open("ab")
        self.proc = subprocess.Popen(
            [str(self.python), "-m", "homeassistant", "--config", str(self.config_dir),
             "--skip-pip", "--log-file", str(self.log)],
            stdout=out, stderr=subprocess.STDOUT, cwd=self.config_dir,
        )  # fmt: skip
        out.close()
        deadline = time.monotonic() + timeout_s
        while not self._answers():
            failed = any("Activating recovery mode" in line for line in self.log_lines())
            if self.proc.poll() is not None or failed:
                errors = "\n".join(x for x in self.log_lines() if " ERROR " in x)[-3000:]
                raise HomeAssistantEnvError(f"hass failed to start:\n{errors}")
            if time.monotonic() > deadline:
                raise HomeAssistantEnvError(f"hass not up within {timeout_s}s; see {self.log}")
            time.sleep(0.3)  # poll interval while it starts, bounded by the deadline

    def _answers(self) -> bool:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + "/manifest.json", timeout=2) as resp:
                return bool(resp.status == 200)
        except urllib.error.HTTPError as exc:
            return exc.code in (401, 404)  # http is up; api answers 401 without a token
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL)."""
        if self.proc is None:
            return
        terminate(self.proc, 60)
        self.proc = None

    # ---- REST / WebSocket ----------------------------------------------------------------

    async def onboard(self) -> None:
        """Create the owner and get a token (first start only)."""
        client_id = self.url + CLIENT_ID_PATH
        async with aiohttp.ClientSession() as http:
            async with http.post(
                self.url + "/api/onboarding/users",
                json={"client_id": client_id, "name": "Test", "username": "test",
                      "password": "edgegw-test-pw", "language": "en"},
            ) as resp:  # fmt: skip
                body = await _json(resp, "onboarding users")
            async with http.post(
                self.url + "/auth/token",
                data={"grant_type": "authorization_code", "code": body["auth_code"],
                      "client_id": client_id},
            ) as resp:  # fmt: skip
                self.token = str((await _json(resp, "auth token"))["access_token"])
            # The later onboarding steps (core_config: it adds met, shopping_list,
            # google_translate with requirements not installed here) are not needed:
            # the token works from here on.

    def _auth(self) -> dict[str, str]:
        if self.token is None:
            raise HomeAssistantEnvError("not onboarded: no token")
        return {"Authorization": f"Bearer {self.token}"}

    async def add_mqtt(self, host: str, port: int) -> None:
        """Add the MQTT integration for the broker at host:port through the config flow."""
        async with aiohttp.ClientSession(headers=self._auth()) as http:
            async with http.post(
                self.url + "/api/config/config_entries/flow",
                json={"handler": "mqtt", "show_advanced_options": False},
            ) as resp:
                step = await _json(resp, "mqtt flow")
            while step.get("type") == "form":
                async with http.post(
                    f"{self.url}/api/config/config_entries/flow/{step['flow_id']}",
                    json={"broker": host, "port": port},
                ) as resp:
                    step = await _json(resp, f"mqtt flow step {step.get('step_id')}")
            if step.get("type") != "create_entry":
                raise HomeAssistantEnvError(f"mqtt config flow ended with {step}")

    async def states(self) -> dict[str, dict[str, Any]]:
        """`/api/states` by entity id."""
        async with (
            aiohttp.ClientSession(headers=self._auth()) as http,
            http.get(self.url + "/api/states") as resp,
        ):
            rows = await _json(resp, "states")
        return {row["entity_id"]: row for row in rows}

    async def registries(self) -> Registries:
        """The entity and device registries, over the WebSocket API."""
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.url + "/api/websocket") as ws,
        ):
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.token})
            ok = await ws.receive_json()
            if ok.get("type") != "auth_ok":
                raise HomeAssistantEnvError(f"websocket auth: {ok}")
            out: list[list[dict[str, Any]]] = []
            for i, kind in enumerate(("config/entity_registry/list",
                                      "config/device_registry/list"), start=1):  # fmt: skip
                await ws.send_json({"id": i, "type": kind})
                answer = await ws.receive_json()
                if not answer.get("success"):
                    raise HomeAssistantEnvError(f"{kind}: {answer}")
                out.append(answer["result"])
        return Registries(entities=out[0], devices=out[1])

    @contextlib.asynccontextmanager
    async def watching(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Record every `state_changed` event (its `data`) while the block runs."""
        seen: list[dict[str, Any]] = []
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.url + "/api/websocket") as ws,
        ):
            await ws.receive_json()
            await ws.send_json({"type": "auth", "access_token": self.token})
            await ws.receive_json()
            await ws.send_json({"id": 1, "type": "subscribe_events", "event_type": "state_changed"})
            if not (await ws.receive_json()).get("success"):
                raise HomeAssistantEnvError("cannot subscribe to state_changed")

            async def pump() -> None:
                async for msg in ws:
                    doc = json.loads(msg.data)
                    if doc.get("type") == "event":
                        seen.append(doc["event"]["data"])

            task = asyncio.create_task(pump())
            try:
                yield seen
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def log_lines(self) -> list[str]:
        """Every line of Home Assistant's log so far."""
        if not self.log.exists():
            return []
        return self.log.read_text(errors="replace").splitlines()


async def _json(resp: aiohttp.ClientResponse, what: str) -> Any:
    text = await resp.text()
    if resp.status >= 400:
        raise HomeAssistantEnvError(f"{what}: HTTP {resp.status}: {text[:500]}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HomeAssistantEnvError(f"{what}: not JSON: {text[:200]}") from exc


async def _main() -> None:  # pragma: no cover - a manual check
    print(ensure_ha_python())


if __name__ == "__main__":
    asyncio.run(_main())
