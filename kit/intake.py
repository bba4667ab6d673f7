"""Intake of sample batches for an analytics component: bindings, de-duplication, quality.

Analytics plugins (alarms, condition, spc — and any vendor's) read their inputs the same
way, as the analytics contract in the brief requires:

* a batch is identified by ``(source, seq)``; a batch whose ``seq`` is not newer than the
  last one seen from that source is a duplicate (same ``seq``) or out of order (older) and is
  dropped and counted. A source that restarts starts again at ``seq`` 0; that is recognised
  by a *newer* gateway timestamp with a lower ``seq`` and accepted (counted as a restart);
* only the bound points of the bound assets are looked at; a point whose quality is not
  ``good`` is excluded from the statistics and counted (the alarms plugin still sees it,
  because "bad quality" is itself an alarm condition);
* non-numeric values of a bound point are counted and skipped.

The module is pure (no I/O) and identical in the three plugins, so each distribution
installs on its own; it is a candidate for ``kit`` core once a second family needs it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from kit.bindings import Binding
from kit.payloads import Quality, SampleBatch
from kit.subjects import AssetPath, data_subject

_GOOD, _BAD = Quality.good, Quality.bad  # enum attribute lookups are not free per point


def norm_asset(asset: str) -> str:
    """Canonical ``site/area/line/asset`` form of an asset path (sanitised tokens)."""
    return str(AssetPath.parse(asset))


@dataclass(slots=True)
class Reading:
    """One bound point of one accepted batch, as the component sees it."""

    inputs: tuple[str, ...]
    """Names of the component inputs bound to this point (usually one)."""
    ts: float
    """Gateway timestamp of the batch, seconds since the epoch (drives all computation)."""
    value: float | None
    """Numeric value; None when quality is not good or the value is not a number."""
    quality: Quality
    reason: str | None


@dataclass
class Counters:
    """What the intake dropped or excluded, reported in ``metrics()``."""

    batches: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    source_restarts: int = 0
    points: int = 0
    excluded_bad: int = 0
    excluded_uncertain: int = 0
    non_numeric: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return dict(self.__dict__)


@dataclass
class Intake:
    """Filters batches for a set of named input bindings (see module docstring)."""

    bindings: dict[str, Binding]
    default_asset: str | None
    counters: Counters = field(default_factory=Counters)
    last: dict[str, tuple[int, float]] = field(default_factory=dict)
    """Per source: last accepted ``(seq, ts)``."""

    def __post_init__(self) -> None:
        # (asset, point) -> input names; built once so the per-batch path is a dict lookup.
        self._wanted: dict[str, dict[str, tuple[str, ...]]] = {}
        for name, b in self.bindings.items():
            asset = b.asset or self.default_asset
            if asset is None:
                raise ValueError(f"input {name!r}: no asset given and the component has none")
            by_point = self._wanted.setdefault(norm_asset(asset), {})
            by_point[b.point] = by_point.get(b.point, ()) + (name,)

    @property
    def assets(self) -> list[str]:
        """Every asset path the inputs read from."""
        return sorted(self._wanted)

    def subjects(self) -> list[str]:
        """Data subjects to subscribe to (one per bound asset)."""
        return [data_subject(AssetPath.parse(a)) for a in self.assets]

    def accept(self, batch: SampleBatch) -> bool:
        """Whether ``batch`` is new (not a duplicate, not out of order); counts the outcome."""
        ts = batch.ts.timestamp()
        prev = self.last.get(batch.source)
        if prev is not None:
            pseq, pts = prev
            if batch.seq == pseq and ts <= pts:
                self.counters.duplicates += 1
                return False
            if batch.seq < pseq:
                if ts <= pts:
                    self.counters.out_of_order += 1
                    return False
                # Lower seq but a newer timestamp: the source restarted and counts from 0 again.
                self.counters.source_restarts += 1
            elif ts < pts:
                # Newer seq with an older timestamp would move our time axis backwards.
                self.counters.out_of_order += 1
                return False
        self.last[batch.source] = (batch.seq, ts)
        self.counters.batches += 1
        return True

    def readings(self, batch: SampleBatch) -> Iterator[Reading]:
        """The bound points of an accepted batch (bad/uncertain/non-numeric counted)."""
        wanted = self._wanted.get(batch.asset)
        if wanted is None:
            wanted = self._wanted.get(norm_asset(batch.asset))
            if wanted is None:
                return
        ts = batch.ts.timestamp()
        c = self.counters
        for p in batch.points:
            names = wanted.get(p.name)
            if names is None:
                continue
            c.points += 1
            q = p.quality
            value: float | None = None
            if q is _GOOD:
                v = p.value
                if isinstance(v, (int, float)):  # bool is an int: a running flag counts as 0/1
                    value = float(v)
                else:
                    c.non_numeric += 1
            elif q is _BAD:
                c.excluded_bad += 1
            else:
                c.excluded_uncertain += 1
            yield Reading(names, ts, value, q, p.reason)

    def filter(self, batches: Iterable[SampleBatch]) -> Iterator[Reading]:
        """All readings of the accepted batches among ``batches`` (used by tests and benches)."""
        for b in batches:
            if self.accept(b):
                yield from self.readings(b)

    def state(self) -> dict[str, Any]:
        """JSON-able state (last seq per source and the counters)."""
        return {
            "last": {k: list(v) for k, v in self.last.items()},
            "counters": self.counters.as_dict(),
        }

    def restore(self, state: dict[str, Any] | None) -> None:
        """Restore what :meth:`state` returned (unknown keys ignored)."""
        if not state:
            return
        self.last = {k: (int(v[0]), float(v[1])) for k, v in state.get("last", {}).items()}
        for k, v in state.get("counters", {}).items():
            if hasattr(self.counters, k):
                setattr(self.counters, k, int(v))
