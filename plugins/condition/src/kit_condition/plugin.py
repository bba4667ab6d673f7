"""The ``condition`` analytics component and its control API endpoints.

A thin wrapper around :class:`~kit_condition.monitor.ConditionMonitor`: it feeds the good
values of the bound signals, publishes

* KPIs per signal every ``kpi_interval_s`` of sample time: ``<s>_z``, ``<s>_ewma``,
  ``<s>_drift_z`` and, with vibration zones, ``<s>_zone`` (1–4 = A–D); on every new model
  ``model_version`` and ``<s>_baseline_shift_z``; after feedback ``false_alarm_ratio``;
* events: ``alarm``/``condition_alarm_raised`` and ``condition_alarm_cleared``,
  ``condition``/``vibration_zone_changed``, ``baseline_learned``, ``alarm_feedback``;

stores state and every learned model version in KV (``ctx.save_state``), and serves
``condition.relearn {component, signals?}`` and ``condition.feedback {alarm_id, verdict, who}``.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

import kit
from kit.bindings import Binding
from kit.components import Analytics, ComponentContext, save_when_dirty
from kit.errors import KitError
from kit.intake import Intake, TimeLimits
from kit.payloads import SampleBatch
from kit_condition.iso20816 import BOUNDARIES, MEANING, ZONES
from kit_condition.monitor import ConditionMonitor, Notice, Params

GATE = "running:gate"
"""Intake name of the ``running_when`` binding (not a valid signal name, so no clash)."""
ZONE_SEVERITY = {"A": "info", "B": "info", "C": "medium", "D": "high"}


class VibrationZones(BaseModel):
    """Vibration severity zones for one signal (velocity in mm/s RMS): a machine class or
    your own boundaries (e.g. from ISO 20816-3 for your machine group)."""

    model_config = ConfigDict(extra="forbid")

    machine_class: Literal["I", "II", "III", "IV"] | None = None
    """ISO 10816-1 / 20816-1 machine class (docs/plugins/condition.md)."""
    custom: tuple[float, float, float] | None = None
    """Boundaries A/B, B/C, C/D in mm/s RMS, ascending."""

    @model_validator(mode="after")
    def _one(self) -> VibrationZones:
        if (self.machine_class is None) == (self.custom is None):
            raise ValueError("give either machine_class or custom boundaries")
        if self.custom is not None and not (0 < self.custom[0] < self.custom[1] < self.custom[2]):
            raise ValueError("custom boundaries must be positive and ascending")
        return self

    @property
    def bounds(self) -> tuple[float, float, float]:
        """(A/B, B/C, C/D)."""
        return self.custom if self.custom is not None else BOUNDARIES[self.machine_class]  # type: ignore[index]


class ConditionConfig(BaseModel):
    """Settings of one condition-monitoring component (e.g. a motor: vibration + temperature)."""

    model_config = ConfigDict(extra="forbid")

    inputs: dict[str, Binding] = Field(min_length=1, max_length=200)
    """Signal name → bound point, e.g. ``{vibration: vibration_velocity_rms_mm_s, temperature: temperature_c}``."""
    time_tolerance: TimeLimits = Field(default_factory=TimeLimits)
    """Batches stamped further than this from the gateway's clock are quarantined (docs/bus.md)."""
    baseline_s: float = Field(3600.0, ge=1, le=90 * 86_400)
    """Learning period per signal, in sample time (run the machine normally meanwhile)."""
    min_baseline_samples: int = Field(30, ge=5)
    """A baseline needs at least this many good values (learning goes on until then)."""
    max_baseline_samples: int = Field(5000, ge=100, le=20_000)
    """Values kept while learning (evenly thinned beyond that; bounds memory and state size)."""
    raise_z: float = Field(6.0, gt=0)
    """Alarm when the robust z-score reaches this (in robust σ)."""
    clear_z: float = Field(4.0, ge=0)
    """Clear the alarm when |z| falls below this (hysteresis; below ``raise_z``)."""
    on_delay_s: float = Field(10.0, ge=0)
    """|z| ≥ raise_z must hold this long before the alarm raises."""
    off_delay_s: float = Field(0.0, ge=0)
    """|z| < clear_z must hold this long before the alarm clears."""
    ewma_alpha: float = Field(0.05, gt=0, le=1)
    """Weight of the newest value in the EWMA trend (0.05 ≈ the last 20–40 values)."""
    min_scale: float = Field(1e-9, gt=0)
    """Absolute floor of the robust σ, in the signal's unit."""
    min_scale_rel: float = Field(0.01, ge=0, le=1)
    """Relative floor of the robust σ (fraction of |median|): a dead-flat baseline does not
    make every tiny change an alarm."""
    vibration: dict[str, VibrationZones] = Field(default_factory=dict)
    """Signal → vibration zones (only for signals that are velocity RMS in mm/s)."""
    running_when: Binding | None = None
    """Learn and score only while this point is truthy (e.g. ``machine_running``): a stopped
    machine's vibration is not its normal, and must not raise deviation alarms either. Until
    the point's first good value nothing is learned or scored."""
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    """Severity of deviation alarms."""
    kpi_interval_s: float = Field(10.0, gt=0)
    """Publish per-signal KPIs at most once per this much sample time."""
    save_interval_s: float = Field(5.0, gt=0)
    """At most one routine state save per interval (new models and feedback are saved at once)."""

    @field_validator("inputs")
    @classmethod
    def _names(cls, v: dict[str, Binding]) -> dict[str, Binding]:
        import re

        bad = [k for k in v if not re.fullmatch(r"[a-z0-9_]{1,48}", k)]
        if bad:
            raise ValueError(f"signal names must be lower-case letters, digits and _: {bad}")
        return v

    @model_validator(mode="after")
    def _check(self) -> ConditionConfig:
        if self.clear_z >= self.raise_z:
            raise ValueError("clear_z must be below raise_z (hysteresis)")
        unknown = sorted(set(self.vibration) - set(self.inputs))
        if unknown:
            raise ValueError(
                f"vibration zones for unknown signal(s) {unknown}; signals are {sorted(self.inputs)}"
            )
        return self

    def params(self) -> Params:
        """The monitor's tuning."""
        return Params(
            self.baseline_s,
            self.min_baseline_samples,
            self.max_baseline_samples,
            self.raise_z,
            self.clear_z,
            self.on_delay_s,
            self.off_delay_s,
            self.ewma_alpha,
            self.min_scale,
            self.min_scale_rel,
            {k: v.bounds for k, v in self.vibration.items()},
        )


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class ConditionComponent(Analytics[ConditionConfig]):
    """Learns a robust baseline per signal and alarms on deviations; vibration zones A–D."""

    name: ClassVar[str] = "condition"
    summary: ClassVar[str] = (
        "condition monitoring: robust baselines, deviation alarms, ISO 20816 zones, feedback"
    )
    Config: ClassVar[type[BaseModel]] = ConditionConfig

    def __init__(self, config: ConditionConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        self.monitor = ConditionMonitor(list(config.inputs), config.params())
        bindings = dict(config.inputs)
        if config.running_when is not None:
            bindings[GATE] = config.running_when
        self.intake = Intake(bindings, str(ctx.asset) if ctx.asset else None, config.time_tolerance)
        self.running: bool | None = None
        """Last good value of ``running_when`` (None: not known yet)."""
        self.skipped_not_running = 0
        self._kpi_at: dict[str, float] = {}
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """Restore model and state, subscribe, save periodically until cancelled."""
        saved = await self.ctx.load_state() or {}
        learners = {s: await self.ctx.load_state(f"learn-{s}") for s in self.config.inputs}
        monitor = saved.get("monitor")
        if monitor:
            # A signal now bound to a different point has a model of something else: forget it.
            before = saved.get("bindings", {})
            changed = [s for s, b in self._bindings().items() if s in before and before[s] != b]
            for s in changed:
                monitor.get("signals", {}).pop(s, None)
                learners.pop(s, None)
                self.ctx.log.warning(
                    "%s: signal %s is bound to a new point; learning it afresh", self.ctx.name, s
                )
        self.monitor.restore(monitor, learners)
        self.intake.restore(saved.get("intake"), self.ctx.clock.now().timestamp())
        self.running = saved.get("running")
        for subject in self.intake.subjects():
            await self.ctx.subscribe_samples(subject, self.on_batch)
        await save_when_dirty(
            self._save_locked, self._dirty, self.ctx.clock, self.config.save_interval_s
        )

    async def _save_locked(self) -> None:
        async with self._lock:  # not while a batch is half applied
            await self.save()

    async def save(self) -> None:
        """Persist monitor state, intake positions and learner buffers."""
        await self.ctx.save_state(
            {
                "monitor": self.monitor.to_dict(),
                "intake": self.intake.state(),
                "running": self.running,
                "bindings": self._bindings(),
            }
        )
        for s, lr in self.monitor.learners().items():
            if lr is not None:
                await self.ctx.save_state(lr, f"learn-{s}")

    def _bindings(self) -> dict[str, dict[str, Any]]:
        """Signal → the point it reads (resolved), saved to detect re-bound signals."""
        own = str(self.ctx.asset) if self.ctx.asset else None
        return {s: b.resolve(own).model_dump() for s, b in self.config.inputs.items()}

    async def on_batch(self, batch: SampleBatch) -> None:
        """Score the good values of one accepted batch and publish what changed."""
        async with self._lock:
            if not await self.intake.admit(batch, self.ctx):
                return
            mon = self.monitor
            touched: set[str] = set()
            readings = list(self.intake.readings(batch))
            gated = self.config.running_when is not None
            if gated:
                # The gate is read first: a batch carrying "stopped" and a value is not scored.
                for r in readings:
                    if GATE in r.inputs and r.value is not None:
                        self.running = bool(r.value)
            for r in readings:
                if r.value is None:
                    continue
                for name in r.inputs:
                    if name == GATE:
                        continue
                    if gated and not self.running:
                        self.skipped_not_running += 1
                        continue
                    mon.on_value(name, r.ts, r.value)
                    touched.add(name)
            self._dirty.set()
            notices = mon.drain()
            for n in notices:
                await self._publish(n)
            if any(n.kind in ("model_learned", "alarm_raised") for n in notices):
                await self.save()
            ts = batch.ts.timestamp()
            for s in touched:
                if ts - self._kpi_at.get(s, -1e18) >= self.config.kpi_interval_s:
                    self._kpi_at[s] = ts
                    await self._signal_kpis(s, ts)

    async def _signal_kpis(self, s: str, ts: float) -> None:
        st = self.monitor.signals[s]
        when = _dt(ts)
        attrs = {"model_version": self.monitor.model_version(s), "learning": st.learner is not None}
        if st.z is not None:
            await self.ctx.publish_kpi(f"{s}_z", st.z, ts=when, attrs=attrs)
        if st.ewma is not None:
            await self.ctx.publish_kpi(f"{s}_ewma", st.ewma, ts=when, attrs=attrs)
        drift = self.monitor.drift_z(s)
        if drift is not None:
            await self.ctx.publish_kpi(f"{s}_drift_z", drift, ts=when, attrs=attrs)
        if st.zone is not None:
            await self.ctx.publish_kpi(
                f"{s}_zone",
                ZONES.index(st.zone) + 1,
                ts=when,
                attrs={"zone": st.zone, "meaning": MEANING[st.zone]},
            )

    async def _publish(self, n: Notice) -> None:
        ctx, when, d = self.ctx, _dt(n.ts), n.data
        if n.kind == "alarm_raised":
            await ctx.publish_event(
                "alarm",
                "condition_alarm_raised",
                ts=when,
                severity=self.config.severity,
                message=f"{n.signal} deviates from its baseline (z = {d['z']:.1f})",
                data={**d, "alarm_id": d["id"], "component": ctx.name},
            )
        elif n.kind == "alarm_cleared":
            await ctx.publish_event(
                "alarm",
                "condition_alarm_cleared",
                ts=when,
                message=f"{n.signal} back within its baseline (peak z = {d['peak_z']:.1f})",
                data={**d, "alarm_id": d["id"], "signal": n.signal, "component": ctx.name},
            )
        elif n.kind == "zone_changed":
            await ctx.publish_event(
                "condition",
                "vibration_zone_changed",
                ts=when,
                severity=ZONE_SEVERITY[d["zone"]],
                message=f"{n.signal}: vibration zone {d['zone']} ({MEANING[d['zone']]}), "
                f"{d['value']:.2f} mm/s",
                data={**d, "signal": n.signal},
            )
        elif n.kind == "model_learned":
            await ctx.save_state(d, f"model.v{d['version']}")
            await ctx.publish_event(
                "condition",
                "baseline_learned",
                ts=when,
                message=f"{n.signal}: baseline v{d['version']} median {d['median']:.4g}, "
                f"robust sigma {d['scale']:.3g}",
                data=d,
            )
            await ctx.publish_kpi(
                "model_version", d["version"], ts=when, attrs={"signal": n.signal}
            )
            if d.get("shift_z") is not None:
                await ctx.publish_kpi(
                    f"{n.signal}_baseline_shift_z",
                    d["shift_z"],
                    ts=when,
                    attrs={"version": d["version"], "previous_median": d["previous_median"]},
                )

    # -- control API ---------------------------------------------------------------------------
    async def relearn(self, signals: list[str] | None) -> dict[str, Any]:
        """Start learning a new baseline version from the next values."""
        async with self._lock:
            try:
                names = self.monitor.relearn(signals)
            except KeyError as exc:
                raise KitError(
                    f"unknown signal(s) {exc.args[0]}; signals are {sorted(self.config.inputs)}"
                ) from None
            await self.save()
        await self.ctx.publish_event(
            "condition",
            "baseline_relearn_started",
            message=f"re-learning {', '.join(names)}",
            data={"signals": names, "baseline_s": self.config.baseline_s},
        )
        return {"component": self.ctx.name, "relearning": names, "version": self.monitor.version}

    async def feedback(self, alarm_id: str, verdict: bool, who: str) -> dict[str, Any]:
        """Record an operator's verdict on one of this component's alarms."""
        async with self._lock:
            rec = self.monitor.feedback(alarm_id, verdict, who, self.ctx.clock.now().timestamp())
            await self.save()
        true_n, false_n = self.monitor.feedback_counts()
        await self.ctx.publish_event(
            "condition",
            "alarm_feedback",
            message=f"alarm {alarm_id}: {rec['feedback']['verdict']} ({who})",
            data={"alarm_id": alarm_id, **rec},
        )
        await self.ctx.publish_kpi(
            "false_alarm_ratio",
            false_n / (true_n + false_n),
            attrs={"true_alarms": true_n, "false_alarms": false_n},
        )
        return rec

    def metrics(self) -> dict[str, Any]:
        """Intake counters, model version, signals learning and in alarm."""
        sig = self.monitor.signals
        return {
            **self.intake.counters.as_dict(),
            "model_version": self.monitor.version,
            "running": self.running,
            "skipped_not_running": self.skipped_not_running,
            "learning": sorted(s for s, st in sig.items() if st.learner is not None),
            "in_alarm": sorted(s for s, st in sig.items() if st.alarm_id is not None),
            "alarms_recorded": len(self.monitor.alarms),
        }


def _components(runtime: Any) -> list[ConditionComponent]:
    return [
        i.component
        for i in runtime.supervisor.instances.values()
        if isinstance(i.component, ConditionComponent)
    ]


def _verdict(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in ("true", "true_alarm", "yes", "1"):
        return True
    if text in ("false", "false_alarm", "no", "0"):
        return False
    raise KitError("verdict must be true (a real problem) or false (a false alarm)")


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the condition component."""
    register.add(ConditionComponent)


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``condition.relearn`` and ``condition.feedback``."""

    from kit_condition import api as cond_api

    async def relearn(b: cond_api.RelearnRequest) -> dict[str, Any]:
        name = b.component
        comps = {c.ctx.name: c for c in _components(runtime)}
        if name not in comps:
            raise KitError(
                f"no condition component named {name!r}; running: {', '.join(sorted(comps)) or 'none'}"
            )
        return await comps[name].relearn(b.signals)

    async def feedback(b: cond_api.FeedbackRequest) -> dict[str, Any]:
        verdict = _verdict(b.verdict)
        for c in _components(runtime):
            if c.monitor.find_alarm(b.alarm_id) is not None:
                return await c.feedback(b.alarm_id, verdict, b.who)
        raise KitError(
            f"no condition alarm with id {b.alarm_id!r} (only the last 200 per component are kept)"
        )

    api.add(cond_api.RELEARN, relearn)
    api.add(cond_api.FEEDBACK, feedback)
