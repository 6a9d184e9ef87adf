"""Reference cloud server: Open Inference Protocol endpoints and an event sink."""

from refcloud.app import InferenceInputError, ModelFn, make_app, serve
from refcloud.event_sink import EventSink, StoreResult

__all__ = ["EventSink", "InferenceInputError", "ModelFn", "StoreResult", "make_app", "serve"]
