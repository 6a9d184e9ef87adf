"""`CameraComponent`: one supervised camera (source, worker thread, publisher) and model loading.

A model that cannot be used (not a TFLite file, outputs that do not fit the decoder) is
counted and logged clearly, and loading is retried with backoff: the camera waits, the
other cameras go on. A model that is simply missing never gets here: `pipeline.start`
stops the gateway at startup with the command that fetches it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import CancelledError

from devices.cameras import CaptureEvent, CaptureStatus, EncodedFrame, OpenCVCapture, RetryPolicy
from gateway.config.vision import CameraConfig, ModelConfig, tracked_labels
from gateway.errors import CommandError, ModelError
from gateway.inference.catalog import CATALOGUE, ModelSpec, resolve
from gateway.inference.detector import Detector
from gateway.logs import RateLimitedLog, redact_urls
from gateway.mqtt.bus import Message
from gateway.runtime.context import RuntimeContext
from gateway.vision.analyzer import FrameAnalyzer, FrameOutcome
from gateway.vision.camera import CameraWorker, Snapshot
from gateway.vision.camera_stats import CameraStats
from gateway.vision.corrections import VerdictSink
from gateway.vision.publisher import CameraPublisher
from gateway.vision.redact import FACE_MODEL, FaceRedactor

__all__ = ["CameraComponent", "build_detector", "build_redactor"]

log = logging.getLogger(__name__)


def build_detector(model: ModelConfig) -> Detector:
    """Load the configured model with its decoder; raise `ModelError` when it cannot be used."""
    path = resolve(model.model_file)
    spec = CATALOGUE.get(model.name) if model.name is not None else None
    decoder = model.decoder or (spec.decoder if spec is not None else None)
    if decoder is None:
        msg = f"model {model.id!r} ({model.name}) has no decoder edgegw can run on camera frames"
        raise ModelError(msg)
    options: dict[str, object] = dict(spec.decoder_options) if spec is not None else {}
    options.update(model.options)
    if decoder != "classifier":  # the analyzer thresholds a classifier's wanted class itself
        options.setdefault("score_threshold", model.score_threshold)
    labels = model.labels
    return Detector.from_file(
        path,
        decoder=decoder,
        normalization=model.normalization or (spec.normalization if spec else "[0,1]"),
        labels=labels if labels is not None else None,
        letterbox=_letterbox(model, spec),
        num_threads=model.num_threads,
        delegate=model.delegate,
        entry=spec,
        **options,
    )


def build_redactor(camera: CameraConfig) -> FaceRedactor | None:
    """The camera's face redactor (None: it opted out); `ModelError` when unusable."""
    privacy = camera.privacy
    if not privacy.redact_faces:
        return None
    detector = Detector.from_catalogue(FACE_MODEL, num_threads=1, score_threshold=0.1)
    return FaceRedactor(
        detector, threshold=privacy.face_threshold, jpeg_quality=camera.events.crop_quality
    )


def _letterbox(model: ModelConfig, spec: ModelSpec | None) -> bool:
    """Return the configured letterbox, else the store's choice for the model, else True."""
    if model.letterbox is not None:
        return model.letterbox
    return spec.letterbox if spec is not None else True


class CameraComponent:
    """A camera under the supervisor: load the model, run the worker, feed it frames."""

    def __init__(self, camera: CameraConfig, model: ModelConfig | None, ctx: RuntimeContext):
        self.name = f"camera:{camera.id}"
        self.camera = camera
        self.model = model
        self.stats = CameraStats(ctx.stats, camera.id)
        self.publisher = CameraPublisher(
            camera=camera,
            events=ctx.events,
            bus=ctx.bus,
            topics=ctx.topics,
            stats=self.stats,
            labels=tracked_labels(camera, model),
        )
        self.verdicts = VerdictSink(
            self.publisher,
            self.stats,
            model=ctx.config.cloud.model,
            model_version=ctx.config.cloud.model_version,
        )
        ctx.events.add_sink(self.verdicts)
        self._rl = RateLimitedLog(log, ctx.config.logging.rate_limit_s)
        self._worker: CameraWorker | None = None
        self._done: asyncio.Future[None] | None = None
        self._bus = ctx.bus
        self._snapshot_topic = ctx.topics.camera_snapshot(camera.id)
        self.detect = True
        """Whether frames are analysed; kept across restarts of `run` (a command sets it)."""
        topic = camera.mqtt_topic
        self._subscription = None
        if topic is not None:
            # Subscribed once: the subscription outlives restarts of `run`.
            self._subscription = ctx.bus.subscribe(topic, self._on_message, qos=0, name=self.name)

    def close(self) -> None:
        """Unsubscribe (the camera is removed or replaced by a reload)."""
        if self._subscription is not None:
            self._bus.unsubscribe(self._subscription)
            self._subscription = None

    def set_detect(self, on: bool) -> None:
        """Turn detection on or off: off ends the live tracks and analyses no frame."""
        self.detect = on
        if self._worker is not None:
            self._worker.set_detect(on)

    async def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        """Draw the live tracks on the latest frame; publish it on the snapshot topic."""
        worker = self._worker
        if worker is None:
            msg = f"camera {self.camera.id} is not running now (its model loads, or it restarts)"
            raise CommandError(msg)
        try:
            async with asyncio.timeout(timeout_s):
                shot = await asyncio.wrap_future(worker.request_snapshot())
        except TimeoutError:
            msg = f"camera {self.camera.id}: no snapshot within {timeout_s:g}s"
            raise CommandError(msg) from None
        except CancelledError:
            msg = f"camera {self.camera.id} stopped before the snapshot"
            raise CommandError(msg) from None
        self._bus.publish(self._snapshot_topic, shot.jpeg, qos=1, retain=True)
        return shot

    def _on_message(self, message: Message) -> None:
        self.stats.bytes_in.inc(len(message.payload))
        frame = EncodedFrame(message.payload, time.monotonic(), self.camera.payload)
        worker = self._worker
        if worker is None:  # model still loading, or restarting
            self.stats.frame_arrived(frame.received_at)
            self.stats.frames_skipped.inc()
            return
        worker.submit(frame)

    async def run(self) -> None:
        """Run the camera until cancelled (or until a file source ends)."""
        detector = await self._load_model()
        redactor = await asyncio.to_thread(build_redactor, self.camera)
        loop = asyncio.get_running_loop()
        self._done = done = loop.create_future()

        def deliver(outcome: FrameOutcome) -> None:
            loop.call_soon_threadsafe(self.publisher.handle, outcome)

        def on_failure(exc: BaseException) -> None:
            loop.call_soon_threadsafe(self._finish, exc)

        def on_status(status: CaptureStatus) -> None:
            loop.call_soon_threadsafe(self._on_capture, status)

        worker = CameraWorker(
            camera_id=self.camera.id,
            analyzer=FrameAnalyzer(self.camera, self.model, detector, redactor=redactor),
            stats=self.stats,
            deliver=deliver,
            on_failure=on_failure,
            min_interval_s=1.0 / self.camera.detect_fps,
            resize_width=self.camera.resize_width,
            rate_limited=self._rl,
            limits=self.camera.image_limits,
        )
        worker.set_detect(self.detect)
        worker.start()
        capture = None
        if self.camera.mqtt_topic is None:
            r = self.camera.reconnect
            capture = OpenCVCapture(
                self.camera.source,
                on_frame=worker.submit,
                on_status=on_status,
                retry=RetryPolicy(r.min_delay_s, r.max_delay_s, r.open_timeout_s, r.read_timeout_s),
                loop=self.camera.loop,
                name=f"capture:{self.camera.id}",
                limits=self.camera.image_limits,
                on_reject=worker.reject,
            )
            capture.start()
        self._worker = worker
        self.stats.ready.set(1)
        try:
            await done
        finally:
            self.stats.ready.set(0)
            self._worker = None
            if capture is not None:
                await asyncio.to_thread(capture.stop)
            last = await asyncio.to_thread(worker.stop)
            if last is not None:
                self.publisher.handle(last)

    def _finish(self, exc: BaseException | None) -> None:
        if self._done is None or self._done.done():
            return
        if exc is None:
            self._done.set_result(None)
        else:
            self._done.set_exception(exc)

    def _on_capture(self, status: CaptureStatus) -> None:
        cam = self.camera.id
        if status.event is CaptureEvent.OPENED:
            log.info("camera %s: source %s opened", cam, redact_urls(status.detail))
        elif status.event is CaptureEvent.ENDED:
            log.info("camera %s: source ended (%s)", cam, redact_urls(status.detail))
            self._finish(None)
        else:
            self.stats.error("source")
            self._rl.warning(
                f"source:{cam}",
                "camera %s: %s (%s); retrying in %.1fs",
                cam,
                redact_urls(status.detail),
                status.event.value,
                status.retry_in_s or 0.0,
            )

    async def _load_model(self) -> Detector | None:
        model = self.model
        if model is None:
            return None
        backoff = model.load_retry.backoff()
        while True:
            try:
                detector = await asyncio.to_thread(build_detector, model)
            except ModelError as exc:
                self.stats.error("model")
                delay = backoff.next_delay()
                self._rl.log(
                    logging.ERROR,
                    f"model:{self.camera.id}",
                    "camera %s: model %s cannot be used: %s; retrying in %.1fs",
                    self.camera.id,
                    model.id,
                    exc,
                    delay,
                )
                await asyncio.sleep(delay)
            else:
                log.info(
                    "camera %s: model %s loaded (%s)", self.camera.id, model.id, detector.model
                )
                return detector
