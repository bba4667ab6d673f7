"""The one backoff formula: exponential from an initial delay, capped, with downward jitter.

Used by the supervisor (component restarts), the Modbus line (reconnects) and device
breaker (probes), the OPC UA connection (reconnects) and state loading (KV retries).
Jitter only shortens a delay — restarts of many devices spread out, and the cap is a
promise: recovery never waits longer than ``max_s`` plus one poll. :class:`Backoff` sleeps on
a component's clock, so tests can drive it with a fake one.
"""

from __future__ import annotations

import random
from typing import Any


def backoff_delay(
    failures: int,
    initial_s: float,
    max_s: float,
    *,
    factor: float = 2.0,
    jitter: float = 0.2,
    rng: random.Random | None = None,
    floor_s: float = 0.0,
) -> float:
    """Delay before attempt number ``failures + 1`` (``failures`` ≥ 1, 1-based).

    ``initial_s × factor^(failures-1)``, capped at ``max_s``, then shortened by up to
    ``jitter`` (0.2 = up to 20 %), never below ``floor_s``.
    """
    base = min(max_s, initial_s * factor ** max(0, failures - 1))
    return max(floor_s, base * (1.0 - jitter * (rng or random).random()))


class Backoff:
    """Counts consecutive failures and sleeps the matching delay on ``clock``."""

    def __init__(
        self,
        initial_s: float,
        max_s: float,
        *,
        clock: Any = None,
        factor: float = 2.0,
        jitter: float = 0.2,
        rng: random.Random | None = None,
    ) -> None:
        self.initial_s, self.max_s, self.factor, self.jitter = initial_s, max_s, factor, jitter
        self.clock = clock
        self.rng = rng
        self.failures = 0

    def next_delay(self) -> float:
        """Count one more failure and return the delay before the next attempt."""
        self.failures += 1
        return backoff_delay(
            self.failures,
            self.initial_s,
            self.max_s,
            factor=self.factor,
            jitter=self.jitter,
            rng=self.rng,
        )

    async def wait(self) -> float:
        """Count a failure and sleep its delay (a retry schedule, not synchronisation)."""
        delay = self.next_delay()
        if self.clock is not None:
            await self.clock.sleep(delay)
        else:
            import asyncio

            await asyncio.sleep(delay)
        return delay

    def reset(self) -> None:
        """A success: the next failure starts from ``initial_s`` again."""
        self.failures = 0
