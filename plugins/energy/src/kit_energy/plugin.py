"""The ``energy`` analytics component and its hook implementation.

A thin wrapper around :class:`kit_energy.engine.EnergyEngine`: it routes bound points of
the meter's (and the machine's) sample batches into the engine, publishes its reports as
KPIs and keeps its state in KV so a restart continues the hour, shift and day.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

from kit_oee.routing import route_table
from pydantic import BaseModel

import kit
from kit import subjects
from kit.components import Analytics, ComponentContext, save_when_dirty
from kit.intake import SeqGate, announce_skip, check_saved_time
from kit.payloads import Quality, SampleBatch
from kit_energy.config import ENERGY_UNITS, POWER_UNITS, EnergyConfig
from kit_energy.engine import EnergyEngine, EnergyParams, EnergyReport, Skip

SAVE_INTERVAL_S = 1.0
STATE_KEY = "energy"


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def params_from(config: EnergyConfig) -> EnergyParams:
    """Engine parameters (kWh, kW, epoch seconds) from the component config."""
    b = config.baseline
    scale = ENERGY_UNITS[config.energy_unit]
    return EnergyParams(
        calendar=config.calendar,
        counter_max_kwh=config.counter_max * scale if config.counter_max else None,
        count_max=config.count_max,
        demand_window_s=float(config.demand_window_s),
        max_gap_s=config.max_gap_s,
        publish_interval_s=config.publish_interval_s,
        baseline_start=b.start.timestamp() if b and b.start else None,
        baseline_end=b.end.timestamp() if b and b.end else None,
        baseline_kwh_per_hour=b.kwh_per_hour if b else None,
        baseline_kwh_per_part=b.kwh_per_part if b else None,
        baseline_basis=b.basis if b else "time",
    )


class EnergyComponent(Analytics[EnergyConfig]):
    """Energy per hour/shift/day and per part, 15-minute peak demand, idle energy, savings."""

    name: ClassVar[str] = "energy"
    summary: ClassVar[str] = (
        "kWh per hour/shift/day, per part, 15-min peak demand, idle (standby) energy, savings"
    )
    Config: ClassVar[type[BaseModel]] = EnergyConfig

    def __init__(self, config: EnergyConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        inp = config.inputs
        self.has_state = inp.running is not None or inp.state_code is not None
        self.has_count = inp.count is not None
        self.params = params_from(config)
        self.engine = self._new_engine()
        self.seq = SeqGate(config.time_tolerance)
        self.routes = route_table(dict(inp), str(ctx.asset) if ctx.asset else None)
        # A counter, when bound, is the energy source; power then only informs (not integrated).
        self.use_power = inp.energy is None
        self.running_codes = {str(c) for c in config.running_codes}
        self.counts = {
            "batches": 0,
            "used": 0,
            "excluded_quality": 0,
            "invalid_values": 0,
            "kpis": 0,
            "windows_skipped": 0,
            "state_discarded": 0,
        }
        self.ready = False
        """True once subscribed (tests and status wait for it)."""
        self._dirty = asyncio.Event()

    def _new_engine(self, state: dict[str, Any] | None = None) -> EnergyEngine:
        return EnergyEngine(
            self.params, has_state=self.has_state, has_count=self.has_count, state=state
        )

    async def run(self) -> None:
        """Restore state, subscribe to every bound asset, save state as it changes."""
        saved = await self.ctx.load_state(STATE_KEY)
        if saved and saved.get("engine"):
            engine = saved["engine"]
            if await check_saved_time(self.ctx, engine.get("last_ts"), self.seq.limits):
                self.engine = self._new_engine(engine)
            else:
                self.counts["state_discarded"] += 1
            self.seq.restore(saved.get("seq"), self.ctx.clock.now().timestamp())
        for tokens in self.routes:
            await self.ctx.subscribe_samples(f"{subjects.DATA_PREFIX}.{tokens}", self.handle)
        # ``subscribe_samples`` returns once the server holds the SUB (Bus.sync_subscriptions),
        # so ``ready`` means batches published from now on reach this component.
        self.ready = True
        await save_when_dirty(self.save, self._dirty, self.ctx.clock, SAVE_INTERVAL_S)

    async def save(self) -> None:
        """Write the engine and sequence state to KV."""
        await self.ctx.save_state(
            {"engine": self.engine.to_state(), "seq": self.seq.state()}, STATE_KEY
        )

    def _number(self, role: str, v: Any, unit: str | None) -> float | None:
        if role in ("running", "state_code"):
            if role == "running":
                if isinstance(v, str):
                    return float(v.strip().lower() in ("1", "true", "on", "yes", "run", "running"))
                return float(bool(v))
            key = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
            return float(key in self.running_codes)
        try:
            x = float(v)
        except (TypeError, ValueError):
            return None
        if role == "energy":
            return x * ENERGY_UNITS.get(unit or "", ENERGY_UNITS[self.config.energy_unit])
        if role == "power":
            return x * POWER_UNITS.get(unit or "", POWER_UNITS[self.config.power_unit])
        return x

    async def handle(self, batch: SampleBatch) -> None:
        """Feed one batch's bound points to the engine and publish what it reports."""
        self.counts["batches"] += 1
        if not await self.seq.admit(batch, self.ctx):
            return
        ts = batch.ts.timestamp()
        roles = self.routes.get(subjects.AssetPath.parse(batch.asset).tokens, {})
        found: dict[str, float] = {}
        for p in batch.points:
            role = roles.get(p.name)
            if role is None:
                continue
            if p.quality is not Quality.good or p.value is None:
                self.counts["excluded_quality"] += 1
                continue
            x = self._number(role, p.value, p.unit)
            if x is None:
                self.counts["invalid_values"] += 1
                continue
            found[role] = x
        if not found:
            return
        self.counts["used"] += 1
        eng = self.engine
        # Arrival time: the engine tells a silent machine from one whose batches are merely
        # queued behind a burst of the meter's (they come on another subscription).
        now = self.ctx.clock.monotonic()
        # State and parts first: energy over the next interval is attributed with them.
        out: list[Any] = []
        if "running" in found or "state_code" in found:
            out += eng.feed_running(ts, bool(found.get("running", found.get("state_code"))), now)
        if "count" in found:
            eng.feed_count(ts, found["count"])
        if "energy" in found:
            out += eng.feed_energy(ts, found["energy"], now)
        elif "power" in found and self.use_power:
            out += eng.feed_power(ts, found["power"], now)
        for r in out:
            if isinstance(r, Skip):
                await self.publish_skip(r)
            else:
                await self.publish_report(r)
        self._dirty.set()

    async def publish_skip(self, s: Skip) -> None:
        """Announce a gap the windows jumped over (one event instead of a report per window)."""
        self.counts["windows_skipped"] += 1
        await announce_skip(
            self.ctx, s.start, s.end, f"{s.kwh:.3f} kWh not attributed to any window", kwh=s.kwh
        )

    async def publish_report(self, r: EnergyReport) -> None:
        """Publish one report's KPIs (window label ``hour:…``, ``day:…``, ``shift:…``, ``demand:…``)."""
        common: dict[str, Any] = {
            "window": r.window,
            "window_start": _dt(r.start),
            "window_end": _dt(r.end),
            "ts": _dt(r.ts),
        }
        attrs = {"final": r.final, "covered_s": round(r.covered_s, 3)}
        if r.kind == "demand":
            items: list[tuple[str, float | None, str | None]] = [("demand_kw", r.demand_kw, "kW")]
        else:
            items = [
                ("energy_kwh", r.kwh, "kWh"),
                ("idle_energy_kwh", r.idle_kwh, "kWh"),
                ("idle_share", r.idle_share, None),
                ("unknown_state_energy_kwh", r.unknown_state_kwh, "kWh"),
                ("parts", r.parts, None),
                ("energy_per_part_kwh", r.kwh_per_part, "kWh"),
                ("peak_demand_kw", r.peak_demand_kw, "kW"),
                ("expected_kwh", r.expected_kwh, "kWh"),
                ("savings_kwh", r.savings_kwh, "kWh"),
            ]
        for kpi, value, unit in items:
            if value is None:
                continue
            await self.ctx.publish_kpi(kpi, value, unit=unit, attrs=attrs, **common)
            self.counts["kpis"] += 1

    def metrics(self) -> dict[str, Any]:
        """Counts of batches used and skipped, KPIs published, meter rollovers, power gaps."""
        return {
            **self.counts,
            **{f"intake_{k}": v for k, v in self.seq.counters.as_dict().items()},
            "duplicates": self.seq.counters.duplicates,
            "out_of_order": self.seq.counters.out_of_order,
            "meter_rollovers": self.engine.meter.rollovers,
            "meter_resets": self.engine.meter.resets,
            "power_gap_s": self.engine.gap_s,
            "unattributed_kwh": self.engine.unattributed_kwh,
        }


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the energy component."""
    register.add(EnergyComponent)
