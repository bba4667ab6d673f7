"""The one intake of sample batches for analytics: de-duplication, gaps, time sanity, quality.

Every analytics plugin (alarms, condition, spc, oee, energy — and any vendor's) reads its
inputs through this module, as the analytics contract requires:

* a batch is identified by ``(source, asset, epoch, seq)`` (docs/bus.md). Within one epoch
  (one run of the producing instance) ``seq`` is +1 per batch: the same ``seq`` again is a
  duplicate, a lower one out of order (both dropped and counted), a jump forward is a *gap*
  (the missing batches are counted — data was lost upstream). A new epoch is a restart of
  the producer: its ``seq`` starts again at 0 (counted as ``source_restarts``, no gap).
  Producers without an epoch (older versions) restart recognisably by a lower ``seq`` with a
  newer timestamp;
* a batch whose gateway timestamp is far from the receiver's clock — more than
  :attr:`TimeLimits.ahead_s` ahead or :attr:`TimeLimits.behind_s` behind — is *quarantined*
  with a reason (``ts_future``/``ts_past``): counted, announced as a ``data`` event, never fed
  to a window (one forged batch or a gateway clock jump must not move a shift to 2036);
* only the bound points of the bound assets are looked at; a point whose quality is not
  ``good`` is excluded from the statistics and counted (the alarms plugin still sees it,
  because "bad quality" is itself an alarm condition); a non-finite value (NaN/±Infinity) is
  bad with reason ``non_finite`` and never a reading's value;
* non-numeric values of a bound point are counted and skipped.

:class:`SeqGate` is the batch-level part (used alone by oee and energy, which route points
themselves); :class:`Intake` adds the bindings. Pure: the caller passes the clock reading.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from kit.bindings import Binding
from kit.payloads import NON_FINITE, Quality, SampleBatch
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


class TimeLimits(BaseModel):
    """How far a batch's timestamp may be from the receiver's clock before it is quarantined.

    Usable as a component config field (``time_tolerance: {ahead_s: 300, behind_s: 86400}``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    ahead_s: float = Field(300.0, gt=0)
    """Future tolerance (s): gateway and receiver clocks may differ a little, not by minutes."""
    behind_s: float | None = Field(None, gt=0)
    """Past tolerance (s); none by default, because a backlog after an outage or a replay of
    history is legitimate (windows never move backwards anyway). Set it to quarantine stale
    batches, e.g. ``259200`` (the data stream's 72 h)."""

    def verdict(self, ts: float, now: float | None) -> str | None:
        """``ts_future``/``ts_past`` when ``ts`` is outside the limits around ``now``, else None."""
        if now is None:
            return None
        if ts > now + self.ahead_s:
            return "ts_future"
        if self.behind_s is not None and ts < now - self.behind_s:
            return "ts_past"
        return None


QUARANTINE_REASONS = ("ts_future", "ts_past")


@dataclass
class Counters:
    """What the intake dropped or excluded, reported in ``metrics()``."""

    batches: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    source_restarts: int = 0
    gaps: int = 0
    """Batches missing inside a producer's run (``seq`` jumped forward): lost upstream."""
    quarantined_future: int = 0
    quarantined_past: int = 0
    points: int = 0
    excluded_bad: int = 0
    excluded_uncertain: int = 0
    non_numeric: int = 0
    non_finite: int = 0

    def as_dict(self) -> dict[str, int]:
        """The counters as a plain dict."""
        return dict(self.__dict__)


class SeqGate:
    """Decides per batch: new, duplicate, out of order, or quarantined (see module docstring)."""

    def __init__(self, limits: TimeLimits | None = None) -> None:
        self.limits = limits or TimeLimits()
        self.counters = Counters()
        self.last: dict[str, tuple[int | None, int, float]] = {}
        """Per ``source|asset``: last accepted ``(epoch, seq, ts)``."""
        self._reported: dict[tuple[str, str], int] = {}

    def check(self, batch: SampleBatch, now: float | None = None) -> str | None:
        """None if ``batch`` is new (then remembered), else why it is dropped; counts the outcome.

        ``now``: the receiver's clock (epoch seconds); None skips the time-sanity check.
        """
        ts = batch.ts.timestamp()
        c = self.counters
        bad_time = self.limits.verdict(ts, now)
        if bad_time is not None:
            if bad_time == "ts_future":
                c.quarantined_future += 1
            else:
                c.quarantined_past += 1
            return bad_time
        key = f"{batch.source}|{batch.asset}"
        seq, epoch = batch.seq, batch.epoch
        prev = self.last.get(key)
        if prev is not None:
            pepoch, pseq, pts = prev
            if epoch is not None and epoch != pepoch:
                c.source_restarts += 1  # a new run of the producer numbers from 0 again
            elif epoch is None and seq <= pseq and ts > pts:
                c.source_restarts += 1  # no epoch (older producer): lower seq, newer time
            elif seq == pseq:
                c.duplicates += 1
                return "duplicate"
            elif seq < pseq or ts < pts:
                # An older batch, or a newer one that would move the time axis backwards.
                c.out_of_order += 1
                return "out_of_order"
            elif seq > pseq + 1:
                c.gaps += seq - pseq - 1
        self.last[key] = (epoch, seq, ts)
        c.batches += 1
        return None

    def accept(self, batch: SampleBatch, now: float | None = None) -> bool:
        """Whether ``batch`` is new (see :meth:`check`)."""
        return self.check(batch, now) is None

    async def admit(self, batch: SampleBatch, ctx: Any) -> bool:
        """:meth:`accept` against the component's clock; a quarantined batch is announced.

        The event (kind ``data``, type ``batch_quarantined``) is published for the first
        batch of each source and reason and then every 1000th, so a flood stays visible
        without flooding the event stream; the counters have every one.
        """
        verdict = self.check(batch, ctx.clock.now().timestamp())
        if verdict is None:
            return True
        if verdict in QUARANTINE_REASONS:
            key = (batch.source, verdict)
            n = self._reported.get(key, 0)
            self._reported[key] = n + 1
            if n % 1000 == 0:
                await _announce(ctx, batch, verdict, n + 1)
        return False

    def state(self) -> dict[str, Any]:
        """JSON-able state (last position per source and the counters)."""
        return {
            "last": {k: list(v) for k, v in self.last.items()},
            "counters": self.counters.as_dict(),
        }

    def restore(self, state: dict[str, Any] | None, now: float | None = None) -> None:
        """Restore what :meth:`state` returned; positions beyond the time limits are dropped.

        Accepts the older shapes too (``[seq, ts]`` per source). A position saved from a
        poisoned batch (timestamp far ahead of ``now``) would make every real batch look out of
        order for ever: it is forgotten, and counted as ``quarantined_future``.
        """
        if not state:
            return
        last = state.get("last", {}) if "last" in state or "counters" in state else state
        for k, v in last.items():
            epoch, seq, ts = (v[0], v[1], v[2]) if len(v) == 3 else (None, v[0], v[1])
            pos = (int(epoch) if epoch is not None else None, int(seq), float(ts))
            if self.limits.verdict(pos[2], now) == "ts_future":
                self.counters.quarantined_future += 1
                continue
            self.last[k] = pos
        for k, v in state.get("counters", {}).items():
            if hasattr(self.counters, k):
                setattr(self.counters, k, int(v))


async def _announce(ctx: Any, batch: SampleBatch, reason: str, count: int) -> None:
    try:
        asset: Any = AssetPath.parse(batch.asset)
    except ValueError:
        asset = None  # a forged asset path: report it on the component's own asset
    with contextlib.suppress(Exception):  # an announcement must never stop the intake
        await ctx.publish_event(
            "data",
            "batch_quarantined",
            asset=asset or ctx.asset,
            severity="medium",
            message=(
                f"batch {batch.source}#{batch.seq} quarantined: timestamp {batch.ts.isoformat()} "
                f"is {'ahead of' if reason == 'ts_future' else 'behind'} this gateway's clock "
                "beyond the tolerance (forged message or a gateway clock jump?)"
            ),
            data={
                "reason": reason,
                "source": batch.source,
                "batch_asset": batch.asset,
                "seq": batch.seq,
                "ts": batch.ts.isoformat(),
                "count": count,
            },
        )


def sane_time(ts: float | None, now: float, limits: TimeLimits | None = None) -> bool:
    """Whether a saved time position ``ts`` is plausible at ``now`` (load-time check of state)."""
    return ts is None or (limits or TimeLimits()).verdict(ts, now) != "ts_future"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


async def check_saved_time(ctx: Any, last_ts: Any, limits: TimeLimits | None = None) -> bool:
    """Load-time check of a windowed engine's saved time position against ``ctx.clock``.

    State saved from a batch far in the future (forged, or a gateway clock jump before such
    batches were quarantined) would make every real sample look older than the windows, for
    ever. Returns False for such state — the caller starts afresh — after logging it and
    publishing a ``data``/``state_discarded`` event.
    """
    if not isinstance(last_ts, (int, float)) or sane_time(
        last_ts, ctx.clock.now().timestamp(), limits
    ):
        return True
    ctx.log.warning(
        "%s: saved state at %s is ahead of this gateway's clock: discarded", ctx.name, _iso(last_ts)
    )
    with contextlib.suppress(Exception):  # the announcement must not stop the start
        await ctx.publish_event(
            "data",
            "state_discarded",
            severity="medium",
            message=f"saved state at {_iso(last_ts)} is ahead of this gateway's clock; "
            "started afresh",
            data={"last_ts": _iso(last_ts)},
        )
    return False


async def announce_skip(ctx: Any, start: float, end: float, what: str, **data: Any) -> None:
    """Publish one ``data``/``windows_skipped`` event for a gap windows jumped over."""
    await ctx.publish_event(
        "data",
        "windows_skipped",
        ts=datetime.fromtimestamp(end, UTC),
        severity="low",
        message=f"no data from {_iso(start)} to {_iso(end)}: {what}",
        data={"start": _iso(start), "end": _iso(end), **data},
    )


class Intake(SeqGate):
    """Filters batches for a set of named input bindings (see module docstring)."""

    def __init__(
        self,
        bindings: dict[str, Binding],
        default_asset: str | None,
        limits: TimeLimits | None = None,
    ) -> None:
        super().__init__(limits)
        self.bindings = bindings
        self.default_asset = default_asset
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
            q, reason = p.quality, p.reason
            value: float | None = None
            if q is _GOOD:
                v = p.value
                if isinstance(v, (int, float)):  # bool is an int: a running flag counts as 0/1
                    try:
                        value = float(v)
                    except OverflowError:  # an integer beyond float range
                        value = math.inf
                    if not math.isfinite(value):
                        # The payload model marks NaN/inf bad; a batch built without
                        # validation must not feed one to a window either.
                        c.non_finite += 1
                        value, q, reason = None, _BAD, NON_FINITE
                else:
                    c.non_numeric += 1
            elif q is _BAD:
                c.excluded_bad += 1
                if reason == NON_FINITE:
                    c.non_finite += 1
            else:
                c.excluded_uncertain += 1
            yield Reading(names, ts, value, q, reason)

    def filter(self, batches: Iterable[SampleBatch]) -> Iterator[Reading]:
        """All readings of the accepted batches among ``batches`` (used by tests and benches)."""
        for b in batches:
            if self.accept(b):
                yield from self.readings(b)
