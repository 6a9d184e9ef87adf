"""Runtime: the gateway process, its supervised components, stats and health."""

from gateway.runtime.gateway import Gateway, config_secrets
from gateway.runtime.supervisor import Component, Supervisor

__all__ = ["Component", "Gateway", "Supervisor", "config_secrets"]
