"""The `cameras:` and `models:` sections."""

from __future__ import annotations

from pydantic import Field

from gateway.config.base import Section
from gateway.config.sections import ID_PATTERN


class CameraConfig(Section):
    """A camera: where frames come from."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique camera id.")
    source: str = Field(
        ...,
        min_length=1,
        description="`mqtt:<topic>` for JPEG frames over MQTT, or an OpenCV source: a file "
        "path, an rtsp:// or http:// URL, or a USB index.",
    )
    model: str | None = Field(None, description="Id of the entry in `models:` to run.")


class ModelConfig(Section):
    """A TFLite model: from the model store by name, or a user's file by path."""

    id: str = Field(..., pattern=ID_PATTERN, description="Unique model id, used by cameras.")
    name: str | None = Field(None, description="Model store name (see `edgegw models list`).")
    path: str | None = Field(None, description="Path of the user's own .tflite file.")
    num_threads: int = Field(2, ge=1, le=64, description="Interpreter threads.")
