"""Top-level sections other than `mqtt:`.

`gateway`, `logging` and `stats`; the pipelines' sections live beside this file
(`sensors.py`, `vision.py`, `cloud.py`), one file per pipeline.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from gateway.config.base import Section

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"


class GatewaySection(Section):
    """Identity of this gateway."""

    id: str = Field(
        ...,
        pattern=ID_PATTERN,
        description="Unique id of this gateway; part of every topic (`edgegw/<id>/...`).",
    )
    name: str | None = Field(None, description="Human name shown in Home Assistant.")


class LoggingSection(Section):
    """Log output."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["text", "json"] = Field(
        "text", description="`text` for people, `json` (one object per line) for collectors."
    )
    rate_limit_s: float = Field(
        10.0,
        ge=0,
        le=3600,
        description="Hot-path warnings with the same key are logged at most once per this "
        "many seconds; suppressed ones are counted and reported with the next line.",
    )


class StatsSection(Section):
    """Periodic stats on MQTT and the optional local HTTP endpoint."""

    interval_s: float = Field(
        30.0, ge=1, le=86_400, description="Seconds between `<prefix>/stats` publications."
    )
    http_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Serve `/metrics` (Prometheus) and `/healthz` on this port; off when unset.",
    )
    http_host: str = Field("127.0.0.1", description="Address the HTTP endpoint binds to.")
