"""Fixtures on real services: a Mosquitto broker per session (and per test when needed)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.config import GatewayConfig
from tests.support.mosquitto import Mosquitto

_ids = itertools.count()


@pytest.fixture(scope="session")
def mosquitto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """The session's shared broker. Tests that stop or reconfigure one use `own_mosquitto`."""
    broker = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def own_mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    """A broker for this test alone, not started: configure, then `start()`."""
    workdir = tmp_path / "mosquitto"
    workdir.mkdir()
    broker = Mosquitto(workdir)
    yield broker
    broker.stop()


@pytest.fixture
def gateway_id() -> str:
    """A gateway id unique in the session, so tests never share topics."""
    return f"t{next(_ids)}"


ConfigFactory = Callable[..., GatewayConfig]


@pytest.fixture
def make_config(gateway_id: str) -> ConfigFactory:
    """Build a GatewayConfig for a broker, with fast reconnects for tests."""

    def factory(broker: Mosquitto, **sections: Any) -> GatewayConfig:
        mqtt = {
            "host": "127.0.0.1",
            "port": broker.port,
            "reconnect": {"min_delay_s": 0.05, "max_delay_s": 0.5},
            **sections.pop("mqtt", {}),
        }
        return GatewayConfig.model_validate(
            {"gateway": {"id": gateway_id}, "mqtt": mqtt, **sections}
        )

    return factory
