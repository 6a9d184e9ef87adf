"""Reference cloud server: Open Inference Protocol endpoints and an event sink."""

from cloud_bridge.server.app import InferenceInputError, ModelFn, make_app, serve
from cloud_bridge.server.event_sink import EventSink, StoreResult

__all__ = ["EventSink", "InferenceInputError", "ModelFn", "StoreResult", "make_app", "serve"]
