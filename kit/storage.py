"""Disk full (or any storage error) of the embedded server: detect, report, recover.

What nats-server does at ENOSPC (measured with nats-server 2.15 on a full tmpfs): the
stream's file store records a *critical write error* and stays broken — every later
publish to that stream gets no acknowledgement at all, even after space is freed, and a
stream update does not clear it. A server restart does. So the runtime:

1. **detects** it from the server's own log (``no space left on device``, ``critical
   write error``, ``insufficient resources``; see :func:`kit.natsserver.watch_storage`);
2. **reports** it: an ERROR log line, the runtime's health (``degraded`` with the reason,
   on the core subject ``kit.health.runtime``, which needs no disk), ``kit status``
   (``STORAGE ERROR …``), and, once the store works again, a ``storage_error`` and a
   ``storage_recovered`` event in the EVENTS stream;
3. **recovers**: checks the free space of the store's file system every
   ``check_every_s``; once at least ``recover_free_bytes`` are free it restarts the
   server (same port, same store); clients reconnect and re-send every publish that was
   not acknowledged (the publish window keeps them, :class:`kit.bus.AckWindow`), and
   the stream drops any it already had by message id;
4. **bounds memory** meanwhile: the publish window holds at most ``max_pending_acks``
   unacknowledged messages per connection; when it is full, publishing waits
   (back-pressure: an adapter then polls its device late instead of piling up batches).
   Nothing is dropped while the runtime runs; at shutdown what is still unacknowledged
   is counted in the log.

Components that fail meanwhile (a KV write times out) are not counted as crashing: the
supervisor waits for the store like it waits for a bus outage.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def free_bytes(path: Path) -> int:
    """Bytes free for an unprivileged writer on the file system holding ``path``."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    st = os.statvfs(p)
    return st.f_bavail * st.f_frsize


class StorageWatch:
    """Watches the embedded server for storage errors and restarts it when space returns."""

    def __init__(
        self,
        server: Any,
        report: Callable[[str, str, str, dict[str, Any]], Awaitable[None]],
        *,
        check_every_s: float = 1.0,
        recover_free_bytes: int = 8 * 1024 * 1024,
    ) -> None:
        self.server = server
        """The :class:`kit.natsserver.EmbeddedNats` (its ``storage_error`` is set from its log)."""
        self._report = report
        self.check_every_s = check_every_s
        self.recover_free_bytes = recover_free_bytes
        self.error: str | None = None
        """The storage error being handled (None while the store is fine)."""
        self.since: float | None = None
        self.recovered_at: float | None = None
        self.errors = 0
        """Storage errors seen since start."""
        self.recoveries = 0
        self._ok = asyncio.Event()
        self._ok.set()

    def trouble(self, grace_s: float) -> bool:
        """True during a storage error and ``grace_s`` seconds after its recovery."""
        if self.error is not None or self.server.storage_error is not None:
            return True
        return self.recovered_at is not None and time.monotonic() - self.recovered_at < grace_s

    def low_space(self) -> int | None:
        """Bytes free on the store's file system if below ``recover_free_bytes``, else None.

        A component failing while the disk is this full failed because of it, even when
        the server's log line saying so has not been read yet."""
        free = free_bytes(self.server.data_dir / "nats" / "jetstream")
        return free if free < self.recover_free_bytes else None

    async def wait_ok(self) -> None:
        """Return once the store works again."""
        while self.error is not None or self.server.storage_error is not None:
            self._ok.clear()
            await self._ok.wait()

    def summary(self) -> dict[str, Any]:
        """For status and health."""
        return {
            "storage_error": self.server.storage_error or self.error,
            "storage_errors": self.errors,
            "storage_recoveries": self.recoveries,
        }

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            await asyncio.sleep(self.check_every_s)  # polling schedule of the disk check
            err = self.server.storage_error
            if err is None:
                continue
            if self.error is None:
                self.error, self.since = err, time.monotonic()
                self.errors += 1
                self._ok.clear()
                store = self.server.data_dir / "nats" / "jetstream"
                await self._report(
                    "storage_error",
                    f"the bus cannot store messages: {err}. Free disk space on the file "
                    f"system of {store} (free now: {free_bytes(store)} bytes); the kit "
                    "recovers by itself once space is back and keeps unacknowledged "
                    "publishes meanwhile (publishing waits when the window is full).",
                    "critical",
                    {"free_bytes": free_bytes(store)},
                )
            await self._try_recover()

    async def _try_recover(self) -> None:
        store = self.server.data_dir / "nats" / "jetstream"
        free = free_bytes(store)
        if free < self.recover_free_bytes:
            return
        log.warning(
            "%d bytes free again on the store's file system: restarting nats-server to clear "
            "its storage error",
            free,
        )
        await self.server.restart("recover from a storage error")
        self.server.storage_error = None
        self.error = None
        self.recovered_at = time.monotonic()
        down = self.recovered_at - (self.since or self.recovered_at)
        self.recoveries += 1
        self._ok.set()
        await self._report(
            "storage_recovered",
            f"the bus stores messages again after {down:.1f} s of storage error "
            f"({free} bytes free); unacknowledged publishes are re-sent",
            "high",
            {"down_s": round(down, 3), "free_bytes": free},
        )
