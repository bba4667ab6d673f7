"""The ``model_scoring`` analytics component: active + shadow model, drift, rule fallback.

For one asset it scores the live stream with the **active** version of a named model and,
when the registry names one, a **shadow** version beside it:

* active model alerts are alarms: ``alarm``/``model_alert_raised`` and ``model_alert_cleared``;
* shadow alerts are recorded, never raised: ``model``/``shadow_alert_raised`` / ``…_cleared``;
* KPIs per window: ``model_score`` and ``model_psi_<signal>`` (attrs ``role``, ``version``),
  ``model_psi_max`` (PSI of each signal's conditional residual, see kit_models.detector);
* a model whose input drift (PSI) reaches ``psi_limit`` on any feature is marked degraded
  (``model``/``model_degraded``, saved across restarts); then — and whenever no active model
  is loaded or it was refused — alarms come from the ISO 20816 zone rule of the condition
  plugin on the ``fallback`` signal (``model``/``fallback_active``, then
  ``alarm``/``fallback_alarm_raised`` in zone C or D).

Model files are verified against the site's trust store on every (re)load; ``policy``
decides as ``plugin_policy`` does for plugins (kit_models.artefact). Endpoints:
``models.promote`` / ``models.retire`` ``{model, version, who}`` (audited on
``kit.event.audit``) and ``models.status``; people's labels and work orders
(``models.alerts``, ``models.label``, ``models.figures``, ``workorders.*``) are in
kit_models.loop / kit_models.endpoints.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from kit_condition.iso20816 import zone
from kit_condition.plugin import VibrationZones
from pydantic import BaseModel, ConfigDict, Field, model_validator

import kit
from kit.bindings import Binding
from kit.components import Analytics, ComponentContext
from kit.errors import KitError
from kit.intake import Intake, TimeLimits
from kit.payloads import SampleBatch
from kit_models import artefact
from kit_models.detector import AlertState, DriftWatch, RobustMahalanobis, WindowFeatures
from kit_models.loop import PeopleLoop
from kit_models.workorders import WorkOrderPolicy

ZONE_NAMES = "ABCD"


class Fallback(BaseModel):
    """The rule that carries alarms while the model cannot: ISO 20816 zones on one signal."""

    model_config = ConfigDict(extra="forbid")

    signal: str
    """Input (velocity RMS, mm/s) the zone rule watches."""
    zones: VibrationZones
    """Machine class or custom boundaries (as in the condition component)."""


class ModelScoringConfig(BaseModel):
    """Settings of one model-scoring component."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,47}$")
    """Name of the model (``kit model list``); its registry says which version is active."""
    inputs: dict[str, Binding] = Field(min_length=1, max_length=64)
    """Signal name → bound point; must cover every signal of the model's features."""
    fallback: Fallback
    """ISO zone rule used while the model is degraded, refused or absent."""
    policy: Literal["allow-unsigned", "warn", "require-certified"] = "warn"
    """Trust policy for model files; set it like the site's ``plugin_policy``."""
    drift_windows: int = Field(1440, ge=10, le=20_000)
    """PSI compares the last this many windows (default: a day of 60 s windows) with the
    training deciles; fewer make PSI noisy on load-driven signals (docs/models.md)."""
    psi_warn: float = Field(0.1, gt=0)
    """PSI at or above this: moderate shift (published; no action)."""
    psi_limit: float = Field(0.25, gt=0)
    """PSI at or above this on any feature: the model is degraded and the fallback takes over."""
    severity: Literal["low", "medium", "high", "critical"] = "medium"
    """Severity of model alerts."""
    time_tolerance: TimeLimits = Field(default_factory=TimeLimits)
    """Batches stamped further than this from the gateway's clock are quarantined."""
    work_orders: WorkOrderPolicy = Field(default_factory=WorkOrderPolicy)
    """When alerts draft work orders and whether a person must approve sending them."""

    @model_validator(mode="after")
    def _check(self) -> ModelScoringConfig:
        if self.fallback.signal not in self.inputs:
            raise ValueError(f"fallback.signal {self.fallback.signal!r} is not one of the inputs")
        if self.psi_warn >= self.psi_limit:
            raise ValueError("psi_warn must be below psi_limit")
        return self


@dataclass
class Slot:
    """One loaded model version and its live state."""

    role: str  # active | shadow
    version: int
    model: RobustMahalanobis
    features: WindowFeatures
    alert: AlertState
    drift: DriftWatch
    status: str
    psi: dict[str, float] = field(default_factory=dict)


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


class ModelScoring(Analytics[ModelScoringConfig]):
    """Scores the live stream with the active (and shadow) model; falls back to ISO zones."""

    name: ClassVar[str] = "model_scoring"
    summary: ClassVar[str] = (
        "governed anomaly model: active + shadow, drift (PSI), ISO zone fallback"
    )
    Config: ClassVar[type[BaseModel]] = ModelScoringConfig

    def __init__(self, config: ModelScoringConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        self.intake = Intake(
            dict(config.inputs), str(ctx.asset) if ctx.asset else None, config.time_tolerance
        )
        self.slots: dict[str, Slot] = {}
        self.degraded: dict[str, Any] = {}
        """Version (str) → PSI that degraded it (saved; a degraded version stays degraded)."""
        self.fallback_reason: str | None = None
        self.zone: str | None = None
        self.fallback_alarm = False
        self._lock = asyncio.Lock()
        self.loop: PeopleLoop | None = None
        """Alert book, labels and work orders (made in run: it needs the data directory)."""

    # -- loading ---------------------------------------------------------------------------
    async def run(self) -> None:
        """Load the registry's models, subscribe, then idle until cancelled."""
        saved = await self.ctx.load_state() or {}
        self.degraded = saved.get("degraded", {})
        self.loop = PeopleLoop(self)
        await self.reload()
        for subject in self.intake.subjects():
            await self.ctx.subscribe_samples(subject, self.on_batch)
        await asyncio.Event().wait()

    async def reload(self) -> None:
        """(Re)load active and shadow versions from the registry, verifying each file."""
        async with self._lock:
            data_dir = self.ctx.data_dir
            assert data_dir is not None  # a running component always has the site's data_dir
            reg = artefact.registry(data_dir, self.config.model)
            keys = self.ctx.trust_store().keys
            old = self.slots
            self.slots = {}
            for role in ("active", "shadow"):
                v = reg.get(role)
                if v is None:
                    continue
                if role in old and old[role].version == v:
                    self.slots[role] = old[role]  # unchanged: keep its windows and alert state
                    continue
                slot = await self._load(role, v, keys)
                if self.loop is not None:
                    self.loop.slot_changed(role)
                if slot is not None:
                    self.slots[role] = slot
            await self._update_fallback(None)

    async def _load(self, role: str, version: int, keys: dict[str, Any]) -> Slot | None:
        name = self.config.model
        assert self.ctx.data_dir is not None  # a running component always has the site's data_dir
        path = artefact.model_path(self.ctx.data_dir, name, version)
        try:
            doc = artefact.read_doc(path)
        except artefact.ModelError as exc:
            await self._event("model_refused", str(exc), "high", role=role, version=version)
            return None
        st = artefact.verify(doc, keys)
        ok, msg = artefact.decide(st, self.config.policy)
        info = {"role": role, "version": version, **st.as_dict()}
        if not ok:
            await self._event("model_refused", f"{name} v{version} ({role}): {msg}", "high", **info)
            return None
        # The model's own list fixes the feature order (the manifest's mapping is stored with
        # sorted keys, so its order is not the vector order).
        signals = list(doc["model"]["signals"])
        missing = [s for s in signals if s not in self.config.inputs]
        if missing:
            await self._event(
                "model_refused",
                f"{name} v{version}: signals {missing} are not bound in this component's inputs",
                "high",
                **info,
            )
            return None
        if msg:
            await self._event(
                "model_unverified", f"{name} v{version} ({role}): {msg}", "medium", **info
            )
        model = RobustMahalanobis.from_dict(doc["model"])
        p = doc["manifest"]["parameters"]
        slot = Slot(
            role,
            version,
            model,
            WindowFeatures(signals, float(p["window_s"])),
            AlertState(int(p["on_windows"]), int(p["off_windows"])),
            DriftWatch(model, self.config.drift_windows),
            st.status,
        )
        await self._event(
            "model_loaded", f"{name} v{version} loaded as {role} ({st.status})", **info
        )
        return slot

    # -- scoring ---------------------------------------------------------------------------
    async def on_batch(self, batch: SampleBatch) -> None:
        """Feed good values to each loaded model's windows and the fallback rule."""
        async with self._lock:
            if not await self.intake.admit(batch, self.ctx):
                return
            for r in self.intake.readings(batch):
                if r.value is None:
                    continue
                for name in r.inputs:
                    for slot in list(self.slots.values()):
                        for start, vec in slot.features.add(name, r.ts, r.value):
                            if vec is not None:
                                await self._window(slot, start + slot.features.window_s, vec)
                    if name == self.config.fallback.signal:
                        await self._rule(r.ts, r.value)

    async def _window(self, slot: Slot, ts: float, vec: list[float]) -> None:
        attrs = {"role": slot.role, "version": slot.version}
        when = _dt(ts)
        score = slot.model.score(vec)
        await self.ctx.publish_kpi("model_score", score, ts=when, attrs=attrs)
        assert self.loop is not None  # made in run() before any subscription
        self.loop.window(slot, ts, vec)
        psi = slot.drift.add(vec)
        if psi is not None:
            slot.psi = psi
            for s, v in psi.items():
                await self.ctx.publish_kpi(f"model_psi_{s}", v, ts=when, attrs=attrs)
            worst = max(psi, key=psi.__getitem__)
            await self.ctx.publish_kpi(
                "model_psi_max", psi[worst], ts=when, attrs={**attrs, "signal": worst}
            )
            if (
                slot.role == "active"
                and psi[worst] >= self.config.psi_limit
                and str(slot.version) not in self.degraded
            ):
                await self._degrade(slot, worst, psi, ts)
        change = slot.alert.update(score > slot.model.threshold)
        if change is None:
            if slot.alert.active and str(slot.version) not in self.degraded:
                await self.loop.confidence(slot, score)
            return
        if slot.role == "active" and str(slot.version) in self.degraded:
            return  # a degraded model's alerts are not raised; the rule carries them
        contributions = slot.model.contributions(vec)
        alert_id: str | None
        if change == "raised":
            alert_id = await self.loop.raised(slot, ts, score, contributions)
        else:
            alert_id = self.loop.cleared(slot.role, ts)
        data: dict[str, Any] = {
            "alert_id": alert_id,
            "model": self.config.model,
            "version": slot.version,
            "score": score,
            "threshold": slot.model.threshold,
            "contributions": contributions,
        }
        if slot.role == "shadow":
            # Recorded for the promotion decision, never an alarm.
            await self._event(
                f"shadow_alert_{change}",
                f"shadow {self.config.model} v{slot.version}: alert {change} (score {score:.2f})",
                ts=ts,
                **data,
            )
        else:
            top = max(data["contributions"], key=lambda s: abs(data["contributions"][s]))
            await self.ctx.publish_event(
                "alarm",
                f"model_alert_{change}",
                ts=when,
                severity=self.config.severity if change == "raised" else "info",
                message=f"{self.config.model} v{slot.version}: anomaly {change} "
                f"(score {score:.2f} / {slot.model.threshold:.2f}; most changed: {top})",
                data={**data, "component": self.ctx.name},
            )
            if change == "raised":
                await self.loop.confidence(slot, score)

    async def _degrade(self, slot: Slot, worst: str, psi: dict[str, float], ts: float) -> None:
        self.degraded[str(slot.version)] = {"signal": worst, "psi": psi, "ts": ts}
        await self.ctx.save_state({"degraded": self.degraded})
        await self._event(
            "model_degraded",
            f"{self.config.model} v{slot.version}: input drift on {worst} (PSI {psi[worst]:.2f} "
            f"≥ {self.config.psi_limit}); model alerts suspended",
            "high",
            ts=ts,
            version=slot.version,
            signal=worst,
            psi=psi,
            limit=self.config.psi_limit,
        )
        if slot.alert.active:
            slot.alert.active = False
            assert self.loop is not None  # made in run() before any subscription
            self.loop.cleared(slot.role, ts)
            await self.ctx.publish_event(
                "alarm",
                "model_alert_cleared",
                ts=_dt(ts),
                message=f"{self.config.model} v{slot.version}: alert withdrawn, model degraded",
                data={"model": self.config.model, "version": slot.version, "reason": "degraded"},
            )
        await self._update_fallback(ts)

    async def _update_fallback(self, ts: float | None) -> None:
        active = self.slots.get("active")
        if active is None:
            reason = "no active model loaded"
        elif str(active.version) in self.degraded:
            reason = f"active model v{active.version} is degraded (input drift)"
        else:
            reason = None
        if reason == self.fallback_reason:
            return
        self.fallback_reason = reason
        if reason is not None:
            await self._event(
                "fallback_active",
                f"{self.config.model}: {reason}; alarms now come from the ISO 20816 zone rule on "
                f"{self.config.fallback.signal}",
                "medium",
                ts=ts,
                reason=reason,
                signal=self.config.fallback.signal,
            )
        else:
            assert active is not None  # reason is None only with an active, non-degraded model
            await self._event(
                "fallback_ended",
                f"{self.config.model}: model v{active.version} carries alerts again",
                ts=ts,
            )

    async def _rule(self, ts: float, value: float) -> None:
        # The condition plugin's zones, with its hysteresis on the way down: a reading
        # hovering on the C boundary (an overload) must not raise and clear every sample.
        self.zone = zone(value, self.config.fallback.zones.bounds, self.zone)
        bad = self.zone in "CD"
        if self.fallback_reason is None:
            bad = False  # the model carries alerts; the rule only stands by
        if bad == self.fallback_alarm:
            return
        self.fallback_alarm = bad
        await self.ctx.publish_event(
            "alarm",
            "fallback_alarm_raised" if bad else "fallback_alarm_cleared",
            ts=_dt(ts),
            severity=self.config.severity if bad else "info",
            message=f"{self.config.fallback.signal} in vibration zone {self.zone} "
            f"({value:.2f} mm/s; rule fallback: {self.fallback_reason or 'model back'})",
            data={"zone": self.zone, "value": value, "component": self.ctx.name},
        )

    async def _event(
        self, type_: str, message: str, severity: str = "info", ts: float | None = None, **data: Any
    ) -> None:
        await self.ctx.publish_event(
            "model",
            type_,
            ts=_dt(ts) if ts is not None else None,
            severity=severity,
            message=message,
            data={"model": self.config.model, "component": self.ctx.name, **data},
        )

    # -- people ----------------------------------------------------------------------------
    async def decide_version(self, action: str, version: int, who: str) -> dict[str, Any]:
        """Promote or retire ``version`` on a person's word; audited, then reloaded."""
        data_dir = self.ctx.data_dir
        assert data_dir is not None  # a running component always has the site's data_dir
        fn = artefact.promote if action == "promote" else artefact.retire
        try:
            result = fn(data_dir, self.config.model, version)
        except artefact.ModelError as exc:
            await self.ctx.publish_event(
                "audit",
                f"model_{action}_refused",
                category="config_change",
                result="failure",
                severity="low",
                message=str(exc),
                data={"who": who, "model": self.config.model, "version": version},
            )
            raise
        await self.ctx.publish_event(
            "audit",
            "model_promoted" if action == "promote" else "model_retired",
            category="config_change",
            result="success",
            message=f"{who} {action}d model {self.config.model} v{version}",
            data={"who": who, **result},
        )
        await self.reload()
        return result

    def metrics(self) -> dict[str, Any]:
        """Loaded versions, degraded versions, fallback state, intake counters."""
        return {
            **self.intake.counters.as_dict(),
            "model": self.config.model,
            "loaded": {
                r: {"version": s.version, "status": s.status} for r, s in self.slots.items()
            },
            "degraded": sorted(self.degraded),
            "fallback": self.fallback_reason,
            "zone": self.zone,
        }


def _components(runtime: Any) -> list[ModelScoring]:
    return [
        i.component
        for i in runtime.supervisor.instances.values()
        if isinstance(i.component, ModelScoring)
    ]


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the model-scoring component."""
    register.add(ModelScoring)


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``models.promote``, ``models.retire`` (a person's decision) and ``models.status``."""

    def handler(action: str) -> Callable[[Any], Awaitable[dict[str, Any]]]:
        async def call(body: Any) -> dict[str, Any]:
            if not isinstance(body, dict) or not body.get("model") or not body.get("who"):
                raise KitError("expected {model, version, who}: a person must be named")
            try:
                version = int(body["version"])
            except (KeyError, TypeError, ValueError):
                raise KitError("version must be a number") from None
            comps = [c for c in _components(runtime) if c.config.model == body["model"]]
            if not comps:
                raise KitError(f"no model_scoring component runs model {body['model']!r}")
            result = await comps[0].decide_version(action, version, str(body["who"]))
            for c in comps[1:]:
                await c.reload()
            return result

        return call

    async def status(_body: Any) -> dict[str, Any]:
        return {c.ctx.name: c.metrics() for c in _components(runtime)}

    api.add("models.promote", handler("promote"))
    api.add("models.retire", handler("retire"))
    api.add("models.status", status)
    from kit_models.endpoints import add_people_endpoints

    add_people_endpoints(api, lambda: _components(runtime))


@kit.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``kit model`` (with alerts, label, backtest) and ``kit workorder``."""
    from kit_models import cli_backtest  # noqa: F401  (adds ``kit model backtest``)
    from kit_models.cli import model
    from kit_models.cli_people import workorder

    cli.add_command(model)
    cli.add_command(workorder)


__all__ = ["ModelScoring", "ModelScoringConfig"]
