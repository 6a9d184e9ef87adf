"""Tests of gateway.runtime: commands, reload, the status page."""
