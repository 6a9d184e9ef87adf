"""A real Mosquitto broker per test session, on a free loopback port.

Tests may stop and restart it (same port, same persistence file), add a password file
or a TLS listener, or make it a cloud broker (`CloudAuth`): a TLS listener that requires
a client certificate, takes its common name as the user name, and an ACL per user.
The Debian package `mosquitto` must be installed: the test command (`scripts/test.sh`)
installs it when it is missing.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import terminate


def _ephemeral_range() -> range:
    """The kernel's range for outgoing connections' local ports (and for bind to 0)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return range(int(low), int(high) + 1)
    except (OSError, ValueError):
        return range(32768, 61000)  # Linux's default


_EPHEMERAL = _ephemeral_range()
_rng = random.Random()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now, chosen OUTSIDE the kernel's ephemeral range.

    A port from `bind(0)` comes from the ephemeral range, so between choosing it and
    the server binding it, any outgoing connection (an MQTT client, an HTTP request)
    may take it as its local port: "address already in use" at random. Ports below
    the range are never handed out that way.
    """
    low = 10_000 if _EPHEMERAL.start > 12_000 else 1024
    high = _EPHEMERAL.start - 1 if _EPHEMERAL.start > low + 1000 else 65_535
    for _ in range(200):
        port = _rng.randint(low, high)
        if port in _EPHEMERAL:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    msg = "no free port found outside the ephemeral range"
    raise RuntimeError(msg)


def wait_port(port: int, *, timeout_s: float = 10.0, up: bool = True) -> None:
    """Wait until 127.0.0.1:port accepts connections (or refuses them, with up=False)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                if up:
                    return
        except OSError:
            if not up:
                return
        time.sleep(0.02)
    msg = f"port {port} did not come {'up' if up else 'down'} within {timeout_s}s"
    raise TimeoutError(msg)


@dataclass(slots=True, frozen=True)
class TlsFiles:
    """Server-side TLS material for a Mosquitto listener."""

    cafile: Path
    certfile: Path
    keyfile: Path


@dataclass(slots=True, frozen=True)
class CloudAuth:
    """A TLS listener like AWS IoT Core's: mutual TLS, the certificate is the identity.

    `tls.cafile` signs both the server's and the clients' certificates. `acl` is the
    Mosquitto ACL file's text (`pattern readwrite fleet/%u/#`: each gateway under its
    own topic). `max_packet_size` bounds every MQTT packet (MQTT 5 clients learn it in
    the CONNACK; a bigger packet closes the connection).
    """

    tls: TlsFiles
    acl: str
    max_packet_size: int | None = None


class Mosquitto:
    """A mosquitto process we own: start, stop, restart on the same port."""

    def __init__(self, workdir: Path) -> None:
        exe = shutil.which("mosquitto") or (
            "/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None
        )
        if exe is None:
            msg = "mosquitto not found: run scripts/test.sh, which installs it (apt-get)"
            raise RuntimeError(msg)
        self.exe = exe
        self.workdir = workdir
        self.port = free_port()
        self.tls_port: int | None = None
        self.tls: TlsFiles | None = None
        self.passwords: dict[str, str] | None = None
        self.deny_subscribe: tuple[str, ...] = ()
        self.cloud: CloudAuth | None = None
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "mosquitto.log"

    def _write_config(self) -> Path:
        lines = [
            f"listener {self.port} 127.0.0.1",
            "persistence true",
            f"persistence_location {self.workdir}/",
            "autosave_interval 1",
            f"log_dest file {self.log}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 100000",
            "set_tcp_nodelay true",
        ]
        if os.geteuid() == 0:
            # As root mosquitto would switch to user `mosquitto`, which cannot reach
            # pytest's private temp dir; a test broker may stay root.
            lines.append("user root")
        if self.passwords is not None:
            pwfile = self.workdir / "passwords"
            pwfile.write_text("".join(f"{u}:{p}\n" for u, p in self.passwords.items()))
            pwfile.chmod(0o600)
            subprocess.run(["mosquitto_passwd", "-U", str(pwfile)], check=True, capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pwfile}"]
        else:
            lines += ["allow_anonymous true"]
        if self.deny_subscribe:
            lines += self._dynsec_lines()
        if self.tls is not None and self.tls_port is not None:
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.tls.cafile}",
                f"certfile {self.tls.certfile}",
                f"keyfile {self.tls.keyfile}",
            ]
            if self.passwords is None:
                lines += ["allow_anonymous true"]
        if self.cloud is not None and self.tls_port is not None:
            acl = self.workdir / "acl"
            acl.write_text(self.cloud.acl)
            lines += [f"acl_file {acl}"]
            if self.cloud.max_packet_size is not None:
                lines += [f"max_packet_size {self.cloud.max_packet_size}"]
            lines += [
                f"listener {self.tls_port} 127.0.0.1",
                f"cafile {self.cloud.tls.cafile}",
                f"certfile {self.cloud.tls.certfile}",
                f"keyfile {self.cloud.tls.keyfile}",
                "require_certificate true",
                "use_identity_as_username true",
            ]
        conf = self.workdir / "mosquitto.conf"
        conf.write_text("\n".join(lines) + "\n")
        return conf

    def _dynsec_lines(self) -> list[str]:
        """Mosquitto's dynamic-security plugin, denying anonymous clients `deny_subscribe`.

        Mosquitto's `acl_file` grants every SUBSCRIBE (it filters at delivery); dynsec
        answers a denied one with a SUBACK failure (0x80, MQTT 5: 0x87), as EMQX, HiveMQ
        and AWS IoT do.
        """
        plugin = next(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"), None)
        if plugin is None:
            msg = "mosquitto_dynamic_security.so not found (Debian package mosquitto)"
            raise RuntimeError(msg)
        acls = [
            {"acltype": "subscribePattern", "topic": t, "priority": 0, "allow": False}
            for t in self.deny_subscribe
        ]
        dynsec = {
            "defaultACLAccess": {
                "publishClientSend": True,
                "publishClientReceive": True,
                "subscribe": True,
                "unsubscribe": True,
            },
            "clients": [],
            "groups": [{"groupname": "anonymous", "roles": [{"rolename": "deny"}]}],
            "anonymousGroup": "anonymous",
            "roles": [{"rolename": "deny", "acls": acls}],
        }
        path = self.workdir / "dynamic-security.json"
        path.write_text(json.dumps(dynsec))
        return [f"plugin {plugin}", f"plugin_opt_config_file {path}"]

    def start(self) -> None:
        """Start (or start again) on the same port(s); return once it accepts connections."""
        if self.proc is not None:
            return
        conf = self._write_config()
        self.proc = subprocess.Popen(
            [self.exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_port(self.port)
            if self.tls_port is not None:
                wait_port(self.tls_port)
        except TimeoutError:
            err = (
                self.proc.stderr.read().decode()
                if self.proc.poll() is not None and self.proc.stderr
                else ""
            )
            self.stop()
            log = self.log.read_text() if self.log.exists() else ""
            msg = f"mosquitto did not start: {err} {log}"
            raise RuntimeError(msg) from None

    def stop(self) -> None:
        """Stop cleanly (SIGTERM: it saves its persistence file) and wait for the port."""
        if self.proc is None:
            return
        terminate(self.proc, 10)
        self.proc = None
        wait_port(self.port, up=False)

    def restart(self) -> None:
        """Stop then start on the same port."""
        self.stop()
        self.start()

    def configure(
        self,
        *,
        passwords: dict[str, str] | None = None,
        tls: TlsFiles | None = None,
        deny_subscribe: tuple[str, ...] = (),
        cloud: CloudAuth | None = None,
    ) -> None:
        """Change auth/TLS/subscribe ACL/cloud listener; takes effect at the next start."""
        if tls is not None and cloud is not None:
            msg = "one TLS listener: give tls or cloud, not both"
            raise ValueError(msg)
        self.deny_subscribe = deny_subscribe
        self.passwords = passwords
        self.tls = tls
        self.cloud = cloud
        self.tls_port = free_port() if tls is not None or cloud is not None else None
