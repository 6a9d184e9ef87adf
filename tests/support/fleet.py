"""The cloud end of fleet tests and bench/fleet.py: a PKI, a cloud broker, its back end.

A cloud broker is a real Mosquitto (`CloudAuth`): TLS that requires a client certificate
signed by the fleet CA, the certificate's common name as the user name, an ACL that
keeps each gateway under `fleet/<its id>/`. The back end subscribes to `fleet/#`.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
import trustme
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

from tests.support.mosquitto import CloudAuth, Mosquitto, TlsFiles

# The cloud side (the test, as the fleet's back end: user `cloud`, a password, on the
# plain listener) reads and writes everything; each gateway's certificate (its common
# name is the MQTT user name) may only use its own subtree. The back end logs in rather
# than connecting anonymously: Mosquitto 2.0 (with an acl_file) queues nothing for an
# anonymous persistent session restored after a restart, so it would miss what was
# published before it reconnected.
BACKEND_USER, BACKEND_PASSWORD = "cloud", "backend-secret"
ACL = f"""\
user {BACKEND_USER}
topic readwrite fleet/#

pattern readwrite fleet/%u/#
"""


@dataclass(slots=True, frozen=True)
class ClientCert:
    """A gateway's client certificate and key (PEM files)."""

    cert_file: Path
    key_file: Path


@dataclass(slots=True, frozen=True)
class FleetPki:
    """The fleet's CA (it signs the broker and every gateway) and an unrelated CA."""

    ca: trustme.CA
    ca_file: Path
    stranger: trustme.CA
    server: TlsFiles
    base: Path

    def client_cert(self, common_name: str, *, signed_by: trustme.CA | None = None) -> ClientCert:
        """A client certificate for `common_name` (the fleet CA's, unless `signed_by`)."""
        ca = signed_by or self.ca
        leaf = ca.issue_cert(f"{common_name}.fleet.test", common_name=common_name)
        tag = "fleet" if ca is self.ca else "stranger"
        cert, key = self.base / f"{common_name}-{tag}.crt", self.base / f"{common_name}-{tag}.key"
        leaf.cert_chain_pems[0].write_to_path(str(cert))
        leaf.private_key_pem.write_to_path(str(key))
        return ClientCert(cert, key)


def make_pki(base: Path) -> FleetPki:
    """The CA, the broker's certificate for 127.0.0.1, a stranger CA, under `base`."""
    ca, stranger = trustme.CA(), trustme.CA()
    ca.cert_pem.write_to_path(str(base / "ca.pem"))
    server = ca.issue_cert("127.0.0.1")
    server.cert_chain_pems[0].write_to_path(str(base / "server.crt"))
    server.private_key_pem.write_to_path(str(base / "server.key"))
    files = TlsFiles(base / "ca.pem", base / "server.crt", base / "server.key")
    return FleetPki(ca, base / "ca.pem", stranger, files, base)


def start_cloud_broker(
    workdir: Path, pki: FleetPki, *, max_packet_size: int | None = None
) -> Mosquitto:
    """A started cloud broker: plain listener (`port`) and mutual-TLS one (`tls_port`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    broker = Mosquitto(workdir)
    broker.configure(
        passwords={BACKEND_USER: BACKEND_PASSWORD},
        cloud=CloudAuth(pki.server, ACL, max_packet_size=max_packet_size),
    )
    broker.start()
    return broker


class CloudObserver:
    """The fleet's back end: a persistent-session subscriber to `fleet/#` (QoS 1).

    Its session survives broker restarts (clean_session false, the broker persists it),
    so what the gateways published while it was reconnecting is delivered after.
    """

    def __init__(
        self, broker: Mosquitto, topic: str = "fleet/#", *, name: str = "observer"
    ) -> None:
        self.topic = topic
        self.messages: list[tuple[str, bytes]] = []
        self.received_at: list[float] = []
        """`time.time()` at each message's arrival, in step with `messages`."""
        self.subscribed = threading.Event()
        self._lock = threading.Lock()
        self._client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{name}-{broker.port}",
            clean_session=False,
            protocol=MQTTProtocolVersion.MQTTv311,
        )
        self._client.username_pw_set(BACKEND_USER, BACKEND_PASSWORD)
        self._client.reconnect_delay_set(1, 1)
        self._client.on_connect = self._connected
        self._client.on_subscribe = self._suback
        self._client.on_message = self._message
        self._client.connect("127.0.0.1", broker.port)
        self._client.loop_start()
        if not self.subscribed.wait(10):
            msg = "observer did not subscribe"
            raise RuntimeError(msg)

    def _connected(self, client: paho.Client, *_: Any) -> None:
        client.subscribe(self.topic, qos=1)

    def _suback(self, *_: Any) -> None:
        self.subscribed.set()

    def _message(self, _c: paho.Client, _u: object, msg: paho.MQTTMessage) -> None:
        now = time.time()
        with self._lock:
            self.messages.append((msg.topic, bytes(msg.payload)))
            self.received_at.append(now)

    def events(self) -> list[dict[str, Any]]:
        """Every event received, in arrival order (arrays unpacked)."""
        with self._lock:
            messages = list(self.messages)
        out: list[dict[str, Any]] = []
        for topic, payload in messages:
            if "/events/" not in topic:
                continue
            body = json.loads(payload)
            out.extend(body if isinstance(body, list) else [body])
        return out

    def ids(self) -> Counter[str]:
        """How many times each event id arrived."""
        return Counter(e["id"] for e in self.events())

    def publish(self, topic: str, payload: bytes) -> None:
        """Publish as the cloud (QoS 1, waits for the PUBACK)."""
        self._client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        """Disconnect and stop the network thread."""
        self._client.disconnect()
        self._client.loop_stop()
