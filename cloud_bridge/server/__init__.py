"""Reference cloud server: Open Inference Protocol endpoints and an event sink."""

from cloud_bridge.server.app import (
    BodyLimits,
    InferenceInputError,
    ModelFn,
    ServerConfigError,
    check_auth,
    is_loopback,
    make_app,
    serve,
)
from cloud_bridge.server.event_sink import EventSink, StoreResult

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
    "serve",
]
