"""Nelson (1984) and Western Electric (1956) run rules, evaluated incrementally.

Each chart point is given as its zone score ``z = (x − CL)/σ`` (σ = a third of the
distance from the centre line to the control limit on the point's side). The rules:

==========  ====================================================================
nelson1     1 point beyond ±3σ                                       (= we1)
nelson2     9 points in a row on the same side of the centre line
nelson3     6 points in a row steadily increasing or decreasing
nelson4     14 points in a row alternating up and down
nelson5     2 of 3 points in a row beyond 2σ, same side               (= we2)
nelson6     4 of 5 points in a row beyond 1σ, same side               (= we3)
nelson7     15 points in a row within ±1σ (either side)
nelson8     8 points in a row with none within ±1σ, on both sides
we4         8 points in a row on the same side of the centre line
==========  ====================================================================

Conventions (documented in docs/plugins/spc.md): "beyond" is strict (> 3σ); a point
exactly on the centre line breaks a same-side run; equal consecutive values break a trend
and an alternation. A pattern is reported at the point that completes it, and that point
is part of it (for "2 of 3" the newest point is one of the two). Run rules report once per
run: a run of 12 on one side is one ``nelson2`` violation, at its 9th point. Window rules
report when the pattern appears and again only after it has disappeared.

Cost per point is constant: run lengths and bit masks, never a scan of the history.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

NELSON = [f"nelson{i}" for i in range(1, 9)]
WESTERN_ELECTRIC = [f"we{i}" for i in range(1, 5)]
ALL_RULES = NELSON + WESTERN_ELECTRIC

DESCRIPTION = {
    "nelson1": "1 point beyond 3 sigma",
    "we1": "1 point beyond 3 sigma",
    "nelson2": "9 points in a row on the same side of the centre line",
    "nelson3": "6 points in a row steadily increasing or decreasing",
    "nelson4": "14 points in a row alternating up and down",
    "nelson5": "2 of 3 points beyond 2 sigma on the same side",
    "we2": "2 of 3 points beyond 2 sigma on the same side",
    "nelson6": "4 of 5 points beyond 1 sigma on the same side",
    "we3": "4 of 5 points beyond 1 sigma on the same side",
    "nelson7": "15 points in a row within 1 sigma",
    "nelson8": "8 points in a row beyond 1 sigma, on both sides",
    "we4": "8 points in a row on the same side of the centre line",
}

#: How many trailing points each rule's report names.
SPAN = {
    "nelson1": 1,
    "we1": 1,
    "nelson2": 9,
    "nelson3": 6,
    "nelson4": 14,
    "nelson5": 3,
    "we2": 3,
    "nelson6": 5,
    "we3": 5,
    "nelson7": 15,
    "nelson8": 8,
    "we4": 8,
}

_POP = [bin(i).count("1") for i in range(32)]
#: Rule -> position in the pattern flags computed by RuleState.add.
_FLAG = {
    "nelson1": 0,
    "we1": 0,
    "nelson2": 1,
    "nelson3": 2,
    "nelson4": 3,
    "nelson5": 4,
    "we2": 4,
    "nelson6": 5,
    "we3": 5,
    "nelson7": 6,
    "nelson8": 7,
    "we4": 8,
}


@dataclass(slots=True)
class Violation:
    """A rule fired at the newest point; ``points`` are the (index, ts, value) involved."""

    rule: str
    index: int
    points: list[tuple[int, float, float]]

    @property
    def description(self) -> str:
        """Human-readable rule text."""
        return DESCRIPTION[self.rule]


@dataclass
class RuleState:
    """Incremental state of the run rules for one chart."""

    rules: tuple[str, ...] = tuple(NELSON)
    index: int = -1
    prev_value: float | None = None
    prev_dir: int = 0
    side: int = 0
    side_run: int = 0
    trend_run: int = 1
    alt_run: int = 1
    in1_run: int = 0
    out1_run: int = 0
    last_above1: int = -(10**9)
    last_below1: int = -(10**9)
    a2: int = 0
    b2: int = 0
    a1: int = 0
    b1: int = 0
    active: dict[str, bool] = field(default_factory=dict)
    recent: deque[Any] = field(default_factory=lambda: deque(maxlen=15))

    def __post_init__(self) -> None:
        unknown = [r for r in self.rules if r not in DESCRIPTION]
        if unknown:
            raise ValueError(f"unknown rule(s) {unknown}; choose from {ALL_RULES}")
        self.recent = deque(self.recent, maxlen=15)
        self._selected = [(r, _FLAG[r]) for r in self.rules]

    def add(self, ts: float, value: float, z: float) -> list[Violation]:
        """Score one chart point; return the violations it completes."""
        # Hot path: locals instead of repeated attribute access (≈2× faster in CPython).
        i = self.index = self.index + 1
        self.recent.append((i, ts, value))
        s = 1 if z > 0 else (-1 if z < 0 else 0)
        # Same-side run (a point on the centre line breaks it).
        side_run = self.side_run + 1 if (s and s == self.side) else (1 if s else 0)
        self.side, self.side_run = s, side_run
        # Trend and alternation use the raw values (direction of change).
        pv = self.prev_value
        if pv is None or value == pv:
            d, trend, alt = 0, 1, 1
        else:
            d = 1 if value > pv else -1
            pd = self.prev_dir
            trend = self.trend_run + 1 if d == pd else 2
            alt = self.alt_run + 1 if d == -pd else 2
        self.trend_run, self.alt_run, self.prev_value, self.prev_dir = trend, alt, value, d
        az = z if z >= 0 else -z
        in1 = self.in1_run = self.in1_run + 1 if az < 1 else 0
        out1 = self.out1_run = self.out1_run + 1 if az > 1 else 0
        if z > 1:
            self.last_above1 = i
        elif z < -1:
            self.last_below1 = i
        a2 = self.a2 = ((self.a2 << 1) | (z > 2)) & 0b111
        b2 = self.b2 = ((self.b2 << 1) | (z < -2)) & 0b111
        a1 = self.a1 = ((self.a1 << 1) | (z > 1)) & 0b11111
        b1 = self.b1 = ((self.b1 << 1) | (z < -1)) & 0b11111

        # All distinct patterns at once (integer ops), then pick the selected rules' flags.
        flags = (
            az > 3,
            side_run >= 9,
            trend >= 6,
            alt >= 14,
            bool((a2 & 1 and _POP[a2] >= 2) or (b2 & 1 and _POP[b2] >= 2)),
            bool((a1 & 1 and _POP[a1] >= 4) or (b1 & 1 and _POP[b1] >= 4)),
            in1 >= 15,
            out1 >= 8 and i - self.last_above1 < 8 and i - self.last_below1 < 8,
            side_run >= 8,
        )
        active = self.active
        if True not in flags:
            if active:
                active.clear()  # every pattern is broken: all rules re-arm
            return []
        out: list[Violation] = []
        for rule, k in self._selected:
            if not flags[k]:
                active.pop(rule, None)
                continue
            if k:
                if rule in active:
                    continue  # same episode, already reported
                active[rule] = True
            # k == 0 (beyond 3 sigma): every such point is its own violation
            span = SPAN[rule]
            pts = list(self.recent)[-span:]
            out.append(Violation(rule, i, [(int(a), float(b), float(c)) for a, b, c in pts]))
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        d = {k: v for k, v in self.__dict__.items() if k not in ("recent", "rules", "_selected")}
        d["recent"] = [list(p) for p in self.recent]
        return d

    def restore(self, d: dict[str, Any] | None) -> None:
        """Restore :meth:`to_dict` output (the configured rule selection is kept)."""
        if not d:
            return
        for k, v in d.items():
            if k == "recent":
                self.recent = deque((tuple(p) for p in v), maxlen=15)
            elif k in self.__dataclass_fields__ and k != "rules":
                setattr(self, k, v)
