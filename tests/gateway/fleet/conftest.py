"""Fixtures: a cloud broker (a real Mosquitto with mutual TLS and an ACL per gateway), its
CA and per-gateway client certificates (trustme), and the cloud side's subscriber."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support.fleet import (
    ClientCert,
    CloudObserver,
    FleetPki,
    make_pki,
    start_cloud_broker,
)
from tests.support.mosquitto import Mosquitto


@pytest.fixture(scope="session")
def fleet_pki(tmp_path_factory: pytest.TempPathFactory) -> FleetPki:
    """The CA, the broker's certificate for 127.0.0.1, a stranger CA."""
    return make_pki(tmp_path_factory.mktemp("fleet-pki"))


@pytest.fixture
def cloud_broker(tmp_path: Path, fleet_pki: FleetPki) -> Iterator[Mosquitto]:
    """A cloud broker for this test alone."""
    broker = start_cloud_broker(tmp_path / "cloud-broker", fleet_pki)
    yield broker
    broker.stop()


@pytest.fixture
def observer(cloud_broker: Mosquitto) -> Iterator[CloudObserver]:
    """The cloud side's subscriber on `cloud_broker`."""
    obs = CloudObserver(cloud_broker)
    yield obs
    obs.close()


def fleet_section(
    broker: Mosquitto,
    tmp_path: Path,
    pki: FleetPki,
    cert: ClientCert | None,
    *,
    mqtt: dict[str, Any] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A `cloud:` section with events over MQTT to `broker`: fast retries, own outbox."""
    assert broker.tls_port is not None
    tls: dict[str, Any] = {"ca_file": str(pki.ca_file)}
    if cert is not None:
        tls |= {"cert_file": str(cert.cert_file), "key_file": str(cert.key_file)}
    section: dict[str, Any] = {
        "enabled": True,
        "events": {
            "transport": "mqtt",
            "mqtt": {
                "host": "127.0.0.1",
                "port": broker.tls_port,
                "tls": tls,
                "connect_timeout_s": 5,
                "ack_timeout_s": 5,
                **(mqtt or {}),
            },
        },
        "outbox": {"path": str(tmp_path / "outbox.db")},
        "retry": {"base_s": 0.05, "cap_s": 0.3},
        "breaker": {"failure_threshold": 3, "open_s": 0.3, "max_open_s": 0.6},
        "idle_poll_s": 0.5,
    }
    return section | overrides


@dataclass(slots=True, frozen=True)
class Fleet:
    """The cloud end of a fleet test: the broker, its back end's subscriber, the PKI."""

    broker: Mosquitto
    observer: CloudObserver
    pki: FleetPki

    def section(self, tmp_path: Path, cert: ClientCert | None, **overrides: Any) -> dict[str, Any]:
        """`fleet_section` for this broker."""
        return fleet_section(self.broker, tmp_path, self.pki, cert, **overrides)


@pytest.fixture
def fleet(cloud_broker: Mosquitto, observer: CloudObserver, fleet_pki: FleetPki) -> Fleet:
    """A started cloud broker with its back end subscribed."""
    return Fleet(cloud_broker, observer, fleet_pki)
