"""Time poisoning (issue 19.4): one batch stamped years ahead must not move, storm or poison OEE.

The intake quarantines batches far from the gateway's clock (a fake clock here); the engine
bounds the windows one sample may close; saved state from the future is discarded at load.
"""

from __future__ import annotations

from datetime import UTC, datetime

import oee_scenario as sc
import pytest
from kit_oee.engine import OeeEngine, Report, Skip
from test_oee_calc import params
from test_oee_component import (
    ASSET,
    collect_kpis,
    final_kpis,
    points,
    publish_rows,
    spec,
    started,
)

from kit import codec
from kit.components import ComponentContext
from kit.testing import FakeClock, wait_for

TEN_YEARS = 10 * 365 * 86400.0


def test_a_ten_year_jump_closes_a_bounded_number_of_windows():
    eng = OeeEngine(params())
    rows = sc.samples()
    for t, state, produced, reject in rows[:100]:
        eng.feed(t, state=state, produced=produced, reject=reject)
    out = eng.feed(rows[100][0] + TEN_YEARS, state="run")
    reports = [o for o in out if isinstance(o, Report)]
    # Without the bound: one final report per weekday shift of ten years (~2,600).
    assert len(reports) <= eng.p.max_window_closes + 2
    assert [o for o in out if isinstance(o, Skip)], "the jumped gap is summarised"


async def _events(bus, into):
    async def cb(msg):
        into.append(codec.decode_event(msg.data))

    await bus.nc.subscribe("kit.event.data.>", cb=cb)


async def test_forged_future_batch_is_quarantined_and_the_shift_stays_exact(
    bus, kit_settings, make_runtime
):
    kpis, events = [], []
    await collect_kpis(bus, kpis)
    await _events(bus, events)
    clock = FakeClock(datetime.fromtimestamp(sc.T_END + 600, UTC))
    rt = await make_runtime(
        kit_settings.model_copy(update={"components": [spec(counter_max=None)]}), clock=clock
    )
    comp = await started(rt)
    producer = ComponentContext("plc1", bus, asset=ASSET)
    forger = ComponentContext("plc1-forged", bus, asset=ASSET)
    rows = sc.samples()
    cut = len(rows) // 2
    await publish_rows(producer, rows[:cut])
    await forger.publish_samples(
        points("run", 99999, 0), ts=datetime.fromtimestamp(rows[cut][0] + TEN_YEARS, UTC)
    )
    await publish_rows(producer, rows[cut:])
    await wait_for(lambda: len(final_kpis(kpis)) >= 10, message="final shift KPIs")
    exp = sc.expected()
    got = final_kpis(kpis)
    assert (got["produced"].value, got["reject"].value) == (exp["produced"], exp["reject"])
    assert got["oee"].value == pytest.approx(exp["oee"])
    assert comp.metrics()["intake_quarantined_future"] == 1
    assert all(k.window_end.year < 2030 for k in kpis)
    await wait_for(lambda: events, message="quarantine event")
    assert events[0].type == "batch_quarantined" and events[0].data["reason"] == "ts_future"


async def test_saved_state_from_the_future_is_discarded_at_load(bus, kit_settings, make_runtime):
    poisoned = OeeEngine(params())
    poisoned.feed(sc.T0 + TEN_YEARS, state="run", produced=0, reject=0)
    await ComponentContext("oee-press1", bus).save_state(
        {"engine": poisoned.to_state(), "seq": {}}, "oee"
    )
    kpis: list = []
    await collect_kpis(bus, kpis)
    clock = FakeClock(datetime.fromtimestamp(sc.T_END + 600, UTC))
    rt = await make_runtime(
        kit_settings.model_copy(update={"components": [spec(counter_max=None)]}), clock=clock
    )
    comp = await started(rt)
    assert comp.metrics()["state_discarded"] == 1
    producer = ComponentContext("plc1", bus, asset=ASSET)
    await publish_rows(producer, sc.samples())
    await wait_for(lambda: len(final_kpis(kpis)) >= 10, message="final shift KPIs")
    assert final_kpis(kpis)["oee"].value == pytest.approx(sc.expected()["oee"])


async def test_state_read_timeout_does_not_overwrite_saved_shift_totals(bus, nats_server, caplog):
    """Issue 18.6: the KV unreadable at start (server down) is not "no state" — the shift
    totals saved before survive, and the shift's final figures are exact."""
    import asyncio

    from kit_oee.config import OeeConfig
    from kit_oee.plugin import OeeComponent

    cfg = OeeConfig.model_validate(spec().config)
    kpis: list = []
    producer = ComponentContext("plc1", bus, asset=ASSET)
    rows = sc.samples(counter_max=255)
    cut = len(rows) // 2

    comp1 = OeeComponent(cfg, ComponentContext("oee-press1", bus, asset=ASSET))
    task1 = asyncio.get_running_loop().create_task(comp1.run())
    await wait_for(lambda: comp1.ready, message="first instance subscribed")
    await publish_rows(producer, rows[:cut])
    await wait_for(lambda: comp1.counts["used"] == cut, message="first half consumed")
    task1.cancel()  # saves on the way out
    await asyncio.gather(task1, return_exceptions=True)

    await nats_server.stop()  # the state KV cannot be read
    await wait_for(lambda: not bus.nc.is_connected, message="bus sees the outage")
    comp2 = OeeComponent(cfg, ComponentContext("oee-press1", bus, asset=ASSET))
    task2 = asyncio.get_running_loop().create_task(comp2.run())
    # Its state read fails at least once (request timeout) before the server returns.
    await wait_for(
        lambda: "saved state not readable yet" in caplog.text or comp2.ready,
        timeout=30,
        message="a failed state read",
    )
    await nats_server.start()
    try:
        await wait_for(lambda: comp2.ready, timeout=60, message="second instance subscribed")
        assert comp2.engine.samples == cut  # the saved totals, not a fresh engine
        await collect_kpis(bus, kpis)
        await bus.sync_subscriptions()
        await publish_rows(producer, rows[cut:])
        await wait_for(lambda: len(final_kpis(kpis)) >= 10, message="final shift KPIs")
        got, exp = final_kpis(kpis), sc.expected()
        assert (got["produced"].value, got["reject"].value) == (exp["produced"], exp["reject"])
        assert got["oee"].value == pytest.approx(exp["oee"])
    finally:
        task2.cancel()
        await asyncio.gather(task2, return_exceptions=True)
