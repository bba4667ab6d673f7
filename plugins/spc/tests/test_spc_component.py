"""The spc component on a real bus: KPIs, violation events, bad/duplicate input, restart."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

from kit import codec
from kit.components import ComponentContext
from kit.payloads import Point, SampleBatch, utcnow
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/qa/line1/gauge"
PHASE1 = [25.02, 24.98, 25.01, 25.00, 24.97, 25.03, 25.00, 24.99, 25.02, 24.98]


async def test_spc_over_the_bus_and_restart(bus, kit_settings, make_runtime) -> None:
    kit_settings.components = [
        ComponentSpec(
            name="dia-spc",
            type="spc",
            asset=ASSET,
            config={
                "inputs": {"value": "diameter_mm"},
                "chart": "imr",
                "phase1_points": 10,
                "rules": ["nelson1", "nelson2"],
                "spec": {"lsl": 24.9, "usl": 25.1},
                "capability_every": 1,
            },
        )
    ]
    events, kpis = [], []

    async def on_ev(ev, _m):
        events.append(ev)

    async def on_kpi(k, _m):
        kpis.append(k)

    await bus.subscribe("kit.event.spc.>", codec.decode_event, on_ev)
    await bus.subscribe("kit.kpi.>", codec.decode_kpi, on_kpi)
    rt = await make_runtime(kit_settings)
    comp = await wait_for(lambda: rt.supervisor.instances["dia-spc"].component, message="component")
    await wait_for(lambda: comp.ctx._subs, message="subscribed")
    gauge = ComponentContext("gauge", bus, asset=ASSET)
    t0 = utcnow() - timedelta(hours=1)
    for i, x in enumerate(PHASE1):
        await gauge.publish_samples(
            [Point(name="diameter_mm", value=x)], ts=t0 + timedelta(seconds=i)
        )
    # Bad quality and a replayed old batch (seq 3 again, older than the last) are excluded and counted.
    await gauge.publish_samples(
        [Point(name="diameter_mm", quality="bad", reason="timeout")], ts=t0 + timedelta(seconds=10)
    )
    await bus.publish(
        "kit.data.test.qa.line1.gauge",
        codec.encode(
            SampleBatch(
                asset=ASSET,
                ts=t0 + timedelta(seconds=3),
                seq=3,
                source="gauge",
                points=[Point(name="diameter_mm", value=99.0)],
            )
        ),
    )
    await wait_for(
        lambda: comp.intake.counters.out_of_order == 1 and comp.intake.counters.excluded_bad == 1,
        message="counted",
    )

    xs = await wait_for(
        lambda: (
            [k for k in kpis if k.kpi == "diameter_mm_x"]
            if len([k for k in kpis if k.kpi == "diameter_mm_x"]) == 10
            else None
        ),
        message="10 phase-I chart points",
    )
    mean = sum(PHASE1) / 10
    mrbar = sum(abs(b - a) for a, b in zip(PHASE1, PHASE1[1:])) / 9
    assert xs[0].attrs["cl"] == __import__("pytest").approx(mean)
    assert xs[0].attrs["ucl"] == __import__("pytest").approx(mean + 3 * mrbar / 1.128)
    assert {k.kpi for k in kpis} >= {
        "diameter_mm_x_ucl",
        "diameter_mm_mr",
        "diameter_mm_cp",
        "diameter_mm_cpk",
    }
    assert not events  # phase I is in control

    await gauge.publish_samples(
        [Point(name="diameter_mm", value=25.5)], ts=t0 + timedelta(seconds=11)
    )
    ev = (
        await wait_for(
            lambda: [e for e in events if e.data["rule"] == "nelson1" and e.data["chart"] == "i"],
            message="violation",
        )
    )[0]
    assert ev.type == "spc_violation" and ev.data["points"][0]["value"] == 25.5
    assert ev.data["points"][0]["ts"] == (t0 + timedelta(seconds=11)).isoformat()

    # Restart: limits survive (no new phase I); the next outlier is reported at once.
    await rt.stop()
    rt2 = await make_runtime(kit_settings)
    comp2 = await wait_for(
        lambda: rt2.supervisor.instances["dia-spc"].component, message="component after restart"
    )
    await wait_for(lambda: comp2.ctx._subs, message="subscribed")
    assert comp2.chart.limits is not None and comp2.chart.limits.cl == __import__("pytest").approx(
        mean
    )
    gauge2 = ComponentContext("gauge", bus, asset=ASSET)
    gauge2._seq["test.qa.line1.gauge"] = 100
    n_before = len(events)
    await gauge2.publish_samples(
        [Point(name="diameter_mm", value=24.5)], ts=t0 + timedelta(seconds=12)
    )
    ev2 = (await wait_for(lambda: events[n_before:], message="violation after restart"))[0]
    assert ev2.data["rule"] == "nelson1" and ev2.data["index"] == 11


def test_config_errors_name_the_field(tmp_path) -> None:
    from kit.errors import ConfigError
    from kit.runtime import Runtime
    from kit.settings import Settings

    rt = Runtime(Settings(data_dir=tmp_path))
    bad = {
        "inputs": {"value": "d"},
        "rules": ["nelson9"],
        "spec": {"lsl": 3, "usl": 2},
        "subgroup_size": 11,
    }
    try:
        rt.validate_spec(ComponentSpec(name="s", type="spc", asset=ASSET, config=bad))
        raise AssertionError("invalid config accepted")
    except ConfigError as exc:
        text = "\n".join(exc.problems)
        assert "subgroup_size: Input should be less than or equal to 10" in text
        assert (
            "rules[0]: Input should be 'nelson1'" in text
            and "spec: Value error, lsl must be below usl" in text
        )


async def test_changed_chart_definition_starts_a_new_chart(bus) -> None:
    from kit_spc.plugin import SpcComponent, SpcConfig

    def make(chart: str) -> SpcComponent:
        cfg = SpcConfig.model_validate(
            {"inputs": {"value": "d"}, "chart": chart, "phase1_points": 5, "save_interval_s": 60}
        )
        return SpcComponent(cfg, ComponentContext("chg-spc", bus, asset=ASSET))

    a = make("imr")
    t0 = utcnow()
    for i in range(6):
        await a.on_batch(
            SampleBatch(
                asset=ASSET,
                ts=t0 + timedelta(seconds=i),
                seq=i,
                source="g",
                points=[Point(name="d", value=1.0 + 0.1 * (i % 2))],
            )
        )
    assert a.chart.limits is not None
    await a.save()

    async def restored(comp: SpcComponent) -> SpcComponent:
        task = asyncio.get_running_loop().create_task(comp.run())
        try:
            await wait_for(lambda: comp.ctx._subs, message="restored and subscribed")
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return comp

    same = await restored(make("imr"))
    assert same.chart.limits == a.chart.limits  # same chart: limits restored
    other = await restored(make("xbar_r"))
    assert other.chart.limits is None and other.chart.phase1 == []  # another chart: fresh phase I
