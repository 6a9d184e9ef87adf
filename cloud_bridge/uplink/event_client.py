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

from cloud_bridge.errors import UplinkHTTPError, UplinkProtocolError
from cloud_bridge.http import EXCERPT_CHARS, CloudSession

__all__ = ["EventAck", "EventClient"]


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
    verified (system store, or `ca_file`); `timeout` bounds each whole request. Errors
    name the sink as `endpoint`; a 404 or 405 says it is no event sink.
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
        endpoint: str = "event sink",
    ) -> None:
        self._gzip_level = gzip_level
        self._http = CloudSession(
            url,
            token=token,
            timeout=timeout,
            ca_file=ca_file,
            ssl_context=ssl_context,
            headers={
                "User-Agent": "edgegw-uplink/1",
                "Content-Type": "application/json",
                "Content-Encoding": "gzip",
            },
            tls_hint="set cloud.ca_file to trust its CA",
            endpoint=endpoint,
        )

    async def __aenter__(self) -> Self:
        """Open the HTTP session."""
        await self._http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the HTTP session."""
        await self._http.__aexit__(exc_type, exc, tb)

    def encode(self, payloads: Sequence[bytes]) -> bytes:
        """The gzip body for `payloads` (each one JSON object)."""
        return gzip.compress(b"[" + b",".join(payloads) + b"]", self._gzip_level)

    async def post(self, payloads: Sequence[bytes]) -> EventAck:
        """Send one batch; return the sink's acknowledgement or raise an UplinkError."""
        body = self.encode(payloads)
        try:
            answer = await self._http.request("POST", "", data=body)
        except UplinkHTTPError as exc:
            if exc.status not in (404, 405):
                raise
            raise UplinkHTTPError(
                exc.status,
                retry_after=exc.retry_after,
                error=exc.error,
                body_excerpt=exc.body_excerpt,
                url=exc.url,
                endpoint=exc.endpoint,
                hint="no event sink there: an OIP server such as KServe has none; point "
                "cloud.events_url at `edgegw cloud serve`, or forward only hard cases "
                "(cloud.forward_kinds: [vision.hard_case])",
            ) from exc
        return _parse_ack(answer.text, len(body))


def _parse_ack(text: str, wire_bytes: int) -> EventAck:
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise UplinkProtocolError(
            "event sink answer is not JSON", body_excerpt=text[:EXCERPT_CHARS]
        ) from exc
    if not isinstance(answer, dict):
        raise UplinkProtocolError(
            "event sink answer is not an object", body_excerpt=text[:EXCERPT_CHARS]
        )
    lists = [answer.get("accepted", []), answer.get("duplicates", [])]
    if not all(isinstance(ids, list) and all(isinstance(i, str) for i in ids) for ids in lists):
        raise UplinkProtocolError(
            "event sink answer lacks 'accepted'/'duplicates' id lists",
            body_excerpt=text[:EXCERPT_CHARS],
        )
    return EventAck(accepted=tuple(lists[0]), duplicates=tuple(lists[1]), wire_bytes=wire_bytes)
