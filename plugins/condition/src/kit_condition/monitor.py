"""Condition monitoring of a set of signals: baseline, robust z-score, EWMA, alarms, zones.

Pure and driven by sample timestamps. Per signal:

1. **Learning.** From its first good value after start (or after :meth:`relearn`), a signal
   learns for ``baseline_s`` seconds and at least ``min_samples`` values; then its
   :class:`~kit_condition.baseline.SignalModel` (median, MAD, robust σ) is stored and the
   model version goes up. During a re-learn the previous model keeps scoring, so the
   machine is never unwatched.
2. **Scoring.** ``z = (x − median)/σ_robust``; an EWMA of the value (``ewma_alpha``) is
   the trend, and ``drift_z = (EWMA − median)/σ_robust`` is the slow drift away from the
   baseline (published as a KPI). On re-learn, the baseline shift
   ``(new median − old median)/old σ`` is reported.
3. **Alarms with hysteresis.** Raise when ``|z| ≥ raise_z`` has held ``on_delay_s``;
   clear when ``|z| < clear_z`` has held ``off_delay_s``. Each alarm has an id; operator
   feedback (true/false alarm) is recorded on it.
4. **Vibration zones** (optional per signal): ISO 10816-1/20816-1 zones A–D.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from kit_condition.baseline import Learner, SignalModel
from kit_condition.iso20816 import zone


@dataclass
class Params:
    """Tuning of the monitor (the component config maps onto this)."""

    baseline_s: float = 3600.0
    min_samples: int = 30
    max_samples: int = 5000
    raise_z: float = 6.0
    clear_z: float = 4.0
    on_delay_s: float = 10.0
    off_delay_s: float = 0.0
    ewma_alpha: float = 0.05
    min_scale: float = 1e-9
    min_scale_rel: float = 0.01
    zones: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    """Signal → (A/B, B/C, C/D) vibration boundaries."""


@dataclass
class Notice:
    """Something to publish: ``alarm_raised``, ``alarm_cleared``, ``zone_changed``, ``model_learned``."""

    kind: str
    signal: str | None
    ts: float
    data: dict[str, Any]


@dataclass
class SignalState:
    """Running state of one signal."""

    model: SignalModel | None = None
    learner: Learner | None = None
    ewma: float | None = None
    value: float | None = None
    z: float | None = None
    ts: float | None = None
    alarm_id: str | None = None
    pending_since: float | None = None
    clear_since: float | None = None
    peak_z: float = 0.0
    zone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (learner buffers are saved separately, see the component)."""
        d = {k: v for k, v in self.__dict__.items() if k not in ("model", "learner")}
        d["model"] = self.model.to_dict() if self.model else None
        d["learning"] = self.learner is not None
        return d


class ConditionMonitor:
    """All signals of one condition-monitoring component (see module docstring)."""

    def __init__(
        self,
        signals: list[str],
        params: Params,
        new_id: Callable[[], str] | None = None,
        history: int = 200,
    ) -> None:
        self.p = params
        self.signals = {s: SignalState(learner=Learner(params.max_samples)) for s in signals}
        self.version = 0
        self.versions: list[dict[str, Any]] = []
        """Summary of every model version (signal, median, scale, period, shift)."""
        self.alarms: deque[dict[str, Any]] = deque(maxlen=history)
        self.notices: list[Notice] = []
        self._new_id = new_id or (lambda: uuid.uuid4().hex[:16])

    # -- per sample -------------------------------------------------------------------------
    def on_value(self, signal: str, ts: float, value: float) -> None:
        """One good value of ``signal`` at sample time ``ts``."""
        st = self.signals.get(signal)
        if st is None:
            return
        p = self.p
        st.value, st.ts = value, ts
        st.ewma = value if st.ewma is None else st.ewma + p.ewma_alpha * (value - st.ewma)
        lr = st.learner
        if lr is not None:
            lr.add(ts, value)
            if lr.seen >= p.min_samples and lr.start is not None and ts - lr.start >= p.baseline_s:
                self._learned(signal, st, ts)
        bounds = p.zones.get(signal)
        if bounds is not None:
            zn = zone(value, bounds, st.zone)
            if zn != st.zone:
                prev, st.zone = st.zone, zn
                self.notices.append(
                    Notice(
                        "zone_changed",
                        signal,
                        ts,
                        {"zone": zn, "previous": prev, "value": value, "boundaries": list(bounds)},
                    )
                )
        m = st.model
        if m is None:
            return
        z = (value - m.median) / m.scale
        st.z = z
        az = abs(z)
        if st.alarm_id is None:
            if az >= p.raise_z:
                if st.pending_since is None:
                    st.pending_since = ts
                if ts - st.pending_since >= p.on_delay_s:
                    self._raise(signal, st, ts, z)
            else:
                st.pending_since = None
        else:
            if az > abs(st.peak_z):
                st.peak_z = z
            if az < p.clear_z:
                if st.clear_since is None:
                    st.clear_since = ts
                if ts - st.clear_since >= p.off_delay_s:
                    self._clear(signal, st, ts, z)
            else:
                st.clear_since = None

    def _learned(self, signal: str, st: SignalState, ts: float) -> None:
        assert st.learner is not None
        new = st.learner.model(self.p.min_scale, self.p.min_scale_rel)
        old = st.model
        shift = (new.median - old.median) / old.scale if old else None
        st.model, st.learner = new, None
        self.version += 1
        summary = {
            "version": self.version,
            "signal": signal,
            **new.to_dict(),
            "shift_z": shift,
            "previous_median": old.median if old else None,
        }
        self.versions.append(summary)
        self.notices.append(Notice("model_learned", signal, ts, summary))

    def _raise(self, signal: str, st: SignalState, ts: float, z: float) -> None:
        st.pending_since = st.clear_since = None
        st.alarm_id, st.peak_z = self._new_id(), z
        m = st.model
        assert m is not None
        rec = {
            "id": st.alarm_id,
            "signal": signal,
            "raised_at": ts,
            "cleared_at": None,
            "z": z,
            "peak_z": z,
            "value": st.value,
            "median": m.median,
            "scale": m.scale,
            "model_version": self.model_version(signal),
            "feedback": None,
        }
        self.alarms.append(rec)
        self.notices.append(Notice("alarm_raised", signal, ts, dict(rec)))

    def _clear(self, signal: str, st: SignalState, ts: float, z: float) -> None:
        rec = self.find_alarm(st.alarm_id or "")
        if rec is not None:
            rec.update(cleared_at=ts, peak_z=st.peak_z)
        self.notices.append(
            Notice(
                "alarm_cleared",
                signal,
                ts,
                {"id": st.alarm_id, "z": z, "peak_z": st.peak_z, "value": st.value},
            )
        )
        st.alarm_id, st.clear_since, st.peak_z = None, None, 0.0

    # -- operator actions --------------------------------------------------------------------
    def relearn(self, signals: list[str] | None = None) -> list[str]:
        """Start learning a new baseline (from the next value); the old model keeps scoring."""
        names = signals or list(self.signals)
        unknown = [s for s in names if s not in self.signals]
        if unknown:
            raise KeyError(", ".join(unknown))
        for s in names:
            self.signals[s].learner = Learner(self.p.max_samples)
        return names

    def find_alarm(self, alarm_id: str) -> dict[str, Any] | None:
        """The alarm record with ``alarm_id`` (among the last ``history``)."""
        for rec in reversed(self.alarms):
            if rec["id"] == alarm_id:
                found: dict[str, Any] = rec
                return found
        return None

    def feedback(self, alarm_id: str, verdict: bool, who: str, ts: float) -> dict[str, Any]:
        """Record an operator's true/false-alarm verdict on an alarm (replaces an earlier one).

        Raises:
            KeyError: no such alarm in the history.
        """
        rec = self.find_alarm(alarm_id)
        if rec is None:
            raise KeyError(alarm_id)
        rec["feedback"] = {
            "verdict": "true_alarm" if verdict else "false_alarm",
            "who": who,
            "at": ts,
        }
        return rec

    def feedback_counts(self) -> tuple[int, int]:
        """(true alarms, false alarms) among the alarms with feedback."""
        verdicts = [r["feedback"]["verdict"] for r in self.alarms if r.get("feedback")]
        return verdicts.count("true_alarm"), verdicts.count("false_alarm")

    def model_version(self, signal: str) -> int | None:
        """Version number that produced the signal's current model."""
        for v in reversed(self.versions):
            if v["signal"] == signal:
                version: int = v["version"]
                return version
        return None

    def drift_z(self, signal: str) -> float | None:
        """(EWMA − baseline median)/σ_robust of a signal, None before a model exists."""
        st = self.signals[signal]
        if st.model is None or st.ewma is None:
            return None
        return (st.ewma - st.model.median) / st.model.scale

    def drain(self) -> list[Notice]:
        """Hand over (and forget) the notices produced so far."""
        out, self.notices = self.notices, []
        return out

    # -- persistence -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state except the learner buffers (see :meth:`learners`)."""
        return {
            "version": self.version,
            "versions": self.versions[-50:],
            "alarms": list(self.alarms),
            "signals": {k: v.to_dict() for k, v in self.signals.items()},
        }

    def learners(self) -> dict[str, dict[str, Any] | None]:
        """Learner buffers per signal (None when not learning), saved under their own keys."""
        return {k: (asdict(v.learner) if v.learner else None) for k, v in self.signals.items()}

    def restore(
        self, d: dict[str, Any] | None, learners: dict[str, dict[str, Any] | None] | None = None
    ) -> None:
        """Restore :meth:`to_dict` (and :meth:`learners`) output; unknown signals are dropped."""
        if not d:
            return
        self.version = int(d.get("version", 0))
        self.versions = list(d.get("versions", []))
        self.alarms = deque(d.get("alarms", []), maxlen=self.alarms.maxlen)
        for name, sd in d.get("signals", {}).items():
            if name not in self.signals:
                continue
            st = SignalState(model=SignalModel(**sd["model"]) if sd.get("model") else None)
            for k, v in sd.items():
                if k in SignalState.__dataclass_fields__ and k not in ("model", "learner"):
                    setattr(st, k, v)
            if sd.get("learning"):
                saved = (learners or {}).get(name)
                st.learner = (
                    Learner.from_dict(saved, self.p.max_samples)
                    if saved
                    else Learner(self.p.max_samples)
                )
            self.signals[name] = st
