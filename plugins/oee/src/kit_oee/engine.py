"""Incremental OEE engine: feed it timestamped states and counter readings, get reports.

Pure (no bus, no clock): time comes only from the samples, so a replay gives the same
result, and tests drive it with explicit timestamps. Cost per sample is constant: the
shift lookup is cached, the rolling window is a ring of fixed-size buckets with running
sums, and nothing iterates over history.

Time accounting: the state seen at a sample holds until the next sample (zero-order hold),
but at most ``max_gap_s``; beyond that the time is "no data" (planned time passes, the
machine is not credited with running). Each interval is split at shift boundaries.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from kit_oee.calc import CounterTracker, Factors, oee_factors, reliability
from kit_oee.shifts import ShiftCalendar, ShiftInstance, ShiftResolver

State = Literal["run", "idle", "down", "setup", "planned_stop", "unknown"]
RUN, IDLE, DOWN, SETUP, PLANNED, UNKNOWN = "run", "idle", "down", "setup", "planned_stop", "unknown"

#: Additive totals of a window; kept as a flat list so adding and subtracting is cheap.
FIELDS = (
    "pot_s",
    "pbt_s",
    "apt_s",
    "setup_s",
    "idle_s",
    "down_s",
    "no_data_s",
    "unplanned_run_s",
    "produced_in",
    "good_in",
    "reject_in",
    "failures",
    "failure_s",
    "operating_s",
    "stops",
    "planned_stop_s",
)
FIELD_INDEX = {name: i for i, name in enumerate(FIELDS)}
_STATE_FIELD = {
    RUN: FIELD_INDEX["apt_s"],
    SETUP: FIELD_INDEX["setup_s"],
    IDLE: FIELD_INDEX["idle_s"],
    DOWN: FIELD_INDEX["down_s"],
    None: FIELD_INDEX["no_data_s"],
    UNKNOWN: FIELD_INDEX["no_data_s"],
    PLANNED: FIELD_INDEX["planned_stop_s"],
}
#: States that end a stop: production resumed, a planned stop began, or we no longer know.
_ENDS_STOP = (RUN, PLANNED, UNKNOWN)
CountMode = Literal["produced_reject", "produced_good", "good_reject", "produced", "good"]
#: A counter that dropped is read as restarted from 0 only if it could have counted to its new
#: value since the last reading at this many times the ideal rate (+1 part). Twice the ideal
#: rate leaves room for an ``ideal_cycle_s`` set somewhat too long; a value above it means the
#: counter went on from a lower value (parts re-booked), not from 0.
RESET_RATE_FACTOR = 2.0


def _zero() -> list[float]:
    return [0.0] * len(FIELDS)


@dataclass
class EngineParams:
    """What the engine needs from the component config."""

    pru_s: float
    count_mode: CountMode
    calendar: ShiftCalendar = field(default_factory=ShiftCalendar)
    counter_max: float | None = None
    rolling_window_s: float = 3600.0
    rolling_bucket_s: float = 60.0
    publish_interval_s: float = 60.0
    max_gap_s: float = 60.0
    min_downtime_s: float = 0.0
    max_downtimes: int = 500
    max_window_closes: int = 12
    """Most window boundaries one sample may cross; beyond, the gap is skipped as one summary
    (a gateway clock jump or a long outage must not publish thousands of empty shifts)."""


@dataclass
class Report:
    """Figures of one window (a shift, or the rolling window) at time ``ts``."""

    window: str
    start: float
    end: float
    ts: float
    final: bool
    totals: dict[str, float]
    produced: float
    good: float
    reject: float
    factors: Factors
    mtbf_s: float | None
    mttr_s: float | None


@dataclass
class Downtime:
    """A stop during planned time; ``reason`` may be assigned afterwards."""

    id: str
    start: float
    state: str
    end: float | None = None
    planned_s: float = 0.0
    reason: str | None = None
    who: str | None = None
    assigned_at: float | None = None

    @property
    def duration_s(self) -> float | None:
        """Seconds from start to end, None while it lasts."""
        return None if self.end is None else self.end - self.start


@dataclass
class Skip:
    """A gap jumped over without closing each window in it (see ``max_window_closes``)."""

    start: float
    end: float


class OeeEngine:
    """Stateful, incremental OEE for one asset (see module docstring)."""

    def __init__(self, params: EngineParams, state: dict[str, Any] | None = None) -> None:
        self.p = params
        self.resolver = ShiftResolver(params.calendar)
        self.nbuckets = max(1, int(round(params.rolling_window_s / params.rolling_bucket_s)))
        self.last_ts: float | None = None
        self.state: str | None = None
        self.state_ts: float | None = None
        self.counters = {
            k: CounterTracker(params.counter_max) for k in ("produced", "good", "reject")
        }
        self.shift_id: str | None = None
        self.shift_totals = _zero()
        self.buckets: deque[tuple[int, list[float]]] = deque()
        self.rolling = _zero()
        self.next_publish: float | None = None
        self.open_downtime: Downtime | None = None
        self.downtimes: deque[Downtime] = deque(maxlen=params.max_downtimes)
        self.downtime_seq = 0
        self.samples = 0
        self.skipped_s = 0.0
        # Counters whose first increment is not counted (see _count); decided per counter at
        # its first reading, only in an engine that starts without saved state.
        self._skip_first: dict[str, bool | None] = {k: None for k in ("produced", "good", "reject")}
        # Seconds in state run since this engine started, and its value at each counter's
        # first reading (only a fresh engine's first increments need it; not saved).
        self._run_s = 0.0
        self._run_at_first: dict[str, float] = {}
        if state:
            self._skip_first = {}
            self._restore(state)

    # -- feeding ------------------------------------------------------------------------
    def feed(
        self,
        ts: float,
        state: str | None = None,
        produced: float | None = None,
        good: float | None = None,
        reject: float | None = None,
    ) -> list[Report | Downtime | Skip]:
        """Process one sample at epoch seconds ``ts``. Arguments left ``None`` were not in it.

        Returns reports due at this sample (closed shifts, periodic updates) and downtimes
        that ended at it, in time order.
        """
        out: list[Report | Downtime | Skip] = []
        self.samples += 1
        if self.last_ts is None:
            self.last_ts = ts
            self.next_publish = self._next_publish(ts)
        elif ts > self.last_ts:
            self._advance(self.last_ts, ts, out)
            self.last_ts = ts
        # An older sample cannot rewrite accounted time; its counters still count below.
        now = max(ts, self.last_ts)
        if state is not None:
            self._set_state(state, now, out)
        if produced is not None or good is not None or reject is not None:
            self._count(now, produced, good, reject)
        if self.next_publish is not None and now >= self.next_publish:
            self.next_publish = self._next_publish(now)
            out.extend(self.current_reports(now))
        return out

    def _next_publish(self, ts: float) -> float:
        iv = self.p.publish_interval_s
        return (ts // iv + 1) * iv

    def _set_state(self, state: str, ts: float, out: list[Report | Downtime | Skip]) -> None:
        prev = self.state if self._state_valid(ts) else None
        self.state, self.state_ts = state, ts
        if state == prev:
            return
        inst = self.resolver.shift_at(ts)
        if state == DOWN:
            # Failure events count where they begin (MTBF/MTTR of that shift and window).
            self._add(ts, inst, FIELD_INDEX["failures"], 1.0)
        if state in _ENDS_STOP:
            self._close_downtime(ts, out)
        elif self.open_downtime is None:
            self.downtime_seq += 1
            self.open_downtime = Downtime(
                id=f"{int(ts)}-{self.downtime_seq}", start=ts, state=state
            )
            self._add(ts, inst, FIELD_INDEX["stops"], 1.0)

    def _close_downtime(self, ts: float, out: list[Report | Downtime | Skip]) -> None:
        d = self.open_downtime
        if d is None:
            return
        self.open_downtime = None
        d.end = ts
        # A stop entirely outside planned time (machine off during a break) is no loss.
        if d.planned_s > 0 and (d.end - d.start) >= self.p.min_downtime_s:
            self.downtimes.append(d)
            out.append(d)

    def _state_valid(self, t: float) -> bool:
        return self.state_ts is not None and t - self.state_ts <= self.p.max_gap_s

    def _fresh_max(self, c: CounterTracker, ts: float) -> float | None:
        """Most parts a counter restarted from 0 after its last reading can show at ``ts``."""
        if c.last_ts is None:
            return None
        return max(0.0, ts - c.last_ts) / self.p.pru_s * RESET_RATE_FACTOR + 1.0

    def _count(
        self, ts: float, produced: float | None, good: float | None, reject: float | None
    ) -> None:
        inst = self.resolver.shift_at(ts)
        for key, value in (("produced", produced), ("good", good), ("reject", reject)):
            if value is not None:
                skip = self._skip_first.get(key)
                c = self.counters[key]
                delta = c.update(float(value), self._fresh_max(c, ts))
                c.last_ts = ts
                if skip is None and key in self._skip_first:
                    # First reading of a fresh engine. A counter already above zero was
                    # counting before this engine could see it: the part that completes next
                    # was mostly made before counting began, and counting it over the short
                    # time seen puts effectiveness above 100 % (the demo's first minute).
                    # Counting starts at that part's completion instead — one part, in the
                    # conservative direction. A counter at zero was reset at or before the
                    # start, so its first part is counted.
                    self._skip_first[key] = float(value) != 0
                    self._run_at_first[key] = self._run_s
                elif skip and delta > 0:
                    self._skip_first[key] = False
                    # Only a part completed within one ideal cycle of run time was made partly
                    # unseen. Later (a reject counter's first reject minutes in), the part was
                    # made in time the engine saw: counting it cannot exceed 100 %.
                    if self._run_s - self._run_at_first.get(key, 0.0) < self.p.pru_s:
                        continue
                if delta:
                    self._add(ts, inst, FIELD_INDEX[f"{key}_in"], delta)

    # -- time accounting -------------------------------------------------------------------
    def _advance(self, t0: float, t1: float, out: list[Report | Downtime | Skip]) -> None:
        # Split [t0, t1) where the held state expires and at shift boundaries.
        expiry = (self.state_ts + self.p.max_gap_s) if self.state_ts is not None else t0
        a = t0
        crossed = 0
        while a < t1:
            if crossed >= self.p.max_window_closes:
                # Bounded work and output per sample: jump to the window ``t1`` is in. The time
                # in between is no data of windows nobody sees; reported once as a Skip.
                self._close_downtime(a, out)
                inst1 = self.resolver.shift_at(t1)
                to = max(a, inst1.start if inst1 is not None else t1)
                if to > a:
                    out.append(Skip(a, to))
                    self.skipped_s += to - a
                    self.shift_id, self.shift_totals = None, _zero()
                    a = to
                    if a >= t1:
                        break
                crossed = 0
            crossed += 1
            inst = self.resolver.shift_at(a)
            b = min(t1, self.resolver.boundary_after(a))
            state = self.state if a < expiry else None
            if state is not None and expiry < b:
                b = expiry
            if state is None and self.open_downtime is not None:
                self._close_downtime(a, out)  # no data: we no longer know it is stopped
            self._account(a, b, inst, state)
            if inst is not None and b >= inst.end:
                out.append(self._shift_report(inst, inst.end, final=True))
                self.shift_id, self.shift_totals = None, _zero()
            a = b

    def _account(self, a: float, b: float, inst: ShiftInstance | None, state: str | None) -> None:
        span = b - a
        pot = inst.pot_s(a, b) if inst else 0.0
        pbt = inst.pbt_s(a, b) if inst else 0.0
        vec = _zero()
        if state == PLANNED:
            # A stop the machine signals as planned is planned downtime: out of PBT.
            vec[FIELD_INDEX["planned_stop_s"]] = pbt
            pbt = 0.0
        else:
            vec[_STATE_FIELD[state]] = pbt
        vec[0], vec[1] = pot, pbt
        if state == RUN:
            vec[FIELD_INDEX["unplanned_run_s"]] = span - pbt
            self._run_s += span
        if state in (RUN, SETUP):
            vec[FIELD_INDEX["operating_s"]] = span
        elif state == DOWN:
            vec[FIELD_INDEX["failure_s"]] = span
        if self.open_downtime is not None and state not in (RUN, PLANNED, UNKNOWN, None):
            self.open_downtime.planned_s += pbt
        self._add_vec(a, inst, vec)

    def _shift_vec(self, inst: ShiftInstance | None) -> list[float] | None:
        if inst is None:
            return None
        if self.shift_id != inst.id:
            self.shift_id, self.shift_totals = inst.id, _zero()
        return self.shift_totals

    def _bucket(self, t: float) -> list[float]:
        key = int(t // self.p.rolling_bucket_s)
        b = self.buckets
        if not b or key > b[-1][0]:
            b.append((key, _zero()))
            while b and b[0][0] <= key - self.nbuckets:  # expire: subtract from the running sum
                _, old = b.popleft()
                r = self.rolling
                for i, v in enumerate(old):
                    if v:
                        r[i] -= v
        return b[-1][1]

    def _add(self, t: float, inst: ShiftInstance | None, idx: int, value: float) -> None:
        sv = self._shift_vec(inst)
        if sv is not None:
            sv[idx] += value
        self._bucket(t)[idx] += value
        self.rolling[idx] += value

    def _add_vec(self, t: float, inst: ShiftInstance | None, vec: list[float]) -> None:
        sv = self._shift_vec(inst)
        bk = self._bucket(t)
        r = self.rolling
        for i, v in enumerate(vec):
            if v:
                if sv is not None:
                    sv[i] += v
                bk[i] += v
                r[i] += v

    # -- reports ---------------------------------------------------------------------------
    def _counts(self, t: list[float]) -> tuple[float, float, float]:
        # A correction (negative increment) of a part counted in an earlier window must not
        # make this one negative.
        p, g, r = (
            max(0.0, t[FIELD_INDEX["produced_in"]]),
            max(0.0, t[FIELD_INDEX["good_in"]]),
            max(0.0, t[FIELD_INDEX["reject_in"]]),
        )
        mode = self.p.count_mode
        if mode == "produced_reject":
            return p, p - r, r
        if mode == "produced_good":
            return p, g, p - g
        if mode == "good_reject":
            return g + r, g, r
        if mode == "produced":
            return p, p, 0.0
        return g, g, 0.0

    def _report(
        self, window: str, start: float, end: float, ts: float, t: list[float], final: bool
    ) -> Report:
        produced, good, reject = self._counts(t)
        f = oee_factors(
            t[FIELD_INDEX["pbt_s"]], t[FIELD_INDEX["apt_s"]], self.p.pru_s, produced, good
        )
        mtbf, mttr = reliability(
            t[FIELD_INDEX["operating_s"]],
            t[FIELD_INDEX["failure_s"]],
            int(round(t[FIELD_INDEX["failures"]])),
        )
        totals = {name: round(v, 6) for name, v in zip(FIELDS, t)}
        return Report(window, start, end, ts, final, totals, produced, good, reject, f, mtbf, mttr)

    def _shift_report(self, inst: ShiftInstance, ts: float, final: bool) -> Report:
        t = self.shift_totals if self.shift_id == inst.id else _zero()
        return self._report(f"shift:{inst.id}", inst.start, inst.end, ts, list(t), final)

    def current_reports(self, ts: float) -> list[Report]:
        """Reports of the current shift (if any) and of the rolling window at ``ts``."""
        out = []
        inst = self.resolver.shift_at(ts)
        if inst is not None:
            out.append(self._shift_report(inst, ts, final=False))
        out.append(
            self._report(
                "rolling",
                ts - self.p.rolling_window_s,
                ts,
                ts,
                [max(0.0, v) for v in self.rolling],
                final=False,
            )
        )
        return out

    # -- reasons ---------------------------------------------------------------------------
    def assign_reason(self, downtime_id: str, reason: str, who: str, at: float) -> Downtime:
        """Attach a reason code to a recorded (or the ongoing) downtime.

        Raises:
            KeyError: no downtime with that id is kept.
        """
        for d in [*self.downtimes, *([self.open_downtime] if self.open_downtime else [])]:
            if d.id == downtime_id:
                d.reason, d.who, d.assigned_at = reason, who, at
                return d
        raise KeyError(downtime_id)

    def downtime_list(self) -> list[Downtime]:
        """Recorded downtimes (oldest first), plus the ongoing one at the end."""
        return [*self.downtimes, *([self.open_downtime] if self.open_downtime else [])]

    # -- persistence -------------------------------------------------------------------------
    def to_state(self) -> dict[str, Any]:
        """JSON-able state; :class:`OeeEngine(params, state)` continues exactly from it."""
        return {
            "v": 1,
            "last_ts": self.last_ts,
            "state": self.state,
            "state_ts": self.state_ts,
            "counters": {k: c.to_state() for k, c in self.counters.items()},
            "shift_id": self.shift_id,
            "shift_totals": self.shift_totals,
            "buckets": [[k, v] for k, v in self.buckets],
            "rolling": self.rolling,
            "next_publish": self.next_publish,
            "open_downtime": self.open_downtime.__dict__ if self.open_downtime else None,
            "downtimes": [d.__dict__ for d in self.downtimes],
            "downtime_seq": self.downtime_seq,
            "samples": self.samples,
            "skipped_s": self.skipped_s,
        }

    def _restore(self, s: dict[str, Any]) -> None:
        self.last_ts, self.state, self.state_ts = s["last_ts"], s["state"], s["state_ts"]
        self.counters = {
            k: CounterTracker.from_state(self.p.counter_max, s["counters"].get(k))
            for k in ("produced", "good", "reject")
        }
        self.shift_id, self.shift_totals = s["shift_id"], list(s["shift_totals"])
        self.buckets = deque((int(k), list(v)) for k, v in s["buckets"])
        self.rolling = list(s["rolling"])
        self.next_publish = s["next_publish"]
        self.open_downtime = Downtime(**s["open_downtime"]) if s["open_downtime"] else None
        self.downtimes = deque((Downtime(**d) for d in s["downtimes"]), maxlen=self.p.max_downtimes)
        self.downtime_seq = s["downtime_seq"]
        self.samples = s.get("samples", 0)
        self.skipped_s = s.get("skipped_s", 0.0)
