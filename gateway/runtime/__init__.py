"""Runtime: the gateway process, its supervised components, stats and health."""

from gateway.runtime.context import PipelineStart, RuntimeContext
from gateway.runtime.gateway import Gateway, config_secrets
from gateway.runtime.supervisor import Component, Supervisor

__all__ = [
    "Component",
    "Gateway",
    "PipelineStart",
    "RuntimeContext",
    "Supervisor",
    "config_secrets",
]
