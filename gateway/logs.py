"""Logging setup: text or JSON lines, secrets redacted, rate-limited hot-path warnings.

Two kinds of secret never reach a log line: the config's secret values (passwords,
tokens: `RedactFilter` is given them) and credentials written into a URL
(`rtsp://admin:secret@cam/...`, `https://...?token=...`): `redact_urls` masks them in any
text, and `RedactFilter` applies it to every record.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

REDACTED = "***"

# scheme://user:password@ -> scheme://user:***@ (the password may hold anything but @ / space)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s/:@]*:)[^\s@/]*@")
# ?token=... / &password=... in a URL's query
_URL_QUERY_SECRET = re.compile(
    r"(?i)([?&](?:password|passwd|pwd|pass|token|access_token|api_key|apikey|key|secret|"
    r"auth|signature|sig)=)[^&#\s]*"
)


def redact_urls(text: str) -> str:
    """Mask URL passwords (`user:***@`) and secret query values (`?token=***`) in `text`."""
    if "://" not in text and "=" not in text:
        return text
    text = _URL_PASSWORD.sub(rf"\1{REDACTED}@", text)
    return _URL_QUERY_SECRET.sub(rf"\1{REDACTED}", text)


def url_secrets(url: str) -> list[str]:
    """The password of `url`'s user info, if it carries one (for `RedactFilter`)."""
    match = re.match(r"(?i)[a-z][a-z0-9+.-]*://[^\s/:@]*:([^\s@/]*)@", url)
    return [match.group(1)] if match and match.group(1) else []


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "ts": round(record.created, 3),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


class RedactFilter(logging.Filter):
    """Replace every known secret value and URL credential in a record's message with `***`."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        redacted = redact_urls(msg)
        for secret in self.secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted != msg:
            record.msg, record.args = redacted, None
        return True


def redact_also(secrets: Iterable[str]) -> None:
    """Add `secrets` to what the root logger's handlers redact (a reloaded config's)."""
    for handler in logging.getLogger().handlers:
        for f in handler.filters:
            if isinstance(f, RedactFilter):
                known = set(f.secrets) | {s for s in secrets if len(s) >= 3}
                f.secrets = sorted(known, key=len, reverse=True)


def setup_logging(
    *, level: str = "INFO", fmt: Literal["text", "json"] = "text", secrets: Iterable[str] = ()
) -> None:
    """Configure the root logger once for the process."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    handler.addFilter(RedactFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Our own loggers carry the story; the libraries' INFO chatter is noise on a board.
    for noisy in ("amqtt", "transitions", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


@dataclass(slots=True)
class _Slot:
    last: float = float("-inf")
    suppressed: int = 0


@dataclass(slots=True)
class RateLimitedLog:
    """Log a hot-path warning at most once per `interval_s` per key; count what it hides."""

    logger: logging.Logger
    interval_s: float = 10.0
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def log(self, level: int, key: str, msg: str, *args: object) -> bool:
        """Log unless `key` was logged within the interval; return whether it was logged."""
        now = time.monotonic()
        with self._lock:
            slot = self._slots.setdefault(key, _Slot())
            if now - slot.last < self.interval_s:
                slot.suppressed += 1
                return False
            suppressed, slot.suppressed, slot.last = slot.suppressed, 0, now
        if suppressed:
            msg += " (%d similar suppressed)"
            args = (*args, suppressed)
        self.logger.log(level, msg, *args)
        return True

    def warning(self, key: str, msg: str, *args: object) -> bool:
        """Rate-limited warning."""
        return self.log(logging.WARNING, key, msg, *args)
