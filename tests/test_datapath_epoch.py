"""A restarted producer inside the stream's duplicate window loses nothing (issue 19.1).

Every component instance numbers its batches from 0; without an instance epoch in the
``Nats-Msg-Id`` JetStream drops the new run's first batches as duplicates of the old run's.
Completeness is counted against the producers' own counters, on a real nats-server.
"""

import asyncio
from typing import ClassVar

from kit import codec
from kit.components import ComponentContext, Source
from kit.payloads import HealthStatus, Point, Quality
from kit.settings import SupervisorSettings
from kit.supervisor import Instance, Supervisor
from kit.testing import wait_for


async def _stored(bus, subject: str) -> list:
    """Every sample batch the stream holds on ``subject``, decoded."""
    sub = await bus.js.subscribe(subject, ordered_consumer=True)
    n = (await bus.js.stream_info("KIT_DATA")).state.messages
    out = []
    for _ in range(n):
        msg = await sub.next_msg(timeout=5)
        out.append(codec.decode_batch(msg.data))
    await sub.unsubscribe()
    return out


async def test_restarted_context_stores_every_batch_of_the_new_run(bus):
    published = 0
    for _run in range(3):  # three runs of the same component within one duplicate window
        ctx = ComponentContext("press-1", bus, asset="s/a/l/m")
        writer = ctx.sample_writer([("power_w", "W"), ("count", None)])
        for i in range(20):
            await writer.publish([float(i), i])
            published += 1
        for i in range(5):  # the generic path takes the same encoder and ids
            await ctx.publish_samples([Point(name="power_w", value=float(i), unit="W")])
            published += 1
    await bus.flush()
    batches = await _stored(bus, "kit.data.s.a.l.m")
    assert len(batches) == published == 75
    assert bus.duplicates_dropped == 0
    epochs = [b.epoch for b in batches]
    assert len(set(epochs)) == 3 and epochs == sorted(epochs)
    for e in set(epochs):  # each run is a complete sequence from 0
        assert [b.seq for b in batches if b.epoch == e] == list(range(25))


async def test_duplicate_acks_are_counted_per_source(bus):
    ctx = ComponentContext("press-2", bus, asset="s/a/l/m")
    await bus.publish("kit.data.s.a.l.m", b"{}", msg_id="press-2:x:1:0")
    await bus.publish("kit.data.s.a.l.m", b"{}", msg_id="press-2:x:1:0")
    await bus.flush()
    assert bus.acks.duplicates == {"press-2": 1}
    assert ctx.duplicates_dropped() == 1


class _Crashy(Source):
    """Publishes ``per_run`` batches, then crashes the first two times (a supervisor restart)."""

    name: ClassVar[str] = "crashy"
    runs: ClassVar[list[int]] = []

    async def run(self) -> None:
        writer = self.ctx.sample_writer([("v", None)])
        for i in range(10):
            await writer.publish([i])
        type(self).runs.append(10)
        if len(type(self).runs) < 3:
            raise RuntimeError("crash")
        await asyncio.Event().wait()


async def test_supervisor_restart_stores_every_batch(bus):
    _Crashy.runs = []
    sup = Supervisor(
        SupervisorSettings(backoff_initial_s=0.01, backoff_max_s=0.02, crash_loop_failures=10),
        publish=bus.publish_core,
    )
    inst = Instance(
        name="crashy-1",
        type="crashy",
        cls=_Crashy,
        config=_Crashy.Config(),
        make_context=lambda: ComponentContext("crashy-1", bus, asset="s/a/l/c"),
    )
    sup.add(inst)
    try:
        await wait_for(lambda: len(_Crashy.runs) == 3, message="three runs")
        await wait_for(lambda: inst.status is HealthStatus.running, message="running")
        await bus.flush()
        batches = await _stored(bus, "kit.data.s.a.l.c")
        assert len(batches) == sum(_Crashy.runs) == 30
        assert all(p.quality is Quality.good for b in batches for p in b.points)
        assert inst.summary()["metrics"].get("duplicates_dropped", 0) == 0
    finally:
        await sup.stop_all()


async def test_supervisor_backoff_runs_on_the_context_clock(bus):
    """One backoff formula on the component's clock: 30 s, 60 s, 120 s restarts take no time."""
    from datetime import UTC, datetime

    from kit.testing import FakeClock

    _Crashy.runs = []
    clock = FakeClock(datetime(2026, 11, 23, tzinfo=UTC), instant=True)
    s = SupervisorSettings(
        backoff_initial_s=30, backoff_max_s=120, jitter=0.2, crash_loop_failures=10
    )
    sup = Supervisor(s, publish=bus.publish_core)
    inst = Instance(
        name="crashy-2",
        type="crashy",
        cls=_Crashy,
        config=_Crashy.Config(),
        make_context=lambda: ComponentContext("crashy-2", bus, asset="s/a/l/d", clock=clock),
    )
    sup.add(inst)
    try:
        await wait_for(lambda: len(_Crashy.runs) == 3, message="three runs")
        assert clock.slept == inst.delays and len(inst.delays) == 2
        for d, base in zip(inst.delays, (30, 60)):
            assert base * 0.8 <= d <= base  # jitter only shortens: the cap is a promise
    finally:
        await sup.stop_all()
