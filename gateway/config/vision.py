"""The `cameras:` and `models:` sections.

A camera names where frames come from, how often to look at them, motion gating, the
tracker, the escalation band and the model to run. A model is a model-store name (see
`edgegw models list`) or a user's own .tflite file with its decoder and labels. Model
files are not opened here: a missing one is reported when the gateway starts, with the
command that fetches it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, model_validator

from gateway.config.backoff import BackoffConfig
from gateway.config.base import Section
from gateway.config.motion import MotionConfig
from gateway.config.objects import ObjectsConfig
from gateway.config.paths import ConfigPath
from gateway.config.sections import ID_PATTERN
from gateway.config.topics import filter_problem
from gateway.config.tracker import TrackerConfig
from gateway.inference.outputs import DECODERS

if TYPE_CHECKING:
    DecoderName = str
else:  # the registry's keys as a Literal: pydantic checks it, the JSON schema lists it
    DecoderName = Literal[tuple(DECODERS)]
NormalizationName = Literal["[-1,1]", "[0,1]", "raw"]
OptionValue = str | int | float | bool
# devices.cameras.guard's defaults, spelled out so loading a config never imports OpenCV
# (tests/vision_pipeline checks they agree).
DEFAULT_MAX_PIXELS = 4096 * 2304
DEFAULT_MAX_FRAME_BYTES = 16 * 1024 * 1024

if TYPE_CHECKING:
    from devices.cameras.guard import ImageLimits


class AdaptiveBandConfig(Section):
    """The band's edges follow the cloud's verdicts (`gateway.vision.cascade.AdaptiveBand`)."""

    enabled: bool = Field(True, description="Move the band with the cloud's agreement.")
    window: int = Field(
        20, ge=4, le=1000, description="Verdicts remembered per edge (the latest ones)."
    )
    agree: float = Field(
        0.95,
        gt=0.5,
        le=1.0,
        description="Share of confirmations near the top (rejections near the bottom) at "
        "which that edge moves.",
    )
    step: float = Field(0.02, gt=0.0, le=0.2, description="How far an edge moves at a time.")
    min_low: float = Field(0.3, ge=0.0, le=1.0, description="The lower edge stays above this.")
    max_low: float = Field(0.8, ge=0.0, le=1.0, description="The lower edge stays below this.")
    min_high: float = Field(0.6, ge=0.0, le=1.0, description="The upper edge stays above this.")


class PrivacyConfig(Section):
    """Faces blurred at the edge on every image that leaves it (crops, snapshots)."""

    redact_faces: bool = Field(
        True,
        description="Blur faces (BlazeFace full range, `edgegw models fetch blazeface_full`) "
        "on hard-case crops and snapshots; false opts this camera out.",
    )
    face_threshold: float = Field(
        0.3, gt=0.0, le=1.0, description="Face detector score at which a face is blurred."
    )


class EscalationConfig(Section):
    """The cascade band on a track's best score: `>= high` settled, `< low` dropped."""

    low: float = Field(
        0.5, ge=0.0, le=1.0, description="Tracks whose best score is below this are dropped."
    )
    high: float = Field(
        0.99,
        ge=0.0,
        le=1.0,
        description="Tracks whose best score reaches this are settled at the edge; between "
        "`low` and `high` a track is a hard case (its best crop goes to the cloud model).",
    )
    group_aspect: float = Field(
        0.0,
        ge=0.0,
        le=10.0,
        description="A settled track whose best box is at least this many times as wide as "
        "tall (people walking together in one motion blob) is a hard case too: the cloud "
        "answers how many people and where (0: only the score band escalates).",
    )
    enabled: bool = Field(True, description="Emit `vision.hard_case` events at all.")
    max_crops: int = Field(
        3,
        ge=1,
        le=20,
        description="Most crops sent per track over its life: at its first sight, when its "
        "box's shape or its label changes (its members may have), and its best crop at its "
        "end; each is judged by the cloud.",
    )
    change_ratio: float = Field(
        1.4,
        ge=1.05,
        le=10.0,
        description="A track's box whose width/height ratio changed by this factor since "
        "its last crop is worth another crop.",
    )
    max_per_min: float = Field(
        30.0,
        ge=0.0,
        le=10_000.0,
        description="Most hard cases per minute from this camera (0: unlimited); past it, "
        "crops are skipped and counted.",
    )
    adaptive: AdaptiveBandConfig = Field(
        default_factory=AdaptiveBandConfig,
        description="Move the band's edges with the cloud's agreement.",
    )

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.low < self.high:
            msg = f"escalation band needs low < high, got [{self.low}, {self.high})"
            raise ValueError(msg)
        return self


class CameraEventsConfig(Section):
    """How a camera's tracks become events, counts and snapshots."""

    update_interval_s: float = Field(
        10.0,
        ge=0.0,
        le=3600.0,
        description="Least seconds between a track's `update` events (and after its `start`); "
        "an update is sent only when its label, zones or best score changed (0: no updates).",
    )
    update_score_step: float = Field(
        0.05,
        gt=0.0,
        le=1.0,
        description="Rise of a track's best score, since its last event, that is worth an "
        "`update`.",
    )
    snapshot: bool = Field(
        True, description="Publish a retained JPEG of a track's best frame on `.../snapshot`."
    )
    snapshot_quality: int = Field(80, ge=1, le=100, description="JPEG quality of snapshots.")
    crop_quality: int = Field(90, ge=1, le=100, description="JPEG quality of hard-case crops.")
    crop_margin: float = Field(
        8.0, ge=0.0, le=512.0, description="Pixels added around a track's box for its crop."
    )


class SourceRetryConfig(BackoffConfig):
    """Backoff for OpenCV sources that fail to open or stop delivering frames, and timeouts."""

    open_timeout_s: float = Field(
        10.0, gt=0.0, le=600.0, description="Give up opening a stream after this long."
    )
    read_timeout_s: float = Field(
        10.0, gt=0.0, le=600.0, description="A stream silent this long is reopened."
    )


class CameraConfig(Section):
    """A camera: where frames come from and what runs on them."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique camera id.")
    source: str = Field(
        ...,
        min_length=1,
        description="`mqtt:<topic>` for JPEG frames over MQTT, or an OpenCV source: a file "
        "path, an rtsp:// or http:// URL, or a USB index.",
    )
    payload: Literal["jpeg", "base64"] = Field(
        "jpeg", description="MQTT sources: raw JPEG bytes (ESP32-CAM style) or base64 text."
    )
    loop: bool = Field(
        False, description="File sources: start again at the end instead of stopping."
    )
    model: str | None = Field(
        None, description="Id of the entry in `models:` to run; none runs motion only."
    )
    enabled: bool = Field(True, description="Start this camera.")
    detect_fps: float = Field(
        10.0,
        gt=0.0,
        le=120.0,
        description="Most frames per second to process; newer frames replace waiting ones.",
    )
    resize_width: int | None = Field(
        None,
        ge=32,
        le=7680,
        description="Downscale frames to this width (keeping the aspect) before processing.",
    )
    motion: MotionConfig = Field(
        default_factory=MotionConfig, description="Motion gating (`enabled: false`: whole frames)."
    )
    objects: ObjectsConfig = Field(
        default_factory=ObjectsConfig,
        description="Whole-frame look for still objects and per-label detection filters.",
    )
    tracker: TrackerConfig = Field(
        default_factory=TrackerConfig, description="Tracker, zones and detection filters."
    )
    escalation: EscalationConfig = Field(
        default_factory=EscalationConfig, description="Escalation band for hard cases."
    )
    events: CameraEventsConfig = Field(
        default_factory=CameraEventsConfig, description="Events, counts and snapshots."
    )
    privacy: PrivacyConfig = Field(
        default_factory=PrivacyConfig, description="Faces blurred on images that leave."
    )
    reconnect: SourceRetryConfig = Field(
        default_factory=SourceRetryConfig, description="Reconnect backoff for OpenCV sources."
    )
    max_pixels: int = Field(
        DEFAULT_MAX_PIXELS,
        ge=1,
        le=100_000_000,
        description="Frames whose header claims more pixels (width x height) are dropped "
        "before decoding and counted as `too_many_pixels` (default: 4096x2304, a 4K camera "
        "with a margin).",
    )
    max_frame_bytes: int = Field(
        DEFAULT_MAX_FRAME_BYTES,
        ge=1024,
        le=256 * 1024 * 1024,
        description="MQTT frames larger than this (after base64) are dropped undecoded and "
        "counted as `too_large`.",
    )

    @property
    def image_limits(self) -> ImageLimits:
        """The decode limits for this camera's frames."""
        from devices.cameras.guard import ImageLimits

        return ImageLimits(max_pixels=self.max_pixels, max_bytes=self.max_frame_bytes)

    @property
    def mqtt_topic(self) -> str | None:
        """Return the MQTT topic of an `mqtt:` source, else None."""
        return self.source.removeprefix("mqtt:") if self.source.startswith("mqtt:") else None

    @model_validator(mode="after")
    def _check_source(self) -> Self:
        if self.mqtt_topic is not None and not self.mqtt_topic:
            msg = "source `mqtt:` needs a topic, e.g. `mqtt:cameras/door/jpeg`"
            raise ValueError(msg)
        if self.mqtt_topic is not None and (problem := filter_problem(self.mqtt_topic)):
            msg = f"source: {problem}"
            raise ValueError(msg)
        return self


class ModelConfig(Section):
    """A TFLite model: from the model store by name, or a user's file by path."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique model id, used by cameras.")
    name: str | None = Field(None, description="Model store name (see `edgegw models list`).")
    path: ConfigPath | None = Field(None, description="Path of the user's own .tflite file.")
    decoder: DecoderName | None = Field(
        None,
        description="Output decoder; required with `path`, taken from the store with `name`.",
    )
    labels: list[str] | ConfigPath | None = Field(
        None,
        description="Class labels: a list or a one-per-line file (default: the file beside "
        "the model, `<stem>.labels.txt`).",
    )
    normalization: NormalizationName | None = Field(
        None,
        description="Input scaling: `[-1,1]`, `[0,1]` or `raw` 0-255 (default: the store's, "
        "or `[0,1]` for a file).",
    )
    letterbox: bool | None = Field(
        None,
        description="Keep the aspect ratio, padding to the input (default: the store's "
        "choice for the model, else true; SSD models trained on stretched images say false).",
    )
    num_threads: int = Field(2, ge=1, le=64, description="Interpreter threads.")
    delegate: str | None = Field(
        None, description="External delegate library, e.g. `libedgetpu.so.1` for a Coral."
    )
    score_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="Detections scoring lower are discarded."
    )
    options: dict[str, OptionValue] = Field(
        default_factory=dict,
        description="Extra decoder options (e.g. `anchors`, `iou_threshold`, `layout`).",
    )
    load_retry: BackoffConfig = Field(
        default_factory=lambda: BackoffConfig(min_delay_s=1.0, max_delay_s=60.0),
        description="Backoff between attempts to load a model that cannot be used (the "
        "camera waits; the other cameras go on).",
    )

    @model_validator(mode="after")
    def _name_or_path(self) -> Self:
        if (self.name is None) == (self.path is None):
            msg = "give exactly one of `name` (model store) or `path` (your own .tflite)"
            raise ValueError(msg)
        if self.path is not None and self.decoder is None:
            msg = f"a model given by `path` needs `decoder` ({', '.join(DECODERS)})"
            raise ValueError(msg)
        if self.name is not None:
            from gateway.inference.catalog import CATALOGUE

            if self.name not in CATALOGUE:
                msg = f"unknown model {self.name!r}; the store has: {', '.join(sorted(CATALOGUE))}"
                raise ValueError(msg)
        return self

    @property
    def model_file(self) -> str | Path:
        """Return the store name or the file path, as `models.resolve` takes it."""
        return self.path if self.path is not None else str(self.name)


def tracked_labels(camera: CameraConfig, model: ModelConfig | None) -> tuple[str, ...]:
    """The labels a camera reports, as far as the config tells (for counts and HA entities).

    `tracker.labels` when given; `motion` for a camera without a model; else the model's
    labels when the config or the model store lists them (not read from a labels file);
    else none known until seen.
    """
    if camera.tracker.labels:
        return tuple(dict.fromkeys(camera.tracker.labels))
    if model is None:
        return ("motion",)
    if isinstance(model.labels, list):
        return tuple(dict.fromkeys(model.labels))
    if model.labels is None and model.name is not None:
        from gateway.inference.catalog import CATALOGUE

        return CATALOGUE[model.name].labels
    return ()
