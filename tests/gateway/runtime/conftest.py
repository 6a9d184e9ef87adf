"""Fixtures shared with the core runtime tests (a real `edgegw run` child process)."""

from tests.gateway.core.test_runtime import gateway_process

__all__ = ["gateway_process"]
