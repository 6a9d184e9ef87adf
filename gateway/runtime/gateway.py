"""The gateway process: start components named in the config, stop them in order, reload.

A reload (the `reload` command, SIGHUP) validates the new config whole first and, when
it is invalid, answers every `file:line: key: reason` and keeps running the old one.
A valid one is applied without a restart and without dropping the broker session: the
log level in place, the stats publisher and the HTTP endpoint restarted when their
settings changed, and each pipeline's handle restarts only what changed (a sensor, a
camera, the cloud link). The broker connection (`mqtt:`) and `gateway.id` name the
session and every topic: changing them needs a restart of the process, and such a
reload is refused saying so.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

from gateway.config import GatewayConfig, load_config, parse_config
from gateway.errors import CommandError, ConfigError, EdgegwError
from gateway.events import Events
from gateway.logs import redact_also, url_secrets
from gateway.mqtt.broker import EmbeddedBroker
from gateway.mqtt.bus import MqttBus, SubscriptionWatch
from gateway.mqtt.topics import Topics
from gateway.runtime.commands import CommandRequest, Commands
from gateway.runtime.context import PipelineHandle, PipelineStart, ReloadReport, RuntimeContext
from gateway.runtime.http import Credentials, HealthChecks, HttpEndpoint
from gateway.runtime.stats_publisher import StatsPublisher
from gateway.runtime.status import StatusBoard
from gateway.runtime.supervisor import Supervisor
from gateway.stats_registry import Stats

log = logging.getLogger(__name__)


def config_secrets(model: BaseModel) -> Iterator[str]:
    """Every secret value in the config, so logs can redact them."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, str) and "://" in value:
            yield from url_secrets(value)  # rtsp://user:password@...
        elif isinstance(value, BaseModel):
            yield from config_secrets(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, BaseModel):
                    yield from config_secrets(item)


class Gateway:
    """One gateway: embedded broker (optional), bus, and supervised components.

    `pipelines` are started in order once the bus and supervisor run (see `gateway.plugins`);
    the handles they return take reloads. `config_path` is the file `reload` reads.
    """

    def __init__(
        self,
        config: GatewayConfig,
        *,
        pipelines: Sequence[PipelineStart],
        stats: Stats | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.pipelines = tuple(pipelines)
        self.stats = stats or Stats()
        self.topics = Topics(config.topic_prefix)
        self.bus: MqttBus | None = None
        self.supervisor: Supervisor | None = None
        self.events: Events | None = None
        self.commands: Commands | None = None
        self.board = StatusBoard(config=config, stats=self.stats, health=self.health_problems)
        self.http: HttpEndpoint | None = None
        self.started = asyncio.Event()
        self.health = HealthChecks()
        self._ctx: RuntimeContext | None = None
        self._handles: list[PipelineHandle] = []
        self._reload_lock = asyncio.Lock()
        self._reloads = self.stats.counter("reloads", "Config reloads, by result.", ["result"])

    def health_problems(self) -> list[str]:
        """Why the gateway is not healthy right now; empty when it is."""
        problems: list[str] = []
        if self.bus is None or not self.bus.connected.is_set():
            why = self.bus.last_error if self.bus is not None else "not started"
            problems.append(f"mqtt not connected: {why}")
        if self.bus is not None:
            problems.extend(f"mqtt subscription {r}" for r in self.bus.refused())
        if self.supervisor is not None:
            problems.extend(f"component {n} is restarting" for n in self.supervisor.failing)
        problems.extend(self.health.problems())
        return problems

    async def run(self, stop: asyncio.Event) -> None:
        """Run until `stop` is set, then stop components, publish `offline`, flush."""
        cfg = self.config
        async with contextlib.AsyncExitStack() as stack:
            if cfg.mqtt.broker == "embedded":
                await stack.enter_async_context(
                    EmbeddedBroker(host=cfg.mqtt.host, port=cfg.mqtt.port)
                )
            self.bus = bus = await stack.enter_async_context(
                MqttBus(
                    cfg.mqtt,
                    client_id=cfg.client_id,
                    status_topic=self.topics.status,
                    stats=self.stats,
                    log_interval_s=cfg.logging.rate_limit_s,
                )
            )
            self.supervisor = supervisor = await stack.enter_async_context(
                Supervisor(stats=self.stats)
            )
            self.events = Events(
                bus=bus, topics=self.topics, stats=self.stats, gateway_id=cfg.gateway.id
            )
            supervisor.start(SubscriptionWatch(bus))
            self.commands = commands = Commands(bus=bus, topics=self.topics, stats=self.stats)
            commands.register("ping", self._cmd_ping)
            commands.register("stats", self._cmd_stats)
            commands.register("reload", self._cmd_reload)
            self.board.attach(bus, self.topics)
            self.events.add_sink(self.board.on_event)
            self._start_stats(cfg)
            self._start_http(cfg)
            self._ctx = ctx = RuntimeContext(
                config=cfg,
                bus=bus,
                stats=self.stats,
                topics=self.topics,
                events=self.events,
                supervisor=supervisor,
                commands=commands,
                health=self.health,
            )
            for start in self.pipelines:
                handle = await start(ctx)
                if handle is not None:
                    self._handles.append(handle)
            log.info("gateway %s started (topics under %s/)", cfg.gateway.id, self.topics.prefix)
            self.started.set()
            await stop.wait()
            log.info("gateway %s stopping", cfg.gateway.id)
        log.info("gateway %s stopped", cfg.gateway.id)

    def _start_stats(self, cfg: GatewayConfig) -> None:
        assert self.bus is not None
        assert self.supervisor is not None
        self.supervisor.start(
            StatsPublisher(
                bus=self.bus,
                stats=self.stats,
                topic=self.topics.stats,
                gateway_id=cfg.gateway.id,
                interval_s=cfg.stats.interval_s,
            )
        )

    def _start_http(self, cfg: GatewayConfig) -> None:
        assert self.supervisor is not None
        s = cfg.stats
        if s.http_port is None:
            self.http = None
            return
        self.http = HttpEndpoint(
            stats=self.stats,
            health=self.health_problems,
            host=s.http_host,
            port=s.http_port,
            board=self.board if s.status_page else None,
            credentials=Credentials(
                token=s.http_token, username=s.http_username, password=s.http_password
            ),
        )
        self.supervisor.start(self.http)

    # ---- reload ------------------------------------------------------------------------

    async def reload(self, *, text: str | None = None, save: bool = False) -> dict[str, Any]:
        """Validate and apply a new config (`text`, else the config file); the answer.

        Raises `CommandError` when another reload is running or there is nothing to read.
        """
        if self._reload_lock.locked():
            msg = "busy: another reload is running"
            raise CommandError(msg)
        async with self._reload_lock:
            started = time.perf_counter()
            answer = await self._reload(text=text, save=save)
            answer["duration_ms"] = round((time.perf_counter() - started) * 1000, 1)
            self._reloads.labels("ok" if answer.get("ok") else "refused").inc()
            self.board.reloaded(
                {k: v for k, v in answer.items() if k in ("ok", "error", "applied", "issues")}
            )
            return answer

    async def _reload(self, *, text: str | None, save: bool) -> dict[str, Any]:
        path = self.config_path
        source = "payload" if text is not None else str(path)
        try:
            if text is not None:
                base = path.parent.resolve() if path is not None else Path.cwd()
                new = await asyncio.to_thread(parse_config, text, file="<payload>", base_dir=base)
            elif path is not None:
                new = await asyncio.to_thread(load_config, path)
            else:
                msg = "no config file to read: give the config as `config` in the payload"
                raise CommandError(msg)
        except ConfigError as exc:
            log.warning("reload refused: the new config (%s) is invalid:\n%s", source, exc)
            return {
                "ok": False,
                "source": source,
                "error": "invalid config: nothing was changed",
                "issues": [str(i) for i in exc.issues],
            }
        old = self.config
        fixed = _fixed_changes(old, new)
        problems = fixed + [p for h in self._handles for p in h.check(new)]
        if problems:
            log.warning("reload refused (%s): %s", source, "; ".join(problems))
            return {
                "ok": False,
                "source": source,
                "error": "config refused: nothing was changed",
                "issues": problems,
            }
        report = await self._apply(old, new)
        saved = False
        if save and text is not None and path is not None:
            await asyncio.to_thread(_write_atomically, path, text)
            saved = True
        changed = bool(report.started or report.restarted or report.stopped or report.updated)
        log.info(
            "config reloaded from %s: %s",
            source,
            ", ".join(f"{k} {', '.join(v)}" for k, v in report.as_json().items() if v)
            or "nothing changed",
        )
        return {
            "ok": True,
            "source": source,
            "changed": changed,
            "applied": report.as_json(),
            "saved": saved,
        }

    async def _apply(self, old: GatewayConfig, new: GatewayConfig) -> ReloadReport:
        assert self._ctx is not None
        assert self.supervisor is not None
        report = ReloadReport()
        redact_also(config_secrets(new))
        if new.logging.level != old.logging.level:
            logging.getLogger().setLevel(new.logging.level)
            report.updated.append(f"logging.level={new.logging.level}")
        if new.stats.interval_s != old.stats.interval_s:
            await self.supervisor.remove("stats")
            self._start_stats(new)
            report.restarted.append("stats")
        http_keys = {
            "http_port",
            "http_host",
            "status_page",
            "http_token",
            "http_username",
            "http_password",
        }
        if _differs(old.stats, new.stats, http_keys):
            await self.supervisor.remove("http")
            self._start_http(new)
            report.restarted.append("http")
        self.config = new
        self.board.update_config(new)
        ctx = self._ctx = RuntimeContext(
            config=new,
            bus=self._ctx.bus,
            stats=self.stats,
            topics=self.topics,
            events=self._ctx.events,
            supervisor=self.supervisor,
            commands=self._ctx.commands,
            health=self.health,  # the checks pipelines added stay (the cloud link's)
        )
        for handle in self._handles:
            report.merge(await handle.reload(ctx))
        return report

    async def reload_on_signal(self) -> None:
        """SIGHUP: reload the config file; the outcome is logged (nobody to answer)."""
        try:
            answer = await self.reload()
        except EdgegwError as exc:
            log.warning("SIGHUP: reload not done: %s", exc)
            return
        if not answer["ok"]:
            for issue in answer.get("issues", []):
                log.warning("SIGHUP reload refused: %s", issue)

    # ---- commands ----------------------------------------------------------------------

    async def _cmd_ping(self, _req: CommandRequest) -> dict[str, Any]:
        problems = self.health_problems()
        return {
            "pong": True,
            "uptime_s": round(self.stats.uptime(), 3),
            "healthy": not problems,
            "problems": problems,
        }

    async def _cmd_stats(self, _req: CommandRequest) -> dict[str, Any]:
        return {"metrics": self.stats.snapshot()}

    async def _cmd_reload(self, req: CommandRequest) -> dict[str, Any]:
        text = req.args.get("config")
        save = req.args.get("save", False)
        unknown = set(req.args) - {"config", "save"}
        if unknown:
            msg = f"unknown argument(s): {', '.join(sorted(unknown))} (takes: config, save)"
            raise CommandError(msg)
        if text is not None and not isinstance(text, str):
            msg = "config must be the YAML text of the whole config, as a string"
            raise CommandError(msg)
        if not isinstance(save, bool):
            msg = "save must be true or false"
            raise CommandError(msg)
        return await self.reload(text=text, save=save)


def _differs(old: BaseModel, new: BaseModel, keys: set[str]) -> bool:
    return any(getattr(old, k) != getattr(new, k) for k in keys)


def _fixed_changes(old: GatewayConfig, new: GatewayConfig) -> list[str]:
    """What a reload cannot change without a restart of the process."""
    problems = []
    if new.gateway.id != old.gateway.id:
        problems.append("gateway.id: names every topic; changing it needs a restart")
    if new.mqtt != old.mqtt:
        keys = sorted(
            k for k in type(new.mqtt).model_fields if getattr(new.mqtt, k) != getattr(old.mqtt, k)
        )
        problems.append(
            f"mqtt.{', mqtt.'.join(keys)}: the broker session is kept on reload; "
            "changing it needs a restart"
        )
    return problems


def _write_atomically(path: Path, text: str) -> None:
    """Replace `path` with `text`: a temporary file in the same folder, then a rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
