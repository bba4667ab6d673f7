"""The outbox: deliveries not yet done, kept across restarts, and the per-route rate limit.

Every matched (event, route) pair becomes a :class:`Delivery` in the outbox *before* the
event is acknowledged on the KIT_EVENTS consumer; the outbox is saved in the component's
state (the ``KIT_STATE`` KV bucket, on disk). So a restart, a crash or a power cut between
"event seen" and "delivered" re-reads the outbox and sends what is still due: nothing
matched is dropped, and a delivery can at worst be repeated (at-least-once; receivers
de-duplicate on the idempotency key ``<event id>:<route>``). Finished deliveries leave the
saved outbox at most a second later (one state write per second in a flood, not one per
message), so only that second's deliveries can be repeated after a crash.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from kit.backoff import backoff_delay


@dataclass
class Delivery:
    """One event still to be sent on one route."""

    key: str
    """Idempotency key ``<event id>:<route>``: the same on every attempt and after restarts."""
    route: str
    event: dict[str, Any]
    """The event as published (JSON form)."""
    created: float
    """Wall-clock seconds when it entered the outbox (retries give up relative to this)."""
    due: float
    """Wall-clock seconds of the next attempt."""
    attempts: int = 0
    last_error: str = ""

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Delivery:
        """Rebuild from :meth:`to_dict` (saved state)."""
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def to_dict(self) -> dict[str, Any]:
        """JSON form for the saved state."""
        return asdict(self)


@dataclass
class RouteStats:
    """Counters of one route (health metrics and ``kit status``)."""

    delivered: int = 0
    failed: int = 0
    """Given up (too old, or refused as permanently wrong, e.g. HTTP 400)."""
    attempts_failed: int = 0
    """Failed attempts that were retried (or will be)."""
    rate_limited: int = 0
    """Deliveries deferred (``over_limit: defer``) or dropped (``drop``) by the rate limit."""
    dropped: int = 0
    """Discarded: ``over_limit: drop``, or the outbox was full."""
    last_error: str = ""
    last_delivered: str = ""

    def to_dict(self) -> dict[str, Any]:
        """As a plain dict."""
        return asdict(self)


@dataclass
class TokenBucket:
    """``count`` tokens refilled evenly over ``per_s`` seconds (wall clock, seconds)."""

    count: int
    per_s: float
    tokens: float = -1.0
    at: float = 0.0

    def _refill(self, now: float) -> None:
        if self.tokens < 0:
            self.tokens, self.at = float(self.count), now
        elapsed = max(0.0, now - self.at)
        self.tokens = min(float(self.count), self.tokens + elapsed * self.count / self.per_s)
        self.at = now

    def take(self, now: float) -> bool:
        """Use one token if there is one."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def wait_s(self, now: float) -> float:
        """Seconds until the next token."""
        self._refill(now)
        return max(0.0, (1.0 - self.tokens) * self.per_s / self.count)


@dataclass
class Outbox:
    """Pending deliveries by key, oldest first, bounded by ``max_pending``."""

    max_pending: int
    items: dict[str, Delivery] = field(default_factory=dict)

    def add(self, d: Delivery) -> Delivery | None:
        """Queue ``d`` (a key already queued is kept as it is); returns a dropped oldest item."""
        if d.key in self.items:
            return None
        self.items[d.key] = d
        if len(self.items) > self.max_pending:
            oldest = next(iter(self.items))
            return self.items.pop(oldest)
        return None

    def for_route(self, route: str) -> list[Delivery]:
        """This route's pending deliveries, oldest first."""
        return [d for d in self.items.values() if d.route == route]

    def done(self, key: str) -> None:
        """Remove a delivered or given-up item."""
        self.items.pop(key, None)

    def to_state(self) -> list[dict[str, Any]]:
        """Saved form (a list keeps the order)."""
        return [d.to_dict() for d in self.items.values()]

    def load(self, state: list[dict[str, Any]] | None) -> int:
        """Restore a saved outbox; returns how many deliveries it held."""
        for raw in state or []:
            d = Delivery.from_dict(raw)
            self.items[d.key] = d
        return len(self.items)


def retry_due(d: Delivery, now: float, initial_s: float, max_s: float) -> float:
    """When the next attempt of ``d`` is due after ``d.attempts`` failures (kit.backoff)."""
    return now + backoff_delay(d.attempts, initial_s, max_s)
