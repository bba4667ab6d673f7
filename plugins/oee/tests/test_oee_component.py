"""The oee component on a real bus: KPIs on kit.kpi.>, restart mid-shift, bad input, endpoints."""

from __future__ import annotations

from datetime import UTC, datetime

import oee_scenario as sc
import pytest

from kit import codec
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.payloads import Point, SampleBatch
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/hall/l1/press1"


def spec(**extra) -> ComponentSpec:
    cfg = {
        "inputs": {
            "state_code": "machine_state_code",
            "produced": "count_total",
            "reject": "count_reject",
        },
        "ideal_cycle_s": sc.PRU,
        "calendar": sc.CALENDAR,
        "counter_max": 255,
        "publish_interval_s": 3600,
        "max_gap_s": 120,
    }
    cfg.update(extra)
    return ComponentSpec(name="oee-press1", type="oee", asset=ASSET, config=cfg)


CODE = {"run": 1, "idle": 2, "down": 3}  # docs/vocabulary.md machine state codes


def points(state: str, produced: int, reject: int) -> list[Point]:
    return [
        Point(name="machine_state_code", value=CODE[state]),
        Point(name="count_total", value=produced),
        Point(name="count_reject", value=reject),
        Point(name="temperature_c", value=40.0, unit="°C"),
    ]


MALFORMED: list = []


async def collect_kpis(bus, into: list):
    async def cb(msg):
        try:
            into.append(codec.decode_kpi(msg.data))
        except codec.MalformedMessage as exc:  # e.g. a null value the wire cannot carry
            MALFORMED.append((msg.subject, exc))

    return await bus.nc.subscribe("kit.kpi.>", cb=cb)


def final_kpis(kpis, window="shift:2026-11-23/early") -> dict:
    return {k.kpi: k for k in kpis if k.window == window and k.attrs.get("final")}


async def publish_rows(producer, rows) -> None:
    """Publish scenario rows ``(ts, state, produced, reject)`` as sample batches."""
    for t, state, produced, reject in rows:
        await producer.publish_samples(
            points(state, produced, reject), ts=datetime.fromtimestamp(t, UTC)
        )


async def started(rt, name="oee-press1"):
    inst = rt.supervisor.instances[name]
    await wait_for(
        lambda: inst.component is not None and getattr(inst.component, "ready", False),
        message="oee component subscribed",
    )
    return inst.component


async def test_restart_mid_shift_and_rollover_match_hand_worked_figures(
    bus, kit_settings, make_runtime
):
    kpis: list = []
    await collect_kpis(bus, kpis)
    producer = ComponentContext("plc1", bus, asset=ASSET)
    rows = sc.samples(counter_max=255)
    cut = len(rows) // 2

    settings = kit_settings.model_copy(update={"components": [spec()]})
    rt1 = await make_runtime(settings)
    comp = await started(rt1)
    await publish_rows(producer, rows[:cut])
    await wait_for(lambda: comp.counts["used"] == cut, message="first half consumed")
    await rt1.stop()  # the box reboots mid-shift

    rt2 = await make_runtime(settings)
    comp2 = await started(rt2)
    assert comp2.engine.samples == cut  # state came back from KV
    await publish_rows(producer, rows[cut:])
    await wait_for(lambda: len(final_kpis(kpis)) >= 10, message="final shift KPIs")

    exp = sc.expected()
    got = final_kpis(kpis)
    for name in ("availability", "effectiveness", "quality", "oee", "mtbf_s", "mttr_s"):
        assert got[name].value == pytest.approx(exp[name]), name
    assert (got["produced"].value, got["good"].value, got["reject"].value) == (
        exp["produced"],
        exp["good"],
        exp["reject"],
    )
    assert got["oee"].attrs["effectiveness_over_100"] is False
    assert got["oee"].window_start == datetime.fromtimestamp(sc.T0, UTC)
    assert comp2.metrics()["counter_rollovers"] >= 1
    assert MALFORMED == []  # every KPI readable (undefined figures are left out, not null)


async def test_bad_quality_duplicates_and_out_of_order_do_not_corrupt(
    bus, kit_settings, make_runtime
):
    kpis: list = []
    await collect_kpis(bus, kpis)
    rt = await make_runtime(
        kit_settings.model_copy(update={"components": [spec(counter_max=None)]})
    )
    comp = await started(rt)
    subject = "kit.data." + ASSET.replace("/", ".")
    rows = sc.samples()
    sent = []
    for i, (t, state, produced, reject) in enumerate(rows):
        batch = SampleBatch(
            asset=ASSET,
            ts=datetime.fromtimestamp(t, UTC),
            seq=i,
            source="plc1",
            points=points(state, produced, reject),
        )
        await bus.nc.publish(subject, codec.encode(batch))
        sent.append(batch)
        if i % 50 == 10:
            await bus.nc.publish(subject, codec.encode(batch))  # duplicate
            await bus.nc.publish(subject, codec.encode(sent[i - 5]))  # late, out of order
            bad = batch.model_copy(
                update={
                    "seq": i,
                    "points": [
                        Point(name="count_total", value=None, quality="bad", reason="timeout")
                    ],
                }
            )
            await bus.nc.publish(subject, codec.encode(bad))  # same seq again: dropped too
    # A bad-quality point in a fresh batch is excluded and counted, not used as 0.
    t = rows[-1][0] + 30
    await bus.nc.publish(
        subject,
        codec.encode(
            SampleBatch(
                asset=ASSET,
                ts=datetime.fromtimestamp(t, UTC),
                seq=len(rows),
                source="plc1",
                points=[
                    Point(name="count_total", quality="bad", reason="timeout"),
                    Point(name="machine_state_code", value=1),
                ],
            )
        ),
    )
    await bus.nc.publish(subject, b"{not json")
    await wait_for(lambda: comp.counts["excluded_quality"] >= 1, message="bad point counted")
    await wait_for(lambda: len(final_kpis(kpis)) >= 10, message="final shift KPIs")
    got = final_kpis(kpis)
    exp = sc.expected()
    assert got["oee"].value == pytest.approx(exp["oee"])
    assert got["produced"].value == exp["produced"]
    m = comp.metrics()
    dup_batches = len([i for i in range(len(rows)) if i % 50 == 10])
    assert m["duplicates"] == 2 * dup_batches
    assert m["out_of_order"] == dup_batches
    assert m["excluded_quality"] == 1
    await wait_for(lambda: rt.bus.malformed.total >= 1, message="malformed message counted")


async def test_downtime_events_and_reason_assignment(bus, kit_settings, make_runtime):
    events: list = []

    async def cb(msg):
        events.append(codec.decode_event(msg.data))

    await bus.nc.subscribe("kit.event.downtime.>", cb=cb)
    rt = await make_runtime(
        kit_settings.model_copy(update={"components": [spec(min_downtime_s=60)]})
    )
    await started(rt)
    producer = ComponentContext("plc1", bus, asset=ASSET)
    await publish_rows(producer, sc.samples(counter_max=255)[:600])  # up to 11:00
    await wait_for(
        lambda: any(e.type == "downtime_ended" for e in events), message="downtime event"
    )
    ev = [e for e in events if e.type == "downtime_ended"][0]
    assert ev.data["duration_s"] == sc.DOWN[1] - sc.DOWN[0]
    assert ev.data["start"] == datetime.fromtimestamp(sc.DOWN[0], UTC).isoformat()

    client = ControlClient(bus)
    listed = await client.call("oee.downtimes", {"component": "oee-press1"})
    assert [d["id"] for d in listed] == [ev.data["id"]]
    done = await client.call(
        "oee.assign_reason",
        {
            "component": "oee-press1",
            "downtime_id": ev.data["id"],
            "reason": "tool_change",
            "who": "maria",
        },
    )
    assert done["reason"] == "tool_change" and done["who"] == "maria"
    listed = await client.call("oee.downtimes", {"component": "oee-press1"})
    assert listed[0]["reason"] == "tool_change"
    await wait_for(
        lambda: any(e.type == "downtime_reason_assigned" for e in events), message="reason event"
    )
    with pytest.raises(Exception, match="no downtime"):
        await client.call(
            "oee.assign_reason",
            {"component": "oee-press1", "downtime_id": "nope", "reason": "x", "who": "maria"},
        )
    with pytest.raises(Exception, match="no oee component"):
        await client.call("oee.downtimes", {"component": "missing"})


async def test_a_window_above_100_percent_is_published_uncertain_with_its_reason(bus):
    """Effectiveness above 100 % contradicts the declared ideal cycle: the figures are
    published (they show the configuration is wrong) but never as plain good values."""
    from dataclasses import replace

    from kit_oee.config import OeeConfig
    from kit_oee.engine import OeeEngine, Report
    from kit_oee.plugin import IMPLAUSIBLE, OeeComponent

    from kit.payloads import Quality

    kpis: list = []
    sub = await collect_kpis(bus, kpis)
    # Planned cycle 40 s, yet the hand-worked shift makes a part every 30 s.
    cfg = OeeConfig.model_validate({**spec().config, "ideal_cycle_s": 40.0})
    comp = OeeComponent(cfg, ComponentContext("oee-press1", bus, asset=ASSET))
    engine = OeeEngine(comp.params)
    out = [
        o for r in sc.samples() for o in engine.feed(r[0], state=r[1], produced=r[2], reject=r[3])
    ]
    over = next(o for o in out if isinstance(o, Report) and o.final)
    assert over.factors.oee is not None and over.factors.oee > 1  # 40 × 686 / 25 200 s
    # The same data with the real cycle (30 s): its rolling window is plausible.
    real = OeeEngine(replace(comp.params, pru_s=sc.PRU))
    for r in sc.samples():
        real.feed(r[0], state=r[1], produced=r[2], reject=r[3])
    fine = real.current_reports(real.last_ts)[-1]
    assert fine.window == "rolling" and fine.factors.oee is not None and fine.factors.oee <= 1
    await comp.publish_report(over)
    await comp.publish_report(fine)
    await wait_for(lambda: len(kpis) >= 14, message="KPIs of both reports")
    await sub.unsubscribe()
    by = {(k.window, k.kpi): k for k in kpis}
    shift = "shift:2026-11-23/early"
    for name in ("oee", "effectiveness"):
        assert by[shift, name].quality is Quality.uncertain, name
        assert by[shift, name].attrs["implausible"] == IMPLAUSIBLE
    # Figures that do not depend on the ideal cycle stay good; so do plausible windows.
    assert by[shift, "availability"].quality is Quality.good
    assert by[shift, "quality"].quality is Quality.good
    assert by["rolling", "oee"].quality is Quality.good
    assert "implausible" not in by["rolling", "oee"].attrs
    assert comp.counts["implausible_reports"] == 1
