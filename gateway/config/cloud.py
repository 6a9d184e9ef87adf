"""The `cloud:` section: event sink, Open Inference Protocol model, budgets."""

from __future__ import annotations

from pydantic import Field, SecretStr

from gateway.config.base import Section
from gateway.config.paths import ConfigPath


class CloudSection(Section):
    """The cloud side: event sink and Open Inference Protocol model server."""

    enabled: bool = Field(False, description="Forward events and hard cases to the cloud.")
    url: str | None = Field(None, description="Base URL of the cloud (event sink and OIP).")
    token: SecretStr | None = Field(None, description="Bearer token; prefer `${ENV_VAR}`.")
    token_file: ConfigPath | None = Field(
        None, description="File whose content is the bearer token."
    )
