"""The ``alarms`` analytics component (one per asset) and its control API endpoints.

The component is a thin wrapper: it feeds accepted readings to the pure
:class:`~kit_alarms.engine.AlarmEngine`, publishes the resulting transitions as ``alarm``
events on ``KIT_EVENTS``, keeps the alarm state in KV (``ctx.save_state``) so a restart
resumes with the same unacknowledged and shelved alarms, and serves ``alarms.list``,
``alarms.ack``, ``alarms.shelve``, ``alarms.unshelve`` (and ``alarms.out_of_service``).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

import kit
from kit.components import Analytics, ComponentContext, save_when_dirty
from kit.errors import KitError
from kit.intake import Intake, TimeLimits
from kit.payloads import SampleBatch
from kit_alarms.engine import AlarmEngine, Notice
from kit_alarms.flood import FloodDetector
from kit_alarms.rules import AlarmRule
from kit_alarms.states import LETTER, AlarmOperationError, State

SEVERITY = {"low": "low", "medium": "medium", "high": "high", "critical": "critical"}


class AlarmsConfig(BaseModel):
    """Settings of one alarms component (usually compiled from a recipe's alarm rules)."""

    model_config = ConfigDict(extra="forbid")

    rules: list[AlarmRule] = Field(min_length=1, max_length=500)
    """The alarm rules of this asset (see docs/plugins/alarms.md). At most 500: the whole
    alarm state is one KV value, which must stay well under the 1 MB NATS message limit."""
    flood_window_s: float = Field(600.0, gt=0)
    """Flood window (ISA-18.2: 10 minutes)."""
    flood_start_above: int = Field(10, ge=1)
    """A flood starts when the window holds more than this many alarms."""
    flood_end_below: int = Field(5, ge=1)
    """A flood ends when the window holds fewer than this many alarms."""
    tick_s: float = Field(1.0, gt=0, le=60)
    """How often time advances without data (stale detection, shelving expiry)."""
    save_interval_s: float = Field(5.0, gt=0)
    """At most one state save per interval for routine changes; operator actions and alarm
    transitions are saved at once."""
    time_tolerance: TimeLimits = Field(default_factory=TimeLimits)
    """Batches stamped further than this from the gateway's clock are quarantined (docs/bus.md)."""

    @model_validator(mode="after")
    def _check(self) -> AlarmsConfig:
        ids = [r.rule_id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(
                f"duplicate rule id(s) {', '.join(dupes)}: set a unique `id` on each rule"
            )
        if self.flood_end_below > self.flood_start_above:
            raise ValueError("flood_end_below must not exceed flood_start_above")
        return self


def _dt(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


_TIME_KEYS = ("raised_at", "returned_at", "acked_at", "shelved_at", "shelved_until")


def public(d: dict[str, Any]) -> dict[str, Any]:
    """An alarm dict for the control API: times as ISO 8601 UTC strings."""
    return {
        k: (_dt(v).isoformat() if k in _TIME_KEYS and isinstance(v, (int, float)) else v)
        for k, v in d.items()
    }


class AlarmsComponent(Analytics[AlarmsConfig]):
    """ISA-18.2 alarms of one asset: thresholds, rate, deviation, stale, bad quality."""

    name: ClassVar[str] = "alarms"
    summary: ClassVar[str] = (
        "ISA-18.2 alarms: limits, rate, deviation, stale, quality; ack, shelve, flood"
    )
    Config: ClassVar[type[BaseModel]] = AlarmsConfig

    def __init__(self, config: AlarmsConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        flood = FloodDetector(
            config.flood_window_s, config.flood_start_above, config.flood_end_below
        )
        self.engine = AlarmEngine(ctx.name, list(config.rules), flood=flood)
        self.intake = Intake(
            self.engine.bindings(), str(ctx.asset) if ctx.asset else None, config.time_tolerance
        )
        self.events_published = 0
        self._dirty = asyncio.Event()
        self._lock = asyncio.Lock()

    async def run(self) -> None:
        """Restore state, subscribe to the bound assets, advance time every ``tick_s``."""
        saved = await self.ctx.load_state() or {}
        self.engine.restore(saved.get("engine"))
        self.intake.restore(saved.get("intake"), self.ctx.clock.now().timestamp())
        for subject in self.intake.subjects():
            await self.ctx.subscribe_samples(subject, self.on_batch)
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._ticks())
            tasks.create_task(
                save_when_dirty(
                    self._save_locked, self._dirty, self.ctx.clock, self.config.save_interval_s
                )
            )

    async def _ticks(self) -> None:
        # Time passes without batches too (delays, off-delays, shelving expiry).
        while True:
            await self.ctx.clock.sleep(self.config.tick_s)
            async with self._lock:
                self.engine.advance(self.ctx.clock.now().timestamp())
                await self._publish(self.engine.drain())

    async def _save_locked(self) -> None:
        async with self._lock:  # not while a batch is half applied
            await self.save()

    async def on_batch(self, batch: SampleBatch) -> None:
        """Evaluate the rules on one batch (duplicates and out-of-order batches dropped)."""
        async with self._lock:
            if not await self.intake.admit(batch, self.ctx):
                return
            engine = self.engine
            for r in self.intake.readings(batch):
                for name in r.inputs:
                    engine.on_reading(name, r.ts, r.value, r.quality)
            engine.advance(batch.ts.timestamp())
            self._dirty.set()
            notices = engine.drain()
            if notices:
                await self._publish(notices)
                await self.save()

    async def save(self) -> None:
        """Persist alarm state and intake positions."""
        await self.ctx.save_state({"engine": self.engine.to_dict(), "intake": self.intake.state()})

    async def _publish(self, notices: list[Notice]) -> None:
        for n in notices:
            if n.flood is not None:
                f = n.flood
                await self.ctx.publish_event(
                    "alarm",
                    "flood_started" if f.started else "flood_ended",
                    ts=_dt(f.ts),
                    severity="high" if f.started else "info",
                    message=(
                        f"alarm flood: {f.count} alarms in {self.config.flood_window_s:g} s"
                        if f.started
                        else f"alarm flood ended after {f.duration_s:.0f} s"
                    ),
                    data={
                        "count": f.count,
                        "window_s": self.config.flood_window_s,
                        "duration_s": f.duration_s,
                        "component": self.ctx.name,
                    },
                )
            elif n.transition is not None:
                tr, rule = n.transition, n.rule
                st = self.engine.status[rule.rule_id]
                data = {
                    "alarm_id": tr.alarm_id,
                    "rule": rule.rule_id,
                    "rule_type": rule.type,
                    "point": rule.input.point,
                    "priority": rule.priority,
                    "cause": tr.cause,
                    "state": tr.to_state.value,
                    "letter": LETTER[tr.to_state],
                    "previous_state": tr.from_state.value,
                    "value": st.value,
                    "who": tr.who,
                    "occurrences": st.occurrences,
                }
                for k in ("limit", "limit_per_s", "timeout_s", "deadband"):
                    if hasattr(rule, k):
                        data[k] = getattr(rule, k)
                if tr.to_state is State.shelved:
                    data["shelved_until"] = (
                        _dt(st.shelved_until).isoformat() if st.shelved_until else None
                    )
                await self.ctx.publish_event(
                    "alarm",
                    f"alarm_{tr.cause}",
                    ts=_dt(tr.ts),
                    severity=SEVERITY[rule.priority] if tr.cause == "raised" else "info",
                    message=rule.describe(),
                    data=data,
                )
            self.events_published += 1
        if notices:
            active = sum(1 for s in self.engine.status.values() if s.active)
            unacked = sum(
                1
                for s in self.engine.status.values()
                if s.state in (State.unacknowledged, State.returned_unacknowledged)
            )
            await self.ctx.publish_kpi("alarms_active", active)
            await self.ctx.publish_kpi("alarms_unacknowledged", unacked)
            await self.ctx.publish_kpi(
                "alarms_in_flood_window",
                self.engine.flood.count,
                attrs={"in_flood": self.engine.flood.in_flood},
            )

    # -- operator actions (control API) ----------------------------------------------------
    async def act(self, action: str, alarm_id: str, who: str, **kw: Any) -> dict[str, Any]:
        """Apply an operator action; saved at once and published as an event."""
        now = self.ctx.clock.now().timestamp()
        async with self._lock:
            try:
                if action == "ack":
                    self.engine.ack(alarm_id, who, now)
                elif action == "shelve":
                    self.engine.shelve(alarm_id, who, float(kw["duration_s"]), now)
                elif action == "unshelve":
                    self.engine.unshelve(alarm_id, who, now)
                elif action == "out_of_service":
                    self.engine.set_out_of_service(alarm_id, bool(kw["out_of_service"]), who, now)
            except AlarmOperationError as exc:
                raise KitError(str(exc)) from None
            await self._publish(self.engine.drain())
            await self.save()
            _, st = self.engine._status_of(alarm_id)
            return public(st.to_dict())

    def owns(self, alarm_id: str) -> bool:
        """Whether ``alarm_id`` belongs to this component."""
        return (
            alarm_id.startswith(self.ctx.name + "/")
            and alarm_id.split("/", 1)[1] in self.engine.status
        )

    def metrics(self) -> dict[str, Any]:
        """Intake counters, alarm counts, flood state."""
        states = [s.state.value for s in self.engine.status.values()]
        return {
            **self.intake.counters.as_dict(),
            "alarms": len(states),
            "active": sum(1 for s in self.engine.status.values() if s.active),
            "unacknowledged": states.count("unacknowledged")
            + states.count("returned_unacknowledged"),
            "shelved": states.count("shelved"),
            "in_flood": self.engine.flood.in_flood,
            "floods": self.engine.flood.floods,
            "events": self.events_published,
        }


# -- control API ------------------------------------------------------------------------------
def _components(runtime: Any) -> list[AlarmsComponent]:
    return [
        i.component
        for i in runtime.supervisor.instances.values()
        if isinstance(i.component, AlarmsComponent)
    ]


def _owner(runtime: Any, alarm_id: str) -> AlarmsComponent:
    for c in _components(runtime):
        if c.owns(alarm_id):
            return c
    known = [a for c in _components(runtime) for a in (s.id for s in c.engine.status.values())]
    hint = f"; known: {', '.join(known[:10])}" if known else "; no alarms component is running"
    raise KitError(f"no alarm with id {alarm_id!r}{hint}")


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the alarms component."""
    register.add(AlarmsComponent)


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``alarms.list``, ``alarms.ack``, ``alarms.shelve``, ``alarms.unshelve``, ``alarms.out_of_service``."""

    from kit_alarms import api as alarms_api

    async def list_(body: alarms_api.ListRequest) -> list[dict[str, Any]]:
        active_only = body.active_only
        out = []
        for c in _components(runtime):
            for d in c.engine.listing(active_only):
                d["component"], d["asset"] = c.ctx.name, str(c.ctx.asset) if c.ctx.asset else None
                out.append(public(d))
        return out

    async def ack(b: alarms_api.AlarmAction) -> dict[str, Any]:
        return await _owner(runtime, b.id).act("ack", b.id, b.who)

    async def shelve(b: alarms_api.ShelveRequest) -> dict[str, Any]:
        return await _owner(runtime, b.id).act("shelve", b.id, b.who, duration_s=b.duration_s)

    async def unshelve(b: alarms_api.AlarmAction) -> dict[str, Any]:
        return await _owner(runtime, b.id).act("unshelve", b.id, b.who)

    async def oos(b: alarms_api.OutOfServiceRequest) -> dict[str, Any]:
        return await _owner(runtime, b.id).act(
            "out_of_service", b.id, b.who, out_of_service=b.out_of_service
        )

    api.add(alarms_api.LIST, list_)
    api.add(alarms_api.ACK, ack)
    api.add(alarms_api.SHELVE, shelve)
    api.add(alarms_api.UNSHELVE, unshelve)
    api.add(alarms_api.OUT_OF_SERVICE, oos)
