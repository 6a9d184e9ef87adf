"""The exception tree of cloud_bridge.

    CloudBridgeError           root: everything cloud_bridge raises on purpose
    ├── OutboxError            the durable outbox cannot open, read or write its database;
    │                          carries `path` and `reason`
    ├── UplinkError            an HTTP/OIP call to the cloud failed (cloud_bridge.oip.errors:
    │                          UplinkTimeout, UplinkHTTPError, UplinkProtocolError,
    │                          UplinkConnectionError)
    └── ImageRejectedError     a request's image is over the limits or broken
                               (cloud_bridge.oip.hard_case; also a ValueError)

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
