"""Reference cloud server: Open Inference Protocol endpoints and an event sink."""

from refcloud.app import (
    BodyLimits,
    InferenceInputError,
    ModelFn,
    ServerConfigError,
    check_auth,
    is_loopback,
    make_app,
    read_model_image,
    serve,
)
from refcloud.event_sink import EventSink, StoreResult

__all__ = [
    "BodyLimits",
    "EventSink",
    "InferenceInputError",
    "ModelFn",
    "ServerConfigError",
    "StoreResult",
    "check_auth",
    "is_loopback",
    "make_app",
    "read_model_image",
    "serve",
]
