"""Camera pipelines: source -> motion -> detector on regions -> tracker -> events.

`start` checks every camera's model before anything runs: a camera naming a model that
is not in `models:`, or a store model that was never fetched, stops the gateway at
startup with the command that fetches it. OpenCV and LiteRT are imported only when
there is a camera, so a gateway without cameras starts fast.

`Cameras`, the handle `start` returns, takes the camera commands and reloads:

- `camera/<id>/detect` `{"detect": true|false}` (or `"ON"`/`"OFF"`): off ends the
  camera's live tracks and analyses no frame until it is turned on again; the state is
  retained on `<prefix>/cameras/<id>/detect` (`ON`/`OFF`) and kept across a restart of
  the camera (not across a restart of the process: detection starts on).
- `camera/<id>/snapshot`: the latest frame with the live tracks drawn, published
  (retained) on `<prefix>/cameras/<id>/snapshot`; the answer says how old the frame is.
- A reload restarts only the cameras whose config (or model's config) changed; the
  others keep their tracks.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.config import GatewayConfig
from gateway.config.vision import CameraConfig, ModelConfig
from gateway.errors import CommandError, ModelError
from gateway.logs import redact_urls
from gateway.runtime import CommandRequest, ReloadReport, RuntimeContext, bool_arg

if TYPE_CHECKING:
    from gateway.vision.component import CameraComponent

log = logging.getLogger(__name__)

ON, OFF = "ON", "OFF"


def _wanted(config: GatewayConfig) -> dict[str, tuple[CameraConfig, ModelConfig | None]]:
    models = {m.id: m for m in config.models}
    return {
        c.id: (c, models.get(c.model) if c.model is not None else None)
        for c in config.cameras
        if c.enabled
    }


def model_problems(config: GatewayConfig, cameras: list[str] | None = None) -> list[str]:
    """Why the cameras' models cannot be loaded (none listed: all enabled cameras)."""
    from gateway.inference.catalog import resolve

    problems: list[str] = []
    known = {m.id: m for m in config.models}
    for camera in config.cameras:
        if not camera.enabled or camera.model is None:
            continue
        if cameras is not None and camera.id not in cameras:
            continue
        model = known.get(camera.model)
        if model is None:
            listed = ", ".join(sorted(known)) or "none"
            problems.append(
                f"camera {camera.id}: model {camera.model!r} is not in `models:` ({listed})"
            )
            continue
        try:
            resolve(model.model_file)  # ModelNotFoundError names the fetch command
        except ModelError as exc:
            problems.append(f"camera {camera.id}: {exc}")
    for camera in config.cameras:
        if not camera.enabled or not camera.privacy.redact_faces:
            continue
        if cameras is not None and camera.id not in cameras:
            continue
        from gateway.vision.redact import FACE_MODEL

        try:
            resolve(FACE_MODEL)  # faces are never sent unblurred: no model, no start
        except ModelError as exc:
            problems.append(f"camera {camera.id}: {exc}")
    return problems


class Cameras:
    """The running camera components, their commands and their reloads."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self._ctx = ctx
        self._running: dict[str, CameraComponent] = {}
        self._configs: dict[str, tuple[CameraConfig, ModelConfig | None]] = {}
        self._detect: dict[str, bool] = {}

    def start(self) -> None:
        """Start every enabled camera; register the camera commands."""
        ctx = self._ctx
        ctx.commands.register("camera/+/detect", self._cmd_detect)
        ctx.commands.register("camera/+/snapshot", self._cmd_snapshot)
        wanted = _wanted(ctx.config)
        if not wanted:
            return
        from gateway.inference.catalog import resolve

        for camera, model in wanted.values():
            if camera.model is not None and model is None:
                known = ", ".join(sorted(m.id for m in ctx.config.models)) or "none"
                msg = f"camera {camera.id}: model {camera.model!r} is not in `models:` ({known})"
                raise ModelError(msg)
            if model is not None:
                resolve(model.model_file)  # ModelNotFoundError names the fetch command
            if camera.privacy.redact_faces:
                from gateway.vision.redact import FACE_MODEL

                resolve(FACE_MODEL)  # faces are never sent unblurred: no model, no start
        for camera, model in wanted.values():
            self._start(camera, model)

    def _start(self, camera: CameraConfig, model: ModelConfig | None) -> None:
        from gateway.vision.component import CameraComponent

        component = CameraComponent(camera, model, self._ctx)
        component.set_detect(self._detect.get(camera.id, True))
        self._running[camera.id] = component
        self._configs[camera.id] = (camera, model)
        self._ctx.supervisor.start(component)
        self._publish_detect(camera.id)
        source = redact_urls(camera.source)
        log.info("camera %s: %s, model %s", camera.id, source, camera.model or "none")

    async def _stop(self, camera_id: str) -> None:
        component = self._running.pop(camera_id)
        self._configs.pop(camera_id, None)
        component.close()
        await self._ctx.supervisor.remove(component.name)

    def check(self, config: GatewayConfig) -> list[str]:
        """Models of new or changed cameras that cannot be loaded."""
        wanted = _wanted(config)
        changed = [cid for cid, cfg in wanted.items() if self._configs.get(cid) != cfg]
        return model_problems(config, changed) if changed else []

    async def reload(self, ctx: RuntimeContext) -> ReloadReport:
        """Restart the cameras whose config changed; start new ones; stop removed ones."""
        self._ctx = ctx
        report = ReloadReport()
        wanted = _wanted(ctx.config)
        for camera_id in [c for c in self._running if c not in wanted]:
            await self._stop(camera_id)
            self._detect.pop(camera_id, None)
            ctx.bus.publish(ctx.topics.camera_detect(camera_id), b"", qos=1, retain=True)
            report.stopped.append(f"camera:{camera_id}")
        for camera_id, (camera, model) in wanted.items():
            if self._configs.get(camera_id) == (camera, model):
                continue
            restarted = camera_id in self._running
            if restarted:
                await self._stop(camera_id)
            self._start(camera, model)
            (report.restarted if restarted else report.started).append(f"camera:{camera_id}")
        return report

    def _publish_detect(self, camera_id: str) -> None:
        state = ON if self._detect.get(camera_id, True) else OFF
        topic = self._ctx.topics.camera_detect(camera_id)
        self._ctx.bus.publish(topic, state, qos=1, retain=True)

    def _component(self, camera_id: str) -> CameraComponent:
        component = self._running.get(camera_id)
        if component is None:
            known = ", ".join(sorted(self._running)) or "none"
            msg = f"unknown camera {camera_id!r} (cameras: {known})"
            raise CommandError(msg)
        return component

    async def _cmd_detect(self, req: CommandRequest) -> dict[str, object]:
        (camera_id,) = req.params
        component = self._component(camera_id)
        unknown = set(req.args) - {"detect"}
        if unknown:
            msg = f"unknown argument(s): {', '.join(sorted(unknown))} (takes: detect)"
            raise CommandError(msg)
        changed = False
        if "detect" in req.args:
            on = bool_arg(req, "detect")
            changed = on != component.detect
            self._detect[camera_id] = on
            component.set_detect(on)
            if changed:
                log.info("camera %s: detection turned %s", camera_id, "on" if on else "off")
        self._publish_detect(camera_id)  # also answers HA when nothing changed
        return {"camera": camera_id, "detect": component.detect, "changed": changed}

    async def _cmd_snapshot(self, req: CommandRequest) -> dict[str, object]:
        (camera_id,) = req.params
        if req.args:
            msg = f"camera/{camera_id}/snapshot takes no arguments"
            raise CommandError(msg)
        shot = await self._component(camera_id).snapshot()
        return {
            "camera": camera_id,
            "topic": self._ctx.topics.camera_snapshot(camera_id),
            "bytes": len(shot.jpeg),
            "width": shot.width,
            "height": shot.height,
            "tracks": shot.tracks,
            "frame_age_s": shot.frame_age_s,
        }


async def start(ctx: RuntimeContext) -> Cameras:
    """Start one supervised camera component per enabled `ctx.config.cameras` entry."""
    cameras = Cameras(ctx)
    cameras.start()
    return cameras
