"""Incremental energy engine: kWh per hour, shift and day, idle energy, 15-minute demand, savings.

Pure (no bus, no clock): time comes from the samples. Energy enters either as increments of
a cumulative meter counter (rollover and resets handled) or as the trapezoidal integral of
power between consecutive samples. An increment over ``[a, b)`` is spread evenly over that
interval and split at every window boundary (hour, local day, shift, demand window), so a
window's total does not depend on where the samples happen to fall.

Idle (standby) energy is energy consumed while the bound machine is not running: the
state seen at ``a`` holds for the interval (zero-order hold), for at most ``max_gap_s``;
energy while the state is unknown is reported separately, never as idle or productive.

The machine's batches may be processed behind the meter's (another asset, another
subscription), so a meter reading waits until the machine's state at the start of its
interval is known. The machine is taken as silent only when the meter is ``max_gap_s`` of
sample time ahead *and* the reading has waited ``max_gap_s`` of arrival time (``now``, a
monotonic clock of the caller): live, the two are the same; in a burst (a backlog after a
reconnect, a replay, a loaded host) minutes of sample time arrive within milliseconds and
sample time alone would give up on a machine whose batches are merely queued.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from kit_oee.calc import CounterTracker
from kit_oee.shifts import ShiftCalendar, ShiftResolver

#: Demand windows roll first, so a closing hour/day/shift already holds its last demand peak.
KINDS = ("demand", "hour", "day", "shift")

MAX_WAITING = 2000
"""Most meter readings held for the machine's state (bounds memory and the saved state)."""


@dataclass
class EnergyParams:
    """What the engine needs from the component config (energies in kWh, power in kW)."""

    calendar: ShiftCalendar = field(default_factory=ShiftCalendar)
    counter_max_kwh: float | None = None
    """Reading at which the meter wraps to 0 (e.g. 100000 for a 5-digit kWh register)."""
    count_max: float | None = None
    demand_window_s: float = 900.0
    max_gap_s: float = 300.0
    publish_interval_s: float = 60.0
    baseline_start: float | None = None
    baseline_end: float | None = None
    baseline_kwh_per_hour: float | None = None
    baseline_kwh_per_part: float | None = None
    baseline_basis: str = "time"
    max_window_closes: int = 48
    """Most window boundaries one reading may spread energy over (48 demand windows = 12 h);
    energy of a longer gap is counted as unattributed and the windows jump (one Skip)."""


@dataclass
class Window:
    """Running totals of one hour, day, shift or demand window."""

    kind: str
    label: str | None
    start: float
    end: float
    kwh: float = 0.0
    idle_kwh: float = 0.0
    unknown_kwh: float = 0.0
    parts: float = 0.0
    covered_s: float = 0.0
    peak_kw: float | None = None

    def has_data(self) -> bool:
        """True if anything was accounted in it."""
        return self.covered_s > 0 or self.parts > 0


@dataclass
class Skip:
    """A gap the windows jumped over; its energy is not attributed to any window."""

    start: float
    end: float
    kwh: float


@dataclass
class EnergyReport:
    """Figures of one window at time ``ts``; ``final`` once the window has closed."""

    window: str
    kind: str
    start: float
    end: float
    ts: float
    final: bool
    kwh: float
    idle_kwh: float | None
    unknown_state_kwh: float | None
    """Energy while the machine state was unknown; None without a state binding (not applicable)."""
    parts: float | None
    kwh_per_part: float | None
    idle_share: float | None
    demand_kw: float | None
    """Average power over the window (demand windows only)."""
    peak_demand_kw: float | None
    """Highest closed demand window inside this window (hour, day, shift)."""
    expected_kwh: float | None
    savings_kwh: float | None
    covered_s: float


class EnergyEngine:
    """Stateful, incremental energy accounting for one meter (see module docstring)."""

    def __init__(
        self,
        params: EnergyParams,
        *,
        has_state: bool,
        has_count: bool,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.p = params
        self.has_state = has_state
        self.has_count = has_count
        self.resolver = ShiftResolver(params.calendar)
        self.tz = self.resolver.tz
        self.meter = CounterTracker(self._meter_max(params))
        self.parts = CounterTracker(params.count_max)
        self.last_ts: float | None = None
        self.last_power: tuple[float, float] | None = None
        self.states: list[list[Any]] = []  # [since, running, last seen], oldest first
        self.queue: deque[list[Any]] = deque()  # meter readings waiting for the machine state
        self.waiting_since: float | None = None  # arrival time the queue began waiting (not saved)
        self.wins: dict[str, Window] = {}
        self.pending: dict[str, list[tuple[float, float]]] = {}
        self.next_publish: float | None = None
        self.base = [0.0, 0.0, 0.0]  # baseline kWh, covered seconds, parts
        self.gap_s = 0.0
        self.samples = 0
        self.unattributed_kwh = 0.0
        if state:
            self._restore(state)

    @staticmethod
    def _meter_max(p: EnergyParams) -> float | None:
        # counter_max_kwh is the wrap value (the reading that shows as 0 again); the tracker
        # wants the largest value shown, one resolution step less — for a real-valued meter
        # "wrap value − 1" gives the same increment arithmetic ((max + 1) − last + value).
        return p.counter_max_kwh - 1 if p.counter_max_kwh is not None else None

    # -- inputs ----------------------------------------------------------------------------
    def feed_energy(
        self, ts: float, kwh: float, now: float | None = None
    ) -> list[EnergyReport | Skip]:
        """A cumulative meter reading (kWh) at ``ts``, arrived at ``now``; returns reports now due.

        ``now`` is the caller's monotonic clock (seconds); None: readings arrive live, sample
        time stands in for arrival time.
        """
        self.queue.append([ts, "energy", kwh])
        return self._drain(now)

    def feed_power(
        self, ts: float, kw: float, now: float | None = None
    ) -> list[EnergyReport | Skip]:
        """An active-power reading (kW) at ``ts``, integrated with the trapezoidal rule."""
        self.queue.append([ts, "power", kw])
        return self._drain(now)

    def _drain(self, now: float | None) -> list[EnergyReport | Skip]:
        # Meter readings wait until the machine's state at the start of their interval is
        # known: the machine's batches come on another subscription and may lag behind.
        out: list[EnergyReport | Skip] = []
        q = self.queue
        while q and self._state_known(now):
            ts, kind, value = q.popleft()
            if kind == "energy":
                self._apply_energy(ts, value, out)
            else:
                self._apply_power(ts, value, out)
        if not q:  # nothing waits any more: the next wait starts its own arrival clock
            self.waiting_since = None
        return out

    def _state_known(self, now: float | None) -> bool:
        start = self.last_ts
        if not self.has_state or start is None:
            return True
        if self.states and self.states[-1][2] >= start:
            self.waiting_since = None
            return True
        if now is not None and self.waiting_since is None:
            self.waiting_since = now
        if self.queue[-1][0] - start <= self.p.max_gap_s:
            return False
        # The meter is max_gap_s of sample time ahead. The machine is silent only if the
        # readings have also waited max_gap_s of arrival time (else its batches are just
        # queued behind a burst of the meter's); then go on with what is known (its state
        # counts as unknown, never guessed).
        if self.waiting_since is None or len(self.queue) > MAX_WAITING:
            return True
        return now is not None and now - self.waiting_since > self.p.max_gap_s

    def _apply_energy(self, ts: float, kwh: float, out: list[EnergyReport | Skip]) -> None:
        delta = self.meter.update(kwh)
        # A flat counter is a measurement too (machine off, static device): zero kWh is spread
        # so the windows are covered and their KPIs are due and published, 0 kWh included.
        if self.last_ts is not None and ts > self.last_ts:
            self._spread(self.last_ts, ts, delta, out)
        self._tick(ts, out)

    def _apply_power(self, ts: float, kw: float, out: list[EnergyReport | Skip]) -> None:
        prev = self.last_power
        self.last_power = (ts, kw)
        if prev is not None and ts > prev[0]:
            dt = ts - prev[0]
            if dt <= self.p.max_gap_s:
                self._spread(prev[0], ts, (prev[1] + kw) / 2 * dt / 3600.0, out)
            else:
                self.gap_s += dt  # no honest way to bridge it: reported, not guessed
        self._tick(ts, out)

    def feed_running(
        self, ts: float, running: bool, now: float | None = None
    ) -> list[EnergyReport | Skip]:
        """Machine running (True) or not (False), seen at ``ts``, arrived at ``now``; returns reports due.

        Kept as a short history of changes, because the machine's batches may be processed
        ahead of the meter's (separate subscriptions): energy of an interval is attributed
        to the state the machine was in at the interval's start.
        """
        hist = self.states
        if hist and ts < hist[-1][2]:
            return []  # older than what we know: cannot rewrite the past
        if hist and hist[-1][1] == running:
            hist[-1][2] = ts
        else:
            hist.append([ts, running, ts])
            # Entries the meter has moved past are not needed (except the one in force).
            while len(hist) > 2 and self.last_ts is not None and hist[1][0] <= self.last_ts:
                hist.pop(0)
            del hist[:-256]
        return self._drain(now)

    def feed_count(self, ts: float, count: float) -> None:
        """A cumulative good-parts counter reading at ``ts``."""
        delta = self.parts.update(count)
        if delta:
            for kind in KINDS:
                w = self.wins.get(kind)
                if w is None or ts >= w.end:
                    # Parts counted after a boundary the meter has not reached yet belong to
                    # the next window: held until that window opens.
                    self.pending.setdefault(kind, []).append((ts, delta))
                elif w is not None and w.label is not None:
                    w.parts += delta
            if self._in_baseline(ts):
                self.base[2] += delta

    # -- accounting ------------------------------------------------------------------------
    def _tick(self, ts: float, out: list[EnergyReport | Skip]) -> list[EnergyReport | Skip]:
        """Advance windows to ``ts`` and add periodic reports to ``out``."""
        self.samples += 1
        if self.last_ts is None or ts > self.last_ts:
            self.last_ts = ts
            self._roll(ts, out)
        if self.next_publish is None:
            self.next_publish = self._next_publish(ts)
        elif ts >= self.next_publish:
            self.next_publish = self._next_publish(ts)
            out.extend(self.current_reports(ts))
        return out

    def _next_publish(self, ts: float) -> float:
        return (ts // self.p.publish_interval_s + 1) * self.p.publish_interval_s

    def _state_at(self, t: float) -> bool | None:
        """The machine state at ``t``: the value whose period contains it, if seen recently enough."""
        if not self.has_state:
            return None
        for since, value, seen in reversed(self.states):
            if since <= t:
                return value if t - seen <= self.p.max_gap_s else None
        return None

    def _in_baseline(self, t: float) -> bool:
        s, e = self.p.baseline_start, self.p.baseline_end
        return s is not None and e is not None and s <= t < e

    def _bounds(self, kind: str, t: float) -> tuple[str | None, float, float]:
        if kind == "hour":
            s = math.floor(t / 3600.0) * 3600.0
            return (
                f"hour:{datetime.fromtimestamp(s, self.tz).strftime('%Y-%m-%dT%H')}",
                s,
                s + 3600.0,
            )
        if kind == "demand":
            w = self.p.demand_window_s
            s = math.floor(t / w) * w
            return (
                f"demand:{datetime.fromtimestamp(s, self.tz).strftime('%Y-%m-%dT%H:%M')}",
                s,
                s + w,
            )
        if kind == "day":
            d = datetime.fromtimestamp(t, self.tz).date()
            s = datetime.combine(d, datetime.min.time(), self.tz).timestamp()
            e = datetime.combine(d + timedelta(days=1), datetime.min.time(), self.tz).timestamp()
            return f"day:{d.isoformat()}", s, e
        inst = self.resolver.shift_at(t)
        if inst is None:
            return None, t, self.resolver.boundary_after(t)
        return f"shift:{inst.id}", inst.start, inst.end

    def _roll(self, t: float, out: list[EnergyReport | Skip]) -> None:
        """Close every window that ``t`` has left and open the one it is in."""
        for kind in KINDS:
            w = self.wins.get(kind)
            if w is not None and w.start <= t < w.end:
                continue
            if w is not None and w.label is not None and w.has_data():
                out.append(self._report(w, w.end, final=True))
                if kind == "demand":
                    self._record_peak(w)
            label, s, e = self._bounds(kind, t)
            nw = self.wins[kind] = Window(kind, label, s, e)
            held = self.pending.get(kind)
            if held:
                if label is not None:
                    nw.parts += sum(d for ts, d in held if s <= ts < e)
                self.pending[kind] = [(ts, d) for ts, d in held if ts >= e]

    def _record_peak(self, dw: Window) -> None:
        kw = dw.kwh / (self.p.demand_window_s / 3600.0)
        for kind in ("hour", "day", "shift"):
            w = self.wins.get(kind)
            # The demand window belongs to the window that contained its start.
            if w is not None and w.label is not None and w.start <= dw.start < w.end:
                w.peak_kw = kw if w.peak_kw is None else max(w.peak_kw, kw)

    def _spread(self, a0: float, b0: float, kwh: float, out: list[EnergyReport | Skip]) -> None:
        running = self._state_at(a0)
        span = b0 - a0
        a = a0
        steps = 0
        while a < b0:
            if steps >= self.p.max_window_closes:
                # Bounded work and output per reading (a gateway clock jump spread energy over
                # 350,000 demand windows): the rest of the gap is one Skip, not window by window.
                rest = kwh * (b0 - a) / span
                self.unattributed_kwh += rest
                out.append(Skip(a, b0, rest))
                self._roll(b0, out)
                return
            steps += 1
            self._roll(a, out)
            b = min(b0, *(w.end for w in self.wins.values()))
            seg = b - a
            e = kwh * seg / span
            for w in self.wins.values():
                if w.label is None:
                    continue
                w.kwh += e
                w.covered_s += seg
                if running is None:
                    w.unknown_kwh += e
                elif not running:
                    w.idle_kwh += e
            if self._in_baseline(a):
                self.base[0] += e
                self.base[1] += seg
            a = b

    # -- reports ---------------------------------------------------------------------------
    def _baseline_rates(self, at: float) -> tuple[float | None, float | None]:
        p = self.p
        per_h, per_part = p.baseline_kwh_per_hour, p.baseline_kwh_per_part
        if p.baseline_end is not None and at >= p.baseline_end:
            kwh, secs, parts = self.base
            if per_h is None and secs > 0:
                per_h = kwh / (secs / 3600.0)
            if per_part is None and parts > 0:
                per_part = kwh / parts
        return per_h, per_part

    def _report(self, w: Window, ts: float, final: bool) -> EnergyReport:
        per_h, per_part = self._baseline_rates(w.start)
        expected = None
        if self.p.baseline_basis == "parts":
            if per_part is not None and self.has_count:
                expected = per_part * w.parts
        elif per_h is not None:
            expected = per_h * w.covered_s / 3600.0
        known = w.kwh - w.unknown_kwh
        demand = w.kwh / (self.p.demand_window_s / 3600.0) if w.kind == "demand" else None
        return EnergyReport(
            window=w.label or "",
            kind=w.kind,
            start=w.start,
            end=w.end,
            ts=ts,
            final=final,
            kwh=w.kwh,
            idle_kwh=w.idle_kwh if self.has_state else None,
            unknown_state_kwh=w.unknown_kwh if self.has_state else None,
            parts=w.parts if self.has_count else None,
            kwh_per_part=(w.kwh / w.parts) if self.has_count and w.parts > 0 else None,
            idle_share=(w.idle_kwh / known) if self.has_state and known > 0 else None,
            demand_kw=demand,
            peak_demand_kw=w.peak_kw,
            expected_kwh=expected,
            savings_kwh=None if expected is None else expected - w.kwh,
            covered_s=w.covered_s,
        )

    def current_reports(self, ts: float) -> list[EnergyReport]:
        """Partial figures of the open hour, shift and day windows at ``ts``."""
        return [
            self._report(w, ts, final=False)
            for k, w in self.wins.items()
            if k != "demand" and w.label is not None and w.has_data()
        ]

    # -- persistence -------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-able state; ``EnergyEngine(..., state=...)`` continues exactly from it."""
        return {
            "v": 1,
            "meter": self.meter.to_state(),
            "parts": self.parts.to_state(),
            "last_ts": self.last_ts,
            "last_power": self.last_power,
            "states": self.states,
            "wins": {k: w.__dict__ for k, w in self.wins.items()},
            "pending": self.pending,
            "queue": list(self.queue),
            "next_publish": self.next_publish,
            "base": self.base,
            "gap_s": self.gap_s,
            "samples": self.samples,
            "unattributed_kwh": self.unattributed_kwh,
        }

    def _restore(self, s: dict[str, Any]) -> None:
        self.meter = CounterTracker.from_state(self._meter_max(self.p), s["meter"])
        self.parts = CounterTracker.from_state(self.p.count_max, s["parts"])
        self.last_ts = s["last_ts"]
        self.last_power = tuple(s["last_power"]) if s["last_power"] else None
        self.states = [list(x) for x in s["states"]]
        self.queue = deque(list(x) for x in s.get("queue", []))
        self.wins = {k: Window(**w) for k, w in s["wins"].items()}
        self.pending = {k: [tuple(x) for x in v] for k, v in s.get("pending", {}).items()}
        self.next_publish = s["next_publish"]
        self.base = list(s["base"])
        self.gap_s = s["gap_s"]
        self.samples = s.get("samples", 0)
        self.unattributed_kwh = s.get("unattributed_kwh", 0.0)
