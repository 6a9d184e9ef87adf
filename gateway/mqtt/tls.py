"""Build the TLS context for the broker connection; never a silent plain-text fallback."""

from __future__ import annotations

import logging
import ssl

from gateway.config import TlsConfig
from gateway.errors import BusError

log = logging.getLogger(__name__)


def tls_context(tls: TlsConfig) -> ssl.SSLContext | None:
    """Return an SSL context for `tls`, or None when TLS is off; raise BusError on bad files."""
    if not tls.enabled:
        return None
    try:
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cafile=str(tls.ca_file) if tls.ca_file else None
        )
        if tls.cert_file is not None and tls.key_file is not None:
            ctx.load_cert_chain(str(tls.cert_file), str(tls.key_file))
    except (OSError, ssl.SSLError) as exc:
        msg = f"cannot load TLS files ({tls.ca_file}, {tls.cert_file}): {exc}"
        raise BusError(msg) from exc
    if not tls.verify:
        log.warning("TLS certificate verification is OFF (mqtt.tls.verify: false): insecure")
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
