"""Shared base for every config model: unknown keys are errors, fields are described."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, SecretStr


class Section(BaseModel):
    """Base of every config section: `extra="forbid"`, frozen, docstrings become descriptions."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        use_attribute_docstrings=True,
        validate_default=True,
    )


def _empty_is_none(value: object) -> object:
    return None if value == "" else value


OptionalSecret = Annotated[SecretStr | None, BeforeValidator(_empty_is_none)]
"""A password or token; empty (e.g. an unset `${VAR:-}`) means none is given."""
