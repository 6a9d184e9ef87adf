"""The uplink: deliver the outbox to the cloud, with retries, a breaker and budgets.

    Channel(outbox, klass, RetryPolicy, CircuitBreaker, observer)
    EventSender(channel, EventClient(url))          events -> POST /v1/events (gzip JSON)
    MqttEventSender(channel, CloudMqttClient(...))  events -> QoS 1 PUBLISH to a cloud broker
    HardCaseSender(channel, OipClient(url), ...)    hard cases -> OIP infer -> Verdict

Errors are the `UplinkError` tree of `cloud_bridge.errors`; `classify` maps them to
retry decisions. Nothing here imports `gateway`: config values, stats (`UplinkObserver`)
and the verdict callback are passed in.
"""

from cloud_bridge.uplink.breaker import CircuitBreaker, CircuitState
from cloud_bridge.uplink.budget import Budget, RateLimit
from cloud_bridge.uplink.delivery import (
    BinaryData,
    Channel,
    EventSender,
    HardCaseSender,
    ModelCheck,
    MqttEventSender,
    MqttLimits,
)
from cloud_bridge.uplink.event_client import EventAck, EventClient
from cloud_bridge.uplink.hard_cases import (
    NEGATIVE_LABELS,
    CropBox,
    HardCase,
    Outcome,
    Verdict,
    verdict_from_message,
    verdict_from_response,
)
from cloud_bridge.uplink.observer import NullObserver, UplinkObserver
from cloud_bridge.uplink.policy import Failure, RetryPolicy, classify

__all__ = [
    "NEGATIVE_LABELS",
    "BinaryData",
    "Budget",
    "Channel",
    "CircuitBreaker",
    "CircuitState",
    "CropBox",
    "EventAck",
    "EventClient",
    "EventSender",
    "Failure",
    "HardCase",
    "HardCaseSender",
    "ModelCheck",
    "MqttEventSender",
    "MqttLimits",
    "NullObserver",
    "Outcome",
    "RateLimit",
    "RetryPolicy",
    "UplinkObserver",
    "Verdict",
    "classify",
    "verdict_from_message",
    "verdict_from_response",
]
