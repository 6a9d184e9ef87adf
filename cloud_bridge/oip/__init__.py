"""Open Inference Protocol (KServe V2 REST) client, models and hard-case helpers."""

from cloud_bridge.errors import (
    UplinkConnectionError,
    UplinkError,
    UplinkHTTPError,
    UplinkProtocolError,
    UplinkTimeout,
)
from cloud_bridge.oip.client import OipClient, parse_retry_after
from cloud_bridge.oip.hard_case import (
    EdgeGuess,
    ImageEncoding,
    build_hard_case_request,
    check_model,
    check_server,
    read_edge_guess,
)
from cloud_bridge.oip.protocol import (
    ErrorResponse,
    InferenceRequest,
    InferenceResponse,
    ModelMetadata,
    RequestInput,
    RequestOutput,
    ResponseOutput,
    ServerMetadata,
    WireBody,
)

__all__ = [
    "EdgeGuess",
    "ErrorResponse",
    "ImageEncoding",
    "InferenceRequest",
    "InferenceResponse",
    "ModelMetadata",
    "OipClient",
    "RequestInput",
    "RequestOutput",
    "ResponseOutput",
    "ServerMetadata",
    "UplinkConnectionError",
    "UplinkError",
    "UplinkHTTPError",
    "UplinkProtocolError",
    "UplinkTimeout",
    "WireBody",
    "build_hard_case_request",
    "check_model",
    "check_server",
    "parse_retry_after",
    "read_edge_guess",
]
