"""Fixes for the pinned nats-py (2.16.0), applied once when the kit first talks to NATS.

``Client.flush(timeout)`` sends a PING and queues a future for its PONG; on a time-out it
cancels the future but leaves it queued. When that PONG arrives, ``_process_pong`` calls
``set_result`` on the cancelled future, which raises ``InvalidStateError`` inside the read
loop: the connection stops reading, so every later request on it goes unanswered (a control
request "timed out" after 30 s; ``kit bus tail`` printed the error on exit). A loaded box
makes flush time-outs, and so this, likely. The fix keeps the protocol's order — one PONG
answers the oldest PING — and only skips resolving a future nobody waits for any more.

On Python 3.11 nats-py's ``asyncio.wait_for`` also drops a cancellation that lands as a reply
arrives (see :mod:`kit.aio`): its modules are pointed at :func:`kit.aio.wait_for`.
"""

from __future__ import annotations

import sys
from typing import Any

import nats.aio.client
import nats.aio.subscription
import nats.aio.transport
import nats.js.client
import nats.js.kv
import nats.js.object_store
from nats.aio.client import Client

from kit.aio import asyncio_namespace

_APPLIED = False


async def _process_pong(self: Any) -> None:
    """Nats-py's ``_process_pong``, tolerant of a flush that gave up waiting."""
    if len(self._pongs) > 0:
        future = self._pongs.pop(0)
        if not future.done():  # a timed-out flush cancelled it; its PONG still comes
            future.set_result(True)
        self._pongs_received += 1
        self._pings_outstanding = 0


def apply() -> None:
    """Patch the nats-py client class (idempotent)."""
    global _APPLIED
    if not _APPLIED:
        Client._process_pong = _process_pong  # type: ignore[method-assign]
        if sys.version_info < (3, 12):
            ns = asyncio_namespace()
            for mod in (
                nats.aio.client,
                nats.aio.subscription,
                nats.aio.transport,
                nats.js.client,
                nats.js.kv,
                nats.js.object_store,
            ):
                mod.asyncio = ns  # type: ignore[attr-defined]
        _APPLIED = True


apply()
