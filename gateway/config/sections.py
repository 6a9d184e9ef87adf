"""Top-level sections other than `mqtt:`.

`gateway`, `logging` and `stats`; the pipelines' sections live beside this file
(`sensors.py`, `vision.py`, `cloud.py`), one file per pipeline.
"""

from __future__ import annotations

import ipaddress
from typing import Literal, Self

from pydantic import Field, model_validator

from gateway.config.base import OptionalSecret, Section
from gateway.config.paths import ConfigPath

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
    http_host: str = Field(
        "127.0.0.1",
        min_length=1,
        description="Address the HTTP endpoint binds to. Any address other than loopback "
        "needs `http_token` or `http_username` + `http_password`.",
    )
    status_page: bool = Field(
        True,
        description="Serve the status page on `/` (and its API under `/api/`) next to "
        "`/metrics` and `/healthz`.",
    )
    http_token: OptionalSecret = Field(
        None,
        description="Bearer token the HTTP endpoint requires (`Authorization: Bearer ...`); "
        "prefer `${ENV_VAR}` or `http_token_file`.",
    )
    http_token_file: ConfigPath | None = Field(
        None, description="File whose content (stripped) is `http_token`."
    )
    http_username: str | None = Field(
        None, min_length=1, description="Basic auth user the HTTP endpoint requires."
    )
    http_password: OptionalSecret = Field(None, description="Basic auth password.")
    http_password_file: ConfigPath | None = Field(
        None, description="File whose content (stripped) is `http_password`."
    )

    @property
    def http_loopback(self) -> bool:
        """Whether `http_host` is a loopback address (or `localhost`)."""
        return is_loopback(self.http_host)

    @model_validator(mode="after")
    def _auth_off_loopback(self) -> Self:
        for secret in ("http_token", "http_password"):
            if getattr(self, secret) is not None and getattr(self, f"{secret}_file") is not None:
                msg = f"give either {secret} or {secret}_file, not both"
                raise ValueError(msg)
        has_password = self.http_password is not None or self.http_password_file is not None
        if (self.http_username is None) != (not has_password):
            msg = "http_username and http_password go together"
            raise ValueError(msg)
        has_token = self.http_token is not None or self.http_token_file is not None
        open_off_loopback = not self.http_loopback and not (has_token or has_password)
        if self.http_port is not None and open_off_loopback:
            msg = (
                f"http_host {self.http_host!r} is not loopback: set http_token (or "
                "http_username and http_password) so the page and /metrics need credentials"
            )
            raise ValueError(msg)
        return self


def is_loopback(host: str) -> bool:
    """Whether `host` names the loopback interface only (127.0.0.0/8, ::1, localhost)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
