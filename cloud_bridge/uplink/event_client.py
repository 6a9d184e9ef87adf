"""POST batches of events, gzip JSON, to the cloud event sink; errors as `UplinkError`s."""

from __future__ import annotations

import gzip
import json
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import aiohttp

from cloud_bridge.oip import parse_retry_after
from cloud_bridge.oip.errors import (
    UplinkConnectionError,
    UplinkHTTPError,
    UplinkProtocolError,
    UplinkTimeout,
)

__all__ = ["EventAck", "EventClient"]

_EXCERPT_CHARS = 300


@dataclass(slots=True, frozen=True)
class EventAck:
    """The sink's answer to one batch: ids it stored now and ids it already had."""

    accepted: tuple[str, ...]
    duplicates: tuple[str, ...]
    wire_bytes: int

    @property
    def acked(self) -> frozenset[str]:
        """Every id the cloud holds now: both may leave the outbox."""
        return frozenset(self.accepted) | frozenset(self.duplicates)


class EventClient:
    """``async with EventClient(url, token=...) as sink: await sink.post(payloads)``.

    `payloads` are Event JSON documents (bytes), sent as one gzip JSON array. TLS is
    verified (system store, or `ca_file`); `timeout` bounds each whole request.
    """

    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        ca_file: str | Path | None = None,
        ssl_context: ssl.SSLContext | None = None,
        gzip_level: int = 6,
    ) -> None:
        self._url = url
        self._timeout = timeout
        self._gzip_level = gzip_level
        self._ssl: ssl.SSLContext | bool = True
        if ssl_context is not None:
            self._ssl = ssl_context
        elif ca_file is not None:
            self._ssl = ssl.create_default_context(cafile=str(ca_file))
        self._headers = {
            "User-Agent": "edgegw-uplink/1",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
            "Accept": "application/json",
        }
        if token is not None:
            self._headers["Authorization"] = f"Bearer {token}"
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        """Open the HTTP session."""
        self._session = aiohttp.ClientSession(headers=self._headers)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    def encode(self, payloads: Sequence[bytes]) -> bytes:
        """The gzip body for `payloads` (each one JSON object)."""
        return gzip.compress(b"[" + b",".join(payloads) + b"]", self._gzip_level)

    async def post(self, payloads: Sequence[bytes]) -> EventAck:
        """Send one batch; return the sink's acknowledgement or raise an UplinkError."""
        if self._session is None:
            raise RuntimeError("EventClient is not open; use 'async with EventClient(...)'")
        body = self.encode(payloads)
        url = self._url
        try:
            async with self._session.post(
                url, data=body, ssl=self._ssl, timeout=aiohttp.ClientTimeout(total=self._timeout)
            ) as resp:
                raw = await resp.read()
                status, headers = resp.status, resp.headers
        except TimeoutError as exc:
            raise UplinkTimeout(
                f"POST {url}: no full answer within {self._timeout}s", timeout=self._timeout
            ) from exc
        except aiohttp.ClientConnectorCertificateError as exc:
            raise UplinkConnectionError(
                f"POST {url}: TLS certificate verification failed ({exc.certificate_error}); "
                "set cloud.ca_file to trust its CA",
                tls=True,
            ) from exc
        except aiohttp.ClientSSLError as exc:
            raise UplinkConnectionError(f"POST {url}: TLS failed: {exc}", tls=True) from exc
        except aiohttp.ClientError as exc:
            raise UplinkConnectionError(f"POST {url}: {type(exc).__name__}: {exc}") from exc
        text = raw.decode("utf-8", errors="replace")
        if status >= 400:
            raise UplinkHTTPError(
                status,
                retry_after=parse_retry_after(headers.get("Retry-After")),
                body_excerpt=text[:_EXCERPT_CHARS],
                url=url,
            )
        return _parse_ack(text, len(body))


def _parse_ack(text: str, wire_bytes: int) -> EventAck:
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise UplinkProtocolError(
            "event sink answer is not JSON", body_excerpt=text[:_EXCERPT_CHARS]
        ) from exc
    if not isinstance(answer, dict):
        raise UplinkProtocolError("event sink answer is not an object", body_excerpt=text[:300])
    lists = [answer.get("accepted", []), answer.get("duplicates", [])]
    if not all(isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in lists):
        raise UplinkProtocolError(
            "event sink answer lacks 'accepted'/'duplicates' id lists",
            body_excerpt=text[:_EXCERPT_CHARS],
        )
    return EventAck(accepted=tuple(lists[0]), duplicates=tuple(lists[1]), wire_bytes=wire_bytes)
