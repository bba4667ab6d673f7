"""The ``oee`` analytics component, its control endpoints and hook implementations.

The component is a thin wrapper: it routes bound points of incoming sample batches into
:class:`kit_oee.engine.OeeEngine` (pure, tested alone), publishes what the engine reports
and keeps the engine's state in KV so a restart continues the shift.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel

import kit
from kit import subjects
from kit.components import Analytics, ComponentContext, save_when_dirty
from kit.errors import KitError
from kit.intake import SeqGate, announce_skip, check_saved_time
from kit.payloads import Quality, SampleBatch
from kit_oee.config import OeeConfig
from kit_oee.engine import Downtime, OeeEngine, Report, Skip
from kit_oee.routing import route_table

SAVE_INTERVAL_S = 1.0
STATE_KEY = "oee"
#: Why a window's OEE or effectiveness above 100 % is published with quality ``uncertain``.
IMPLAUSIBLE = (
    "effectiveness above 100 %: ideal_cycle_s is longer than the machine's real cycle, "
    "or parts were counted without their production time"
)
#: The KPIs that depend on the ideal cycle time (the ones an over-100 % window makes doubtful).
_RATE_KPIS = frozenset({"oee", "effectiveness"})


def _dt(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def downtime_json(d: Downtime) -> dict[str, Any]:
    """A downtime as JSON (control API, events)."""
    return {
        "id": d.id,
        "start": _dt(d.start).isoformat(),
        "end": _dt(d.end).isoformat() if d.end else None,
        "duration_s": d.duration_s,
        "planned_s": round(d.planned_s, 3),
        "state": d.state,
        "reason": d.reason,
        "who": d.who,
        "assigned_at": _dt(d.assigned_at).isoformat() if d.assigned_at else None,
    }


class OeeComponent(Analytics[OeeConfig]):
    """OEE (ISO 22400-2): availability, effectiveness, quality, OEE, downtime, MTBF/MTTR."""

    name: ClassVar[str] = "oee"
    summary: ClassVar[str] = "OEE per ISO 22400-2 per shift and rolling, downtime events, MTBF/MTTR"
    Config: ClassVar[type[BaseModel]] = OeeConfig

    def __init__(self, config: OeeConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        self.params = config.engine_params()
        self.engine = OeeEngine(self.params)
        self.seq = SeqGate(config.time_tolerance)
        default_asset = str(ctx.asset) if ctx.asset else None
        self.routes = route_table(dict(config.inputs), default_asset)
        self.codes = config.state_codes.lookup()
        self.counts = {
            "batches": 0,
            "used": 0,
            "excluded_quality": 0,
            "invalid_values": 0,
            "unknown_state_codes": 0,
            "kpis": 0,
            "downtimes": 0,
            "windows_skipped": 0,
            "state_discarded": 0,
            "implausible_reports": 0,
        }
        self._warned_implausible = False
        self.unknown_codes = {str(c) for c in config.state_codes.unknown}
        self._dirty = asyncio.Event()
        self.ready = False
        """True once subscribed (tests and status wait for it)."""

    # -- life cycle -----------------------------------------------------------------------
    async def run(self) -> None:
        """Restore state, subscribe to every bound asset, save state as it changes."""
        saved = await self.ctx.load_state(STATE_KEY)
        if saved and saved.get("engine"):
            engine = saved["engine"]
            if await check_saved_time(self.ctx, engine.get("last_ts"), self.seq.limits):
                self.engine = OeeEngine(self.params, engine)
            else:
                self.counts["state_discarded"] += 1
            self.seq.restore(saved.get("seq"), self.ctx.clock.now().timestamp())
        for tokens in self.routes:
            await self.ctx.subscribe_samples(f"{subjects.DATA_PREFIX}.{tokens}", self.handle)
        self.ready = True
        await save_when_dirty(self.save, self._dirty, self.ctx.clock, SAVE_INTERVAL_S)

    async def save(self) -> None:
        """Write the engine and sequence state to KV."""
        await self.ctx.save_state(
            {"engine": self.engine.to_state(), "seq": self.seq.state()}, STATE_KEY
        )

    # -- samples --------------------------------------------------------------------------
    def extract(self, batch: SampleBatch) -> dict[str, Any]:
        """Bound inputs found in ``batch`` with good quality, converted for the engine."""
        roles = self.routes.get(subjects.AssetPath.parse(batch.asset).tokens)
        found: dict[str, Any] = {}
        if not roles:
            return found
        for p in batch.points:
            role = roles.get(p.name)
            if role is None:
                continue
            if p.quality is not Quality.good or p.value is None:
                self.counts["excluded_quality"] += 1
                continue
            value = self._convert(role, p.value)
            if value is None:
                self.counts["invalid_values"] += 1
                continue
            found[role] = value
        return found

    def _convert(self, role: str, v: Any) -> Any:
        if role == "running":
            if isinstance(v, str):
                v = v.strip().lower() in ("1", "true", "on", "yes", "run", "running")
            return "run" if v else self.config.stopped_state
        if role == "state_code":
            key = str(int(v)) if isinstance(v, float) and v.is_integer() else str(v)
            state = self.codes.get(key)
            if state is None or key in self.unknown_codes:
                self.counts["unknown_state_codes"] += 1  # never guessed silently
                return self.config.unknown_state if state is None else state
            return state
        if isinstance(v, bool) or isinstance(v, str):
            try:
                return float(v)
            except ValueError:
                return None
        return float(v)

    async def handle(self, batch: SampleBatch) -> None:
        """Feed one batch to the engine and publish what it reports."""
        self.counts["batches"] += 1
        if not await self.seq.admit(batch, self.ctx):
            return
        ts = batch.ts.timestamp()
        found = self.extract(batch)
        if not found:
            return
        self.counts["used"] += 1
        state = found.get("running", found.get("state_code"))
        outputs = self.engine.feed(
            ts,
            state=state,
            produced=found.get("produced"),
            good=found.get("good"),
            reject=found.get("reject"),
        )
        for item in outputs:
            if isinstance(item, Report):
                await self.publish_report(item)
            elif isinstance(item, Skip):
                await self.publish_skip(item)
            else:
                await self.publish_downtime(item)
        self._dirty.set()

    # -- publishing -----------------------------------------------------------------------
    async def publish_report(self, r: Report) -> None:
        """Publish the KPIs of one report (window ``shift:<id>`` or ``rolling``)."""
        f = r.factors
        t = r.totals
        common: dict[str, Any] = {
            "window": r.window,
            "window_start": _dt(r.start),
            "window_end": _dt(r.end),
            "ts": _dt(r.ts),
        }
        flags: dict[str, Any] = {
            "final": r.final,
            "effectiveness_over_100": f.effectiveness_over_100,
        }
        # Above 100 % the figures contradict the declared ideal cycle: published (never
        # capped — it shows the configuration is wrong) but not as a good value.
        impossible = f.effectiveness_over_100 or (f.oee is not None and f.oee > 1.0 + 1e-9)
        if impossible:
            flags["implausible"] = IMPLAUSIBLE
            self.counts["implausible_reports"] += 1
            if not self._warned_implausible:
                self._warned_implausible = True
                self.ctx.log.warning(
                    "%s: %s (window %s, %s parts in %.0f s of production, ideal cycle %g s)",
                    self.ctx.name,
                    IMPLAUSIBLE,
                    r.window,
                    f"{r.produced:g}",
                    t["apt_s"],
                    self.params.pru_s,
                )
        values: list[tuple[str, Any, str | None, dict[str, Any]]] = [
            ("oee", f.oee, None, {**flags, **t}),
            (
                "availability",
                f.availability,
                None,
                {"final": r.final, "apt_s": t["apt_s"], "pbt_s": t["pbt_s"]},
            ),
            ("effectiveness", f.effectiveness, None, flags),
            ("quality", f.quality, None, {"final": r.final}),
            ("produced", r.produced, None, {"final": r.final}),
            ("good", r.good, None, {"final": r.final}),
            ("reject", r.reject, None, {"final": r.final}),
            (
                "downtime_s",
                max(0.0, t["pbt_s"] - t["apt_s"]),
                "s",
                {"final": r.final, "stops": t["stops"]},
            ),
            ("mtbf_s", r.mtbf_s, "s", {"final": r.final, "failures": t["failures"]}),
            ("mttr_s", r.mttr_s, "s", {"final": r.final, "failures": t["failures"]}),
        ]
        for kpi, value, unit, attrs in values:
            if value is None:
                continue  # undefined (no planned time, no failure yet): absent, not 0
            quality = Quality.uncertain if impossible and kpi in _RATE_KPIS else Quality.good
            await self.ctx.publish_kpi(
                kpi, value, unit=unit, attrs=attrs, quality=quality, **common
            )
            self.counts["kpis"] += 1

    async def publish_skip(self, s: Skip) -> None:
        """Announce a gap the windows jumped over (one event, not one report per empty shift)."""
        self.counts["windows_skipped"] += 1
        await announce_skip(self.ctx, s.start, s.end, "shifts in between are not reported")

    async def publish_downtime(self, d: Downtime) -> None:
        """Publish a finished downtime as a ``downtime`` event."""
        self.counts["downtimes"] += 1
        data = downtime_json(d)
        await self.ctx.publish_event(
            "downtime",
            "downtime_ended",
            ts=_dt(d.end or d.start),
            data=data,
            message=f"{d.state} for {d.duration_s:.0f} s from {data['start']}",
        )

    async def assign_reason(self, downtime_id: str, reason: str, who: str) -> dict[str, Any]:
        """Attach a reason code to a downtime, announce it and persist it."""
        try:
            d = self.engine.assign_reason(
                downtime_id, reason, who, self.ctx.clock.now().timestamp()
            )
        except KeyError:
            raise KitError(
                f"no downtime {downtime_id!r} in component {self.ctx.name!r} "
                "(see `oee.downtimes`; only the latest are kept)"
            ) from None
        data = downtime_json(d)
        await self.ctx.publish_event(
            "downtime",
            "downtime_reason_assigned",
            data=data,
            message=f"reason {reason!r} assigned by {who}",
        )
        await self.save()
        return data

    def metrics(self) -> dict[str, Any]:
        """Counts of batches used and skipped, KPIs and downtimes published."""
        return {
            **self.counts,
            **{f"intake_{k}": v for k, v in self.seq.counters.as_dict().items()},
            "duplicates": self.seq.counters.duplicates,
            "out_of_order": self.seq.counters.out_of_order,
            "counter_rollovers": sum(c.rollovers for c in self.engine.counters.values()),
            "counter_resets": sum(c.resets for c in self.engine.counters.values()),
            "counter_corrections": sum(c.corrections for c in self.engine.counters.values()),
            "shift": self.engine.shift_id,
        }


# -- control endpoints ------------------------------------------------------------------------
def _instance(runtime: Any, body: Any) -> OeeComponent:
    name = (body or {}).get("component")
    inst = runtime.supervisor.instances.get(name)
    if inst is None or inst.type != OeeComponent.name:
        names = sorted(
            n for n, i in runtime.supervisor.instances.items() if i.type == OeeComponent.name
        )
        raise KitError(f"no oee component named {name!r}; running: {', '.join(names) or 'none'}")
    if inst.component is None:
        raise KitError(f"oee component {name!r} is not running ({inst.status.value})")
    component: OeeComponent = inst.component
    return component


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the oee component."""
    register.add(OeeComponent)


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``oee.downtimes {component}`` and ``oee.assign_reason {component, downtime_id, reason, who}``."""

    from kit_oee import api as oee_api

    async def downtimes(b: oee_api.ComponentRequest) -> list[dict[str, Any]]:
        comp = _instance(runtime, {"component": b.component})
        return [downtime_json(d) for d in comp.engine.downtime_list()]

    async def assign_reason(b: oee_api.AssignReasonRequest) -> dict[str, Any]:
        comp = _instance(runtime, {"component": b.component})
        return await comp.assign_reason(b.downtime_id, b.reason, b.who)

    api.add(oee_api.DOWNTIMES, downtimes)
    api.add(oee_api.ASSIGN_REASON, assign_reason)
