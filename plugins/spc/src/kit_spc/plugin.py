"""The ``spc`` analytics component: one control chart of one measured characteristic.

Good values of the bound ``value`` input feed a :class:`~kit_spc.charts.ControlChart`.
Each chart point is published as KPIs on the component's asset (``<c>_x`` with the limits
in ``attrs``, ``<c>_mr`` or ``<c>_r``, and ``<c>_x_cl``/``_x_ucl``/``_x_lcl`` whenever the
limits change and every ``limits_every`` points); capability as ``<c>_cp``, ``<c>_cpk``,
``<c>_pp``, ``<c>_ppk``; a rule violation as an ``spc`` event naming the rule and the
points (timestamps and values) involved. ``<c>`` is ``characteristic`` (default: the bound
point's name).
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

import kit
from kit.bindings import Binding
from kit.components import Analytics, ComponentContext, save_when_dirty
from kit.intake import Intake, TimeLimits
from kit.payloads import SampleBatch
from kit.subjects import sanitize_token
from kit_spc.charts import ChartPoint, ControlChart, limits_given
from kit_spc.rules import ALL_RULES, NELSON

RuleName = Literal[
    "nelson1",
    "nelson2",
    "nelson3",
    "nelson4",
    "nelson5",
    "nelson6",
    "nelson7",
    "nelson8",
    "we1",
    "we2",
    "we3",
    "we4",
]


class SpcInputs(BaseModel):
    """What the chart reads."""

    model_config = ConfigDict(extra="forbid")

    value: Binding
    """The measured characteristic, e.g. ``diameter_mm`` (one value per part or sample)."""


class GivenLimits(BaseModel):
    """Control limits of the location chart taken from an earlier study (no phase I)."""

    model_config = ConfigDict(extra="forbid")

    cl: float
    """Centre line."""
    ucl: float
    """Upper control limit."""
    lcl: float
    """Lower control limit."""

    @model_validator(mode="after")
    def _order(self) -> GivenLimits:
        if not self.lcl < self.cl < self.ucl:
            raise ValueError("limits must satisfy lcl < cl < ucl")
        return self


class SpecLimits(BaseModel):
    """Specification (tolerance) limits for Cp/Cpk; at least one."""

    model_config = ConfigDict(extra="forbid")

    lsl: float | None = None
    """Lower specification limit."""
    usl: float | None = None
    """Upper specification limit."""

    @model_validator(mode="after")
    def _some(self) -> SpecLimits:
        if self.lsl is None and self.usl is None:
            raise ValueError("give lsl, usl or both")
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            raise ValueError("lsl must be below usl")
        return self


class SpcConfig(BaseModel):
    """Settings of one SPC chart."""

    model_config = ConfigDict(extra="forbid")

    inputs: SpcInputs
    """Bound point: the measured characteristic (one value per part or sample)."""
    time_tolerance: TimeLimits = Field(default_factory=TimeLimits)
    """Batches stamped further than this from the gateway's clock are quarantined (docs/bus.md)."""
    characteristic: str | None = Field(None, max_length=64)
    """Name used in KPI names and events; defaults to the bound point."""
    chart: Literal["imr", "xbar_r"] = "imr"
    """``imr`` individuals/moving range, or ``xbar_r`` with ``subgroup_size`` 2–10."""
    subgroup_size: int = Field(5, ge=2, le=10)
    """Consecutive values per subgroup (``xbar_r`` only)."""
    phase1_points: int = Field(25, ge=5, le=1000)
    """Chart points (individuals or subgroups) from which limits are learned."""
    limits: GivenLimits | None = None
    """Known limits; when set there is no phase I."""
    rules: list[RuleName] = Field(default_factory=lambda: list(NELSON))  # type: ignore[arg-type]  # mypy infers the lambda narrower than the field
    """Rules to apply: ``nelson1``..``nelson8`` and/or ``we1``..``we4``."""
    spec: SpecLimits | None = None
    """Specification limits for rolling Cp/Cpk/Pp/Ppk."""
    capability_window: int = Field(125, ge=5, le=2000)
    """Chart points in the rolling capability window (bounded: the window is part of the
    saved state, one KV value)."""
    capability_every: int = Field(10, ge=1)
    """Publish capability every this many chart points."""
    limits_every: int = Field(60, ge=1)
    """Republish CL/UCL/LCL KPIs every this many chart points (and whenever they change)."""
    severity: Literal["low", "medium", "high"] = "medium"
    """Event severity of a rule violation."""
    save_interval_s: float = Field(5.0, gt=0)
    """At most one state save per interval (and one at shutdown)."""

    @model_validator(mode="after")
    def _rules(self) -> SpcConfig:
        if not self.rules:
            raise ValueError("select at least one rule")
        return self


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _num(v: float) -> float | None:
    return v if math.isfinite(v) else None


class SpcComponent(Analytics[SpcConfig]):
    """Shewhart chart with Nelson / Western Electric rules and rolling capability."""

    name: ClassVar[str] = "spc"
    summary: ClassVar[str] = "SPC: I-MR / X-bar-R charts, Nelson and Western Electric rules, Cp/Cpk"
    Config: ClassVar[type[BaseModel]] = SpcConfig

    def __init__(self, config: SpcConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        n = 1 if config.chart == "imr" else config.subgroup_size
        self.c = sanitize_token(config.characteristic or config.inputs.value.point)
        self.chart = ControlChart(
            subgroup_size=n,
            phase1_points=config.phase1_points,
            limits=limits_given(n, config.limits.cl, config.limits.ucl, config.limits.lcl)
            if config.limits
            else None,
            rules=tuple(r for r in ALL_RULES if r in config.rules),
            lsl=config.spec.lsl if config.spec else None,
            usl=config.spec.usl if config.spec else None,
            capability_window=config.capability_window,
        )
        self.intake = Intake(
            {"value": config.inputs.value},
            str(ctx.asset) if ctx.asset else None,
            config.time_tolerance,
        )
        self.violations = 0
        self._published_limits: tuple[Any, ...] | None = None
        self._dirty = asyncio.Event()

    async def run(self) -> None:
        """Restore the chart, subscribe, and save state periodically until cancelled."""
        saved = await self.ctx.load_state() or {}
        if saved.get("chart_key", self._chart_key()) == self._chart_key():
            self.chart.restore(saved.get("chart"), keep_given_limits=self.config.limits is not None)
        else:
            # The chart definition changed (type, subgroup size, input, given limits): the saved
            # limits and runs belong to another chart, so this one starts a fresh phase I.
            self.ctx.log.warning(
                "%s: chart definition changed; starting a new chart", self.ctx.name
            )
        self.intake.restore(saved.get("intake"), self.ctx.clock.now().timestamp())
        self.violations = int(saved.get("violations", 0))
        for subject in self.intake.subjects():
            await self.ctx.subscribe_samples(subject, self.on_batch)
        await save_when_dirty(self.save, self._dirty, self.ctx.clock, self.config.save_interval_s)

    async def save(self) -> None:
        """Persist chart, intake and counters."""
        await self.ctx.save_state(
            {
                "chart": self.chart.to_dict(),
                "intake": self.intake.state(),
                "violations": self.violations,
                "chart_key": self._chart_key(),
            }
        )

    def _chart_key(self) -> str:
        """What the saved chart depends on; a change means the saved state is for another chart."""
        c = self.config
        return repr(
            (
                c.chart,
                self.chart.n,
                c.inputs.value.model_dump(),
                c.limits.model_dump() if c.limits else None,
            )
        )

    async def on_batch(self, batch: SampleBatch) -> None:
        """Add the good values of one accepted batch to the chart and publish the results."""
        if not await self.intake.admit(batch, self.ctx):
            return
        points: list[ChartPoint] = []
        for r in self.intake.readings(batch):
            if r.value is not None:
                points += self.chart.add(r.ts, r.value)
        self._dirty.set()
        for p in points:
            await self._publish(p)

    async def _publish(self, p: ChartPoint) -> None:
        ctx, c, lim = self.ctx, self.c, p.limits
        ts = _dt(p.ts)
        spread_name = "mr" if self.chart.n == 1 else "r"
        await ctx.publish_kpi(
            f"{c}_x",
            p.value,
            ts=ts,
            window="point",
            attrs={
                "cl": lim.cl,
                "ucl": lim.ucl,
                "lcl": lim.lcl,
                "z": _num(p.z),
                "phase": p.phase,
                "index": p.index,
            },
        )
        if p.spread is not None:
            await ctx.publish_kpi(
                f"{c}_{spread_name}",
                p.spread,
                ts=ts,
                window="point",
                attrs={"cl": lim.r_cl, "ucl": lim.r_ucl, "lcl": lim.r_lcl, "index": p.index},
            )
        key = (lim.cl, lim.ucl, lim.lcl)
        if key != self._published_limits or p.index % self.config.limits_every == 0:
            self._published_limits = key
            for name, level in (("cl", lim.cl), ("ucl", lim.ucl), ("lcl", lim.lcl)):
                await ctx.publish_kpi(f"{c}_x_{name}", level, ts=ts, window="limits")
            for name, level in (("cl", lim.r_cl), ("ucl", lim.r_ucl), ("lcl", lim.r_lcl)):
                await ctx.publish_kpi(f"{c}_{spread_name}_{name}", level, ts=ts, window="limits")
        for chart, v in p.violations:
            self.violations += 1
            await ctx.publish_event(
                "spc",
                "spc_violation",
                ts=ts,
                severity=self.config.severity,
                message=f"{c}: {v.rule} ({v.description}) on the {'range' if chart == 'r' else 'value'} chart",
                data={
                    "rule": v.rule,
                    "description": v.description,
                    "characteristic": c,
                    "chart": (
                        spread_name if chart == "r" else ("i" if self.chart.n == 1 else "xbar")
                    ),
                    "index": v.index,
                    "phase": p.phase,
                    "points": [
                        {"index": i, "ts": _dt(t).isoformat(), "value": val}
                        for i, t, val in v.points
                    ],
                    "cl": lim.r_cl if chart == "r" else lim.cl,
                    "ucl": lim.r_ucl if chart == "r" else lim.ucl,
                    "lcl": lim.r_lcl if chart == "r" else lim.lcl,
                },
            )
        if self.config.spec and p.index % self.config.capability_every == 0:
            cap = self.chart.capability.result()
            if cap is not None:
                attrs = {
                    "n": cap.n,
                    "mean": cap.mean,
                    "sigma_within": cap.sigma_within,
                    "sigma_overall": cap.sigma_overall,
                    "lsl": self.config.spec.lsl,
                    "usl": self.config.spec.usl,
                }
                for name in ("cp", "cpk", "pp", "ppk"):
                    value = getattr(cap, name)
                    if value is not None:
                        await ctx.publish_kpi(
                            f"{c}_{name}", value, ts=ts, window="rolling", attrs=attrs
                        )

    def metrics(self) -> dict[str, Any]:
        """Intake counters, chart points, violations, phase."""
        return {
            **self.intake.counters.as_dict(),
            "chart_points": self.chart.count,
            "violations": self.violations,
            "phase": 2 if self.chart.limits is not None else 1,
            "phase1_collected": len(self.chart.phase1),
        }


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the spc component."""
    register.add(SpcComponent)
