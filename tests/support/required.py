"""Real fixtures (models, footage, images) are fetched by the project; missing ones fail.

Outside the project's test command (`scripts/test.sh` sets EDGEGW_REQUIRE_FIXTURES=1, as
does CI) a developer without apt or PyPI gets a skip that says how to get the file.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def unavailable(what: str, why: object) -> NoReturn:
    """Fail (in the test command and CI) or skip (elsewhere) because `what` is missing."""
    message = f"{what} unavailable: {why}"
    if os.environ.get("EDGEGW_REQUIRE_FIXTURES") or os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
