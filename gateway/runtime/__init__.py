"""Runtime: the gateway process, its supervised components, commands, reload, the page."""

from gateway.runtime.commands import CommandRequest, Commands, bool_arg
from gateway.runtime.context import PipelineHandle, PipelineStart, ReloadReport, RuntimeContext
from gateway.runtime.gateway import Gateway, config_secrets
from gateway.runtime.supervisor import Component, Supervisor

__all__ = [
    "CommandRequest",
    "Commands",
    "Component",
    "Gateway",
    "PipelineHandle",
    "PipelineStart",
    "ReloadReport",
    "RuntimeContext",
    "Supervisor",
    "bool_arg",
    "config_secrets",
]
