"""The exception tree of cloud_bridge.

    CloudBridgeError           root: everything cloud_bridge raises on purpose
    ├── OutboxError            the durable outbox cannot open, read or write its database;
    │                          carries `path` and `reason`
    └── UplinkError            an HTTP/OIP call to the cloud failed; never raised itself
        ├── UplinkTimeout          no full answer within the per-request timeout
        ├── UplinkHTTPError        the server answered 4xx/5xx (status, retry_after, error,
        │                          body_excerpt, endpoint)
        ├── UplinkProtocolError    a 2xx answer that is not the promised JSON (body_excerpt)
        ├── UplinkConnectionError  cannot reach the server: refused, reset, DNS, TLS
        │                          (tls=True when certificate verification failed, or a
        │                          broker closed the TLS session over our client certificate)
        └── UplinkRefused          an MQTT broker answered with a failure reason code (CONNACK,
                                   PUBACK, SUBACK): code, name, stage

Retries, backoff and circuit breaking live in the uplink; it decides from these types
(and from `UplinkHTTPError.retry_after`) whether and when to try again.

`cloud_bridge` does not import `gateway`; `gateway` translates these into its own tree at
the boundary (``raise ComponentError(...) from exc``). Dependency errors (sqlite3, aiohttp)
are translated here, at the edge of cloud_bridge, and never leak raw.
"""

from __future__ import annotations

from pathlib import Path


class CloudBridgeError(Exception):
    """Root of every error cloud_bridge raises on purpose."""


class OutboxError(CloudBridgeError):
    """The outbox database at `path` cannot be used; `reason` says why."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"outbox {self.path}: {reason}")


class UplinkError(CloudBridgeError):
    """Root of every error the uplink client raises on purpose."""


class UplinkTimeout(UplinkError):  # noqa: N818  # the name is the uplink contract
    """The request did not complete within its timeout; `timeout` is that limit in seconds."""

    def __init__(self, message: str, *, timeout: float | None) -> None:
        self.timeout = timeout
        super().__init__(message)


class UplinkHTTPError(UplinkError):
    """The server answered with an error status.

    `retry_after` is the server's `Retry-After` in seconds from now (either header form),
    `error` the message of the error body (its `error`, else FastAPI's `detail`),
    `body_excerpt` the start of the body as text, for logs. `endpoint` names which of the
    cloud's URLs answered (say, "OIP server (cloud.oip_url)"); `hint` says what to do.
    """

    def __init__(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        error: str | None = None,
        body_excerpt: str = "",
        url: str = "",
        endpoint: str = "",
        hint: str = "",
    ) -> None:
        self.status = status
        self.retry_after = retry_after
        self.error = error
        self.body_excerpt = body_excerpt
        self.url = url
        self.endpoint = endpoint
        self.hint = hint
        detail = error if error is not None else body_excerpt
        message = f"HTTP {status} from {url}" if url else f"HTTP {status}"
        if endpoint:
            message = f"{endpoint}: {message}"
        if detail:
            message = f"{message}: {detail}"
        super().__init__(f"{message} ({hint})" if hint else message)


class UplinkProtocolError(UplinkError):
    """A successful status with a body that is not valid JSON or not the expected schema."""

    def __init__(self, message: str, *, body_excerpt: str = "") -> None:
        self.body_excerpt = body_excerpt
        super().__init__(message)


class UplinkConnectionError(UplinkError):
    """The server cannot be reached; `tls` is True when certificate verification failed."""

    def __init__(self, message: str, *, tls: bool = False) -> None:
        self.tls = tls
        super().__init__(message)


class UplinkRefused(UplinkError):  # noqa: N818  # the name is the uplink contract
    """An MQTT broker refused: a CONNACK, PUBACK or SUBACK with a failure reason code.

    `code` is the MQTT 5 reason code (0x80 and up; MQTT 3.1.1 CONNACK codes are mapped to
    their MQTT 5 equivalents), `name` its spec name ("Not authorized"), `stage` one of
    `connect`, `publish`, `subscribe`, `topic` what was refused when known.
    """

    def __init__(self, code: int, name: str, *, stage: str, topic: str | None = None) -> None:
        self.code = code
        self.name = name
        self.stage = stage
        self.topic = topic
        where = f" on {topic}" if topic else ""
        super().__init__(f"broker refused {stage}{where}: {name} (0x{code:02x})")
