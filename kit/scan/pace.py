"""The scan's request pacing: one shared rate for the whole scan, a slower one per host.

Every protocol request an adapter sends during a scan first awaits :meth:`Pacer.acquire`
with its host. The pacer hands out send times so that the whole scan sends at most
``rate`` requests per second and each host at most ``host_rate`` — no bursts (a small PLC
shares its few connection slots and its CPU with the plant's HMI). It also counts the
requests per endpoint, which the inventory reports.

One request in flight per device is not the pacer's job: the sweep gives each host to one
worker, which talks to it sequentially (:mod:`kit.scan.sweep`).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter


class Pacer:
    """Send-time scheduler shared by every worker of one scan (single event loop)."""

    def __init__(self, rate: float, host_rate: float) -> None:
        if rate <= 0 or host_rate <= 0:
            raise ValueError("rates must be positive")
        self.rate, self.host_rate = rate, host_rate
        self._next = 0.0
        self._host_next: dict[str, float] = {}
        self.sent: Counter[str] = Counter()
        """Requests handed out per ``host:port``."""

    async def acquire(self, host: str, endpoint: str | None = None) -> None:
        """Wait until a request to ``host`` may be sent (and count it for ``endpoint``)."""
        now = time.monotonic()
        # Reserve the slot before sleeping: later callers queue behind it, so the schedule
        # is strict (no two sends closer than 1/rate) however many workers wait.
        t = max(now, self._next, self._host_next.get(host, 0.0))
        self._next = t + 1.0 / self.rate
        self._host_next[host] = t + 1.0 / self.host_rate
        self.sent[endpoint or host] += 1
        if t > now:
            await asyncio.sleep(t - now)

    def total(self) -> int:
        """Requests handed out so far."""
        return sum(self.sent.values())
