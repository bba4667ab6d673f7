"""Drop duplicate and out-of-order sample batches by (source, seq), and count them.

Every producer numbers its batches per source and asset (+1 each); callers key the filter
by ``"<source>|<asset>"``. A batch whose sequence number is
not above the last one seen from that source is a duplicate (redelivery, a second
subscription) or arrived out of order; applying it would count parts or energy twice.
A producer that restarts begins again at 0: a lower sequence number with a *newer*
timestamp is therefore taken as a restart, not a duplicate.
"""

from __future__ import annotations

from typing import Any


class SeqFilter:
    """Remembers the last (seq, ts) per source; :meth:`accept` says whether to use a batch."""

    __slots__ = ("last", "duplicates", "out_of_order", "restarts")

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.last: dict[str, tuple[int, float]] = {
            k: (int(v[0]), float(v[1])) for k, v in (state or {}).items()
        }
        self.duplicates = 0
        self.out_of_order = 0
        self.restarts = 0

    def accept(self, source: str, seq: int, ts: float) -> bool:
        """True if the batch is new; False (and counted) if it is a duplicate or late."""
        prev = self.last.get(source)
        if prev is not None and seq <= prev[0]:
            if ts <= prev[1]:
                if seq == prev[0]:
                    self.duplicates += 1
                else:
                    self.out_of_order += 1
                return False
            self.restarts += 1  # lower number, newer time: the producer restarted from 0
        self.last[source] = (seq, ts)
        return True

    def to_state(self) -> dict[str, list]:
        """JSON-able state (saved with the component's state)."""
        return {k: [s, t] for k, (s, t) in self.last.items()}
