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
    read_edge_guess,
)
from cloud_bridge.oip.protocol import (
    ErrorResponse,
    InferenceRequest,
    InferenceResponse,
    RequestInput,
    RequestOutput,
    ResponseOutput,
)

__all__ = [
    "EdgeGuess",
    "ErrorResponse",
    "ImageEncoding",
    "InferenceRequest",
    "InferenceResponse",
    "OipClient",
    "RequestInput",
    "RequestOutput",
    "ResponseOutput",
    "UplinkConnectionError",
    "UplinkError",
    "UplinkHTTPError",
    "UplinkProtocolError",
    "UplinkTimeout",
    "build_hard_case_request",
    "parse_retry_after",
    "read_edge_guess",
]
