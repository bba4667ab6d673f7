"""The alarm engine: evaluates rules on readings, applies delays, drives the state machines.

Pure and deterministic: time is whatever timestamp the caller passes (batch timestamps
for samples, the runtime clock for the periodic :meth:`AlarmEngine.advance` that expires
shelving and detects stale data when nothing arrives). Cost per reading is constant: each
bound input maps to its rules through a dict built once.

Inputs are named ``<rule id>`` (the watched point), ``<rule id>.setpoint`` (a bound
setpoint of a deviation rule) and ``<rule id>.suppress`` (the ``suppress_when`` point).
Output is a list of :class:`Notice` (state transitions and flood changes) that the
component publishes as ``alarm`` events; :meth:`drain` hands them over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kit.bindings import Binding
from kit.payloads import Quality
from kit_alarms.flood import FloodChange, FloodDetector
from kit_alarms.rules import BadQualityRule, DeviationRule, RateRule, StaleRule, ThresholdRule
from kit_alarms.states import AlarmStatus, State, Transition

_THRESHOLD, _RATE, _DEVIATION, _STALE, _BAD = range(5)
_KIND: dict[type[Any], int] = {
    ThresholdRule: _THRESHOLD,
    RateRule: _RATE,
    DeviationRule: _DEVIATION,
    StaleRule: _STALE,
    BadQualityRule: _BAD,
}


@dataclass
class RuleRuntime:
    """Evaluation state of one rule (between samples)."""

    cond: bool = False
    """The latest raw condition (before delays)."""
    pending_since: float | None = None
    """When the raw condition started to differ from the alarm's (delay running)."""
    prev_value: float | None = None
    prev_ts: float | None = None
    last_good_ts: float | None = None
    setpoint: float | None = None
    value: float | None = None


@dataclass
class Notice:
    """Something to publish: an alarm transition (with its rule) or a flood change."""

    transition: Transition | None = None
    flood: FloodChange | None = None
    rule: Any = None


@dataclass
class AlarmEngine:
    """All alarms of one component (see module docstring)."""

    component: str
    rules: list[Any]
    flood: FloodDetector = field(default_factory=FloodDetector)

    def __post_init__(self) -> None:
        ids = [r.rule_id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(
                f"duplicate alarm rule id(s) {', '.join(dupes)}: give each rule a unique id"
            )
        self.by_id = dict(zip(ids, self.rules))
        self.status: dict[str, AlarmStatus] = {}
        self.runtime: dict[str, RuleRuntime] = {}
        # Per-reading dispatch is a dict lookup: input name -> (rule id, rule, role, kind).
        self._route: dict[str, tuple[str, Any, str, int]] = {}
        for rid, r in self.by_id.items():
            self.status[rid] = AlarmStatus(id=self.alarm_id(rid), out_of_service=r.out_of_service)
            self.runtime[rid] = RuleRuntime()
            kind = _KIND[type(r)]
            self._route[rid] = (rid, r, "", kind)
            self._route[f"{rid}.setpoint"] = (rid, r, "setpoint", kind)
            self._route[f"{rid}.suppress"] = (rid, r, "suppress", kind)
        self._stale = [rid for rid, r in self.by_id.items() if isinstance(r, StaleRule)]
        self._pending: set[str] = set()
        self._shelved: set[str] = set()
        """Rules whose on/off delay is running (advance() must look at them)."""
        self.now: float | None = None
        self.started: float | None = None
        self.notices: list[Notice] = []

    def alarm_id(self, rule_id: str) -> str:
        """Public alarm id ``<component>/<rule id>``."""
        return f"{self.component}/{rule_id}"

    def bindings(self) -> dict[str, Binding]:
        """Every input the rules need, named as in the module docstring."""
        out: dict[str, Binding] = {}
        for r in self.rules:
            out[r.rule_id] = r.input
            if isinstance(r, DeviationRule) and isinstance(r.setpoint, Binding):
                out[f"{r.rule_id}.setpoint"] = r.setpoint
            if r.suppress_when is not None:
                out[f"{r.rule_id}.suppress"] = r.suppress_when
        return out

    # -- evaluation ---------------------------------------------------------------------
    def _emit(self, tr: Transition | None, rule: Any) -> None:
        if tr is None:
            return
        self.notices.append(Notice(transition=tr, rule=rule))
        if tr.to_state is State.unacknowledged and tr.from_state is not State.unacknowledged:
            fc = self.flood.record(tr.ts)
            if fc is not None:
                self.notices.append(Notice(flood=fc))

    def _settle(self, rid: str, rule: Any, rt: RuleRuntime, ts: float) -> None:
        st = self.status[rid]
        if rt.cond == st.active:
            if rt.pending_since is not None:
                rt.pending_since = None
                self._pending.discard(rid)
            return
        if rt.pending_since is None:
            rt.pending_since = ts
            self._pending.add(rid)
        delay = rule.on_delay_s if rt.cond else rule.off_delay_s
        if ts - rt.pending_since >= delay:
            rt.pending_since = None
            self._pending.discard(rid)
            self._emit(st.set_condition(rt.cond, ts, rt.value), rule)

    def on_reading(self, name: str, ts: float, value: float | None, quality: Quality) -> None:
        """One bound point arrived (value is None unless quality is good and numeric)."""
        if self.started is None:
            self.started = ts
        if self.now is None or ts > self.now:
            self.now = ts
        route = self._route.get(name)
        if route is None:
            return
        rid, rule, role, kind = route
        rt = self.runtime[rid]
        if role:
            if value is not None:
                if role == "setpoint":
                    rt.setpoint = value
                else:
                    self._emit(self.status[rid].set_suppressed(bool(value), ts), rule)
            return
        if kind == _BAD:
            rt.cond = quality is Quality.bad or (
                rule.include_uncertain and quality is Quality.uncertain
            )
            rt.value = value
        elif value is None:
            # A bad value says nothing about the process: keep the condition as it was.
            return
        else:
            rt.last_good_ts = ts
            rt.value = value
            if kind == _THRESHOLD:
                rt.cond = rule.condition(value, self.status[rid].active)
            elif kind == _RATE:
                # prev_value and prev_ts are set together (below).
                if rt.prev_ts is not None and rt.prev_value is not None and ts > rt.prev_ts:
                    rt.cond = rule.condition(
                        (value - rt.prev_value) / (ts - rt.prev_ts), self.status[rid].active
                    )
                rt.prev_value, rt.prev_ts = value, ts
            elif kind == _DEVIATION:
                sp = rule.setpoint if isinstance(rule.setpoint, (int, float)) else rt.setpoint
                if sp is None:
                    return
                rt.cond = rule.condition(value, float(sp), self.status[rid].active)
            else:  # stale: a good value is fresh data
                rt.cond = False
        if rt.cond != self.status[rid].active or rt.pending_since is not None:
            self._settle(rid, rule, rt, ts)

    def advance(self, now: float) -> None:
        """Time moved to ``now`` (a batch arrived or the periodic tick): stale data, running
        delays, shelving expiry, flood window. Only rules that need time are visited."""
        if self.started is None:
            self.started = now
        if self.now is not None and now < self.now:
            return  # never move backwards (a late tick after newer batches)
        self.now = now
        for rid in list(self._shelved):
            st = self.status[rid]
            if st.shelved_until is None or now >= st.shelved_until:
                self._shelved.discard(rid)
                self._emit(st.expire_shelve(now), self.by_id[rid])
        for rid in self._stale:
            rt = self.runtime[rid]
            since = rt.last_good_ts if rt.last_good_ts is not None else self.started
            rt.cond = now - since > self.by_id[rid].timeout_s
            self._settle(rid, self.by_id[rid], rt, now)
        for rid in list(self._pending):
            self._settle(rid, self.by_id[rid], self.runtime[rid], now)
        fc = self.flood.advance(now)
        if fc is not None:
            self.notices.append(Notice(flood=fc))

    # -- operator actions ------------------------------------------------------------------
    def _status_of(self, alarm_id: str) -> tuple[Any, AlarmStatus]:
        rule_id = alarm_id.split("/", 1)[1] if "/" in alarm_id else alarm_id
        if rule_id not in self.status:
            raise KeyError(alarm_id)
        return self.by_id[rule_id], self.status[rule_id]

    def ack(self, alarm_id: str, who: str, ts: float) -> Transition:
        """Acknowledge (raises KeyError / AlarmOperationError)."""
        rule, st = self._status_of(alarm_id)
        tr = st.ack(ts, who)
        self._emit(tr, rule)
        return tr

    def shelve(self, alarm_id: str, who: str, duration_s: float, ts: float) -> Transition:
        """Shelve for ``duration_s`` (raises KeyError / AlarmOperationError)."""
        rule, st = self._status_of(alarm_id)
        tr = st.shelve(ts, who, duration_s)
        self._shelved.add(rule.rule_id)
        self._emit(tr, rule)
        return tr

    def unshelve(self, alarm_id: str, who: str, ts: float) -> Transition:
        """Unshelve (raises KeyError / AlarmOperationError)."""
        rule, st = self._status_of(alarm_id)
        tr = st.unshelve(ts, who)
        self._emit(tr, rule)
        return tr

    def set_out_of_service(self, alarm_id: str, on: bool, who: str, ts: float) -> Transition | None:
        """Take an alarm out of service or put it back (raises KeyError)."""
        rule, st = self._status_of(alarm_id)
        tr = st.set_out_of_service(on, ts, who)
        self._emit(tr, rule)
        return tr

    def drain(self) -> list[Notice]:
        """Hand over (and forget) the notices produced so far."""
        out, self.notices = self.notices, []
        return out

    def listing(self, active_only: bool = False) -> list[dict[str, Any]]:
        """Current alarms as dicts (``active_only``: annunciated, or condition active)."""
        out = []
        for rule in self.rules:
            st = self.status[rule.rule_id]
            if active_only and st.state is State.normal and not st.active:
                continue
            d = st.to_dict()
            d.update(
                rule=rule.rule_id,
                type=rule.type,
                priority=rule.priority,
                message=rule.describe(),
                point=rule.input.point,
            )
            if rule.type in ("hihi", "hi", "lo", "lolo"):
                d["limit"] = getattr(rule, "limit", None)  # drawn on trend screens
            out.append(d)
        return out

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state of every alarm, rule runtime and the flood window."""
        return {
            "now": self.now,
            "started": self.started,
            "status": {k: v.to_dict() for k, v in self.status.items()},
            "runtime": {k: v.__dict__.copy() for k, v in self.runtime.items()},
            "flood": self.flood.to_dict(),
        }

    def restore(self, d: dict[str, Any] | None) -> None:
        """Restore :meth:`to_dict` output; rules that no longer exist are dropped, new
        rules start normal. ``out_of_service`` from the config wins over the saved flag only
        when the config sets it (a maintenance action is kept otherwise)."""
        if not d:
            return
        self.now, self.started = d.get("now"), d.get("started")
        for k, sd in d.get("status", {}).items():
            if k in self.status:
                st = AlarmStatus.from_dict(sd)
                st.id = self.alarm_id(k)
                st.out_of_service = st.out_of_service or self.by_id[k].out_of_service
                self.status[k] = st
        for k, rd in d.get("runtime", {}).items():
            if k in self.runtime:
                self.runtime[k] = RuleRuntime(
                    **{f: v for f, v in rd.items() if f in RuleRuntime.__dataclass_fields__}
                )
        self._pending = {k for k, rt in self.runtime.items() if rt.pending_since is not None}
        self._shelved = {k for k, st in self.status.items() if st.shelved_until is not None}
        self.flood.restore(d.get("flood"))
