"""Camera pipelines: source -> motion -> detector on regions -> tracker -> events.

`start` checks every camera's model before anything runs: a camera naming a model that
is not in `models:`, or a store model that was never fetched, stops the gateway at
startup with the command that fetches it. OpenCV and LiteRT are imported only when
there is a camera, so a gateway without cameras starts fast.
"""

from __future__ import annotations

import logging

from gateway.errors import ModelError
from gateway.logs import redact_urls
from gateway.runtime.context import RuntimeContext

log = logging.getLogger(__name__)


async def start(ctx: RuntimeContext) -> None:
    """Start one supervised camera component per enabled `ctx.config.cameras` entry."""
    cameras = [c for c in ctx.config.cameras if c.enabled]
    if not cameras:
        return
    from gateway.inference.catalog import resolve
    from gateway.vision.component import CameraComponent

    models = {m.id: m for m in ctx.config.models}
    for camera in cameras:
        model = None
        if camera.model is not None:
            model = models.get(camera.model)
            if model is None:
                known = ", ".join(sorted(models)) or "none"
                msg = f"camera {camera.id}: model {camera.model!r} is not in `models:` ({known})"
                raise ModelError(msg)
            resolve(model.model_file)  # ModelNotFoundError names the fetch command
        if camera.privacy.redact_faces:
            from gateway.vision.redact import FACE_MODEL

            resolve(FACE_MODEL)  # faces are never sent unblurred: no model, no start
    for camera in cameras:
        model = models.get(camera.model) if camera.model is not None else None
        ctx.supervisor.start(CameraComponent(camera, model, ctx))
        source = redact_urls(camera.source)
        log.info("camera %s: %s, model %s", camera.id, source, camera.model or "none")
