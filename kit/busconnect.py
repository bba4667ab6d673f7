"""Connecting to NATS: one bounded first connect, and why it failed in words.

nats-py retries a failing *first* connect itself — forever when reconnects are allowed, and
up to 60 times 2 s apart even when they are not — so a wrong URL or password looked like a
hang. :func:`connect_bounded` gives every server of the list one try and then fails with a
sentence a technician can act on (:func:`connect_failure`). Used by the runtime's bus
(:meth:`kit.bus.Bus.connect`) and by the hub and fleet commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Awaitable, Callable
from typing import Any

import nats
from nats.aio.client import Client as NATS

import kit.natscompat  # noqa: F401  (nats-py fix, see the module)
from kit.errors import BusError


def redact_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages and logs)."""
    import re

    return re.sub(r"(//[^:/@,]+:)[^@/,]*@", r"\1***@", url)


def _telling(errors: list[BaseException]) -> BaseException | None:
    """The most telling of the errors of failed connect attempts (authorization and TLS
    before the connection reset that follows them)."""
    for e in errors:
        if isinstance(e, (nats.errors.AuthorizationError, ssl.SSLError)):
            return e
        if "authorization" in str(e).lower():
            return e
    return errors[-1] if errors else None


async def connect_bounded(
    servers: list[str],
    *,
    url: str | None = None,
    connect_timeout: float = 5.0,
    error_cb: Callable[[Exception], Awaitable[None]] | None = None,
    allow_reconnect: bool = False,
    describe: Callable[[str, BaseException | None, bool], str] | None = None,
    **options: Any,
) -> NATS:
    """Connect with one try per server of the list, then fail with the reason the last try gave.

    nats-py retries a failing *first* connect itself: forever when reconnects are allowed (a
    wrong URL or password looked like a hang), and even with ``allow_reconnect=False`` each
    server up to 60 times, 2 s apart (`kit fleet status` with a wrong hub address took 3.5
    minutes to fail, printing a traceback every 2 s). ``error_cb`` still sees every error;
    ``describe(url, reason, auth_required)`` words the failure [:func:`connect_failure`].

    Raises:
        BusError: no server accepted the connection (the reason in words, ``connect_failure``).
    """
    first_errors: list[BaseException] = []
    all_failed = asyncio.Event()
    connecting = True

    async def _first_err(e: Exception) -> None:
        if connecting:
            first_errors.append(e)
            if len(first_errors) >= len(servers):
                all_failed.set()
        if error_cb is not None:
            await error_cb(e)

    nc = NATS()
    attempt = asyncio.ensure_future(
        nc.connect(
            servers=servers,
            connect_timeout=connect_timeout,  # type: ignore[arg-type]  # nats-py annotates int, accepts float
            allow_reconnect=allow_reconnect,
            error_cb=_first_err,
            **options,
        )
    )
    failed = asyncio.ensure_future(all_failed.wait())
    try:
        await asyncio.wait(
            {attempt, failed},
            timeout=connect_timeout * len(servers) + 1.0,
            return_when=asyncio.FIRST_COMPLETED,
        )
    finally:
        failed.cancel()
    connecting = False
    if not attempt.done() or attempt.cancelled() or attempt.exception() is not None:
        reason = attempt.exception() if attempt.done() and not attempt.cancelled() else None
        attempt.cancel()
        with contextlib.suppress(BaseException):
            await attempt
        with contextlib.suppress(Exception):
            await nc.close()
        errors = ([reason] if reason else []) + first_errors
        auth_required = bool(getattr(nc, "_server_info", {}).get("auth_required"))
        words = describe or connect_failure
        raise BusError(words(url or ", ".join(servers), _telling(errors), auth_required)) from None
    return nc


def connect_failure(url: str, exc: BaseException | None, auth_required: bool = False) -> str:
    """A user-facing sentence: why connecting to ``url`` failed and what to do about it.

    ``auth_required``: the server's INFO asked for credentials; a connection it then
    reset or closed was refused for them (the ``-ERR`` may not reach the client first).
    """
    url = redact_url(url)
    text = str(exc or "").strip()
    low = text.lower()
    closed = isinstance(exc, (ConnectionResetError, BrokenPipeError, nats.errors.UnexpectedEOF))
    if (
        isinstance(exc, nats.errors.AuthorizationError)
        or "authorization" in low
        or (auth_required and (closed or "reset" in low or "eof" in low))
    ):
        return (
            f"cannot connect to NATS at {url}: authorization violation (missing or wrong user "
            "or password). For the local runtime's bus run the command with the same data "
            "directory as `kit up` (KIT_DATA_DIR), or put the credentials in the URL "
            "(nats://user:password@host:port) or in nats_client.user / nats_client.password."
        )
    if isinstance(exc, ssl.SSLError) or "tls" in low or "ssl" in low or "certificate" in low:
        return (
            f"cannot connect to NATS at {url}: TLS failed ({text or type(exc).__name__}). "
            "Check nats_client.tls_ca (the CA of the server certificate), "
            "nats_client.tls_hostname, and that the URL scheme is tls:// for a TLS server."
        )
    if isinstance(exc, ConnectionRefusedError) or "refused" in low or "connect call failed" in low:
        reason = "connection refused (nothing listens there)"
    elif exc is None or isinstance(exc, (TimeoutError, asyncio.TimeoutError)):
        reason = "no answer (timed out)"
    else:
        reason = text or type(exc).__name__
    return (
        f"cannot reach NATS at {url}: {reason}. Is the runtime running (`kit up`), and are "
        "the host and port right (`--url`, or `nats_url` in the site config)?"
    )
