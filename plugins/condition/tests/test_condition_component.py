"""The condition component on a real bus: learning, alarms, zones, feedback, relearn, restart."""

from __future__ import annotations

import statistics
from datetime import timedelta

import pytest

from kit import codec
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.payloads import Point, utcnow
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/util/pumps/p1"
VIB = [1.0 + 0.05 * ((i * 7) % 11 - 5) for i in range(21)]
TEMP = [40.0 + 0.2 * ((i * 5) % 9 - 4) for i in range(21)]


async def test_condition_over_the_bus(bus, kit_settings, make_runtime) -> None:
    kit_settings.components = [
        ComponentSpec(
            name="p1-cm",
            type="condition",
            asset=ASSET,
            config={
                "inputs": {"vib": "vibration_velocity_rms_mm_s", "temp": "temperature_c"},
                "baseline_s": 20,
                "min_baseline_samples": 10,
                "on_delay_s": 0,
                "kpi_interval_s": 1,
                "vibration": {"vib": {"machine_class": "II"}},
            },
        )
    ]
    events, kpis = [], []

    async def on_ev(ev, _m):
        events.append(ev)

    async def on_kpi(k, _m):
        kpis.append(k)

    await bus.subscribe("kit.event.>", codec.decode_event, on_ev)
    await bus.subscribe("kit.kpi.>", codec.decode_kpi, on_kpi)
    rt = await make_runtime(kit_settings)
    comp = await wait_for(lambda: rt.supervisor.instances["p1-cm"].component, message="component")
    await wait_for(lambda: comp.ctx._subs, message="subscribed")
    dev = ComponentContext("dev", bus, asset=ASSET)
    t0 = utcnow() - timedelta(hours=2)
    for i in range(21):
        await dev.publish_samples(
            [
                Point(name="vibration_velocity_rms_mm_s", value=VIB[i], unit="mm/s"),
                Point(name="temperature_c", value=TEMP[i]),
                Point(name="temperature_c_2", quality="uncertain", reason="x"),
            ],
            ts=t0 + timedelta(seconds=i),
        )
    learned = await wait_for(
        lambda: (lambda ls: ls if len(ls) == 2 else None)(
            [e for e in events if e.type == "baseline_learned"]
        ),
        message="two baselines",
    )
    vib_model = next(e.data for e in learned if e.data["signal"] == "vib")
    assert vib_model["median"] == pytest.approx(statistics.median(VIB))
    assert vib_model["mad"] == pytest.approx(
        statistics.median(abs(v - statistics.median(VIB)) for v in VIB)
    )

    # A vibration jump to 8 mm/s: deviation alarm (kind alarm) and zone D for class II.
    await dev.publish_samples(
        [
            Point(name="vibration_velocity_rms_mm_s", value=8.0),
            Point(name="temperature_c", quality="bad", reason="timeout"),
        ],
        ts=t0 + timedelta(seconds=21),
    )
    raised = (
        await wait_for(
            lambda: [e for e in events if e.type == "condition_alarm_raised"], message="alarm"
        )
    )[0]
    assert raised.kind == "alarm" and raised.data["signal"] == "vib"
    assert raised.data["z"] == pytest.approx((8.0 - vib_model["median"]) / vib_model["scale"])
    zones = await wait_for(
        lambda: (
            [e.data["zone"] for e in events if e.type == "vibration_zone_changed"][-1:] == ["D"]
        ),
        message="zone D",
    )
    assert zones and comp.metrics()["excluded_bad"] == 1
    assert any(k.kpi == "vib_drift_z" for k in kpis) and any(
        k.kpi == "vib_zone" and k.value == 4 for k in kpis
    )

    api = ControlClient(bus)
    rec = await api.call(
        "condition.feedback",
        {"alarm_id": raised.data["alarm_id"], "verdict": "false", "who": "ali"},
    )
    assert rec["feedback"]["verdict"] == "false_alarm" and rec["feedback"]["who"] == "ali"
    ratio = await wait_for(
        lambda: [k for k in kpis if k.kpi == "false_alarm_ratio"], message="ratio"
    )
    assert ratio[0].value == 1.0
    res = await api.call("condition.relearn", {"component": "p1-cm", "signals": ["temp"]})
    assert res["relearning"] == ["temp"]
    with pytest.raises(Exception, match="no condition component"):
        await api.call("condition.relearn", {"component": "nope"})

    # Restart: models, the open alarm (with its feedback) and the re-learn in progress survive.
    await rt.stop()
    rt2 = await make_runtime(kit_settings)
    comp2 = await wait_for(
        lambda: rt2.supervisor.instances["p1-cm"].component, message="component after restart"
    )
    await wait_for(lambda: comp2.ctx._subs, message="subscribed")
    mon = comp2.monitor
    assert mon.version == 2 and mon.signals["vib"].alarm_id == raised.data["alarm_id"]
    assert mon.find_alarm(raised.data["alarm_id"])["feedback"]["who"] == "ali"
    assert mon.signals["temp"].learner is not None and mon.signals["temp"].model is not None
    dev2 = ComponentContext("dev", bus, asset=ASSET)
    dev2._seq["test.util.pumps.p1"] = 50
    await dev2.publish_samples(
        [Point(name="vibration_velocity_rms_mm_s", value=1.0)], ts=t0 + timedelta(seconds=22)
    )
    cleared = (
        await wait_for(
            lambda: [e for e in events if e.type == "condition_alarm_cleared"], message="cleared"
        )
    )[0]
    assert cleared.data["alarm_id"] == raised.data["alarm_id"]


def test_config_errors_name_the_field(tmp_path) -> None:
    from kit.errors import ConfigError
    from kit.runtime import Runtime
    from kit.settings import Settings

    rt = Runtime(Settings(data_dir=tmp_path))
    bad = {
        "inputs": {"vib": "v"},
        "raise_z": 3,
        "clear_z": 4,
        "vibration": {"vib": {"machine_class": "V"}},
    }
    try:
        rt.validate_spec(ComponentSpec(name="c", type="condition", asset=ASSET, config=bad))
        raise AssertionError("invalid config accepted")
    except ConfigError as exc:
        assert (
            "site config:1: vibration.vib.machine_class: Input should be 'I', 'II', 'III' or 'IV'"
            in exc.problems
        )
    try:
        rt.validate_spec(
            ComponentSpec(
                name="c",
                type="condition",
                asset=ASSET,
                config={"inputs": {"vib": "v"}, "raise_z": 3, "clear_z": 4},
            )
        )
        raise AssertionError("clear_z above raise_z accepted")
    except ConfigError as exc:
        assert "clear_z must be below raise_z" in str(exc)


async def test_learns_from_the_synthetic_machine(bus, kit_settings, make_runtime) -> None:
    """End to end with the synthetic source: its batches reach the component and a model is learned."""
    asset = "test/demo/line/m1"
    kit_settings.components = [
        ComponentSpec(
            name="m1",
            type="synthetic",
            asset=asset,
            config={"interval_s": 0.02, "max_batches": 2000},
        ),
        ComponentSpec(
            name="m1-cm",
            type="condition",
            asset=asset,
            config={
                "inputs": {"vib": "vibration_velocity_rms_mm_s", "temp": "temperature_c"},
                "baseline_s": 1,
                "min_baseline_samples": 10,
                "vibration": {"vib": {"machine_class": "I"}},
            },
        ),
    ]
    rt = await make_runtime(kit_settings)
    comp = await wait_for(lambda: rt.supervisor.instances["m1-cm"].component, message="component")
    await wait_for(lambda: comp.monitor.version == 2, timeout=30, message="both baselines learned")
    assert comp.intake.counters.batches >= 10 and comp.monitor.signals["vib"].zone in (
        "A",
        "B",
        "C",
        "D",
    )


async def test_running_gate_learns_and_scores_only_while_running(bus) -> None:
    from kit_condition.plugin import ConditionComponent, ConditionConfig

    from kit.payloads import SampleBatch

    cfg = ConditionConfig.model_validate(
        {
            "inputs": {"vib": "vibration_velocity_rms_mm_s"},
            "baseline_s": 5,
            "min_baseline_samples": 5,
            "running_when": "machine_running",
        }
    )
    comp = ConditionComponent(cfg, ComponentContext("gate-cm", bus, asset=ASSET))
    t0 = utcnow()

    async def send(seq: int, running, vib: float) -> None:
        pts = [Point(name="vibration_velocity_rms_mm_s", value=vib)]
        if running is not None:
            pts.append(Point(name="machine_running", value=running))
        await comp.on_batch(
            SampleBatch(
                asset=ASSET, ts=t0 + timedelta(seconds=seq), seq=seq, source="dev", points=pts
            )
        )

    await send(0, None, 0.1)  # gate unknown yet: nothing learned
    for i in range(1, 4):
        await send(i, False, 0.0)  # stopped: not normal, not learned
    vib = comp.monitor.signals["vib"]
    assert vib.learner.seen == 0 and comp.skipped_not_running == 4
    for i in range(4, 12):
        await send(i, True, 1.0 + 0.01 * (i % 3))
    assert vib.model is not None and vib.model.median == pytest.approx(
        statistics.median(1.0 + 0.01 * (i % 3) for i in range(4, 10))
    )
    await send(12, False, 0.0)  # stopping is not a deviation
    assert vib.alarm_id is None and comp.metrics()["running"] is False


async def test_rebound_signal_learns_afresh_others_keep_their_model(bus) -> None:
    import asyncio
    import contextlib

    from kit_condition.plugin import ConditionComponent, ConditionConfig

    from kit.payloads import SampleBatch

    def make(temp_point: str) -> ConditionComponent:
        cfg = ConditionConfig.model_validate(
            {
                "inputs": {"vib": "v", "temp": temp_point},
                "baseline_s": 5,
                "min_baseline_samples": 5,
                "save_interval_s": 60,
            }
        )
        return ConditionComponent(cfg, ComponentContext("rb-cm", bus, asset=ASSET))

    a = make("t1")
    t0 = utcnow()
    for i in range(7):
        await a.on_batch(
            SampleBatch(
                asset=ASSET,
                ts=t0 + timedelta(seconds=i),
                seq=i,
                source="d",
                points=[Point(name="v", value=1.0 + i % 2), Point(name="t1", value=20.0 + i % 2)],
            )
        )
    assert a.monitor.signals["vib"].model and a.monitor.signals["temp"].model
    await a.save()
    b = make("t2")  # temp now reads another point
    task = asyncio.get_running_loop().create_task(b.run())
    try:
        await wait_for(lambda: b.ctx._subs, message="restored")
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert b.monitor.signals["vib"].model == a.monitor.signals["vib"].model
    assert b.monitor.signals["temp"].model is None


async def test_a_nan_batch_does_not_null_the_kpis(bus, kit_settings, make_runtime) -> None:
    """Issue 19.5: one NaN (a foreign producer's forged batch) made EWMA and z NaN — every
    later KPI of the signal null. It is a bad point now (reason non_finite), never scored."""
    kit_settings.components = [
        ComponentSpec(
            name="p1-cm",
            type="condition",
            asset=ASSET,
            config={
                "inputs": {"vib": "vibration_velocity_rms_mm_s"},
                "baseline_s": 20,
                "min_baseline_samples": 10,
                "kpi_interval_s": 1,
            },
        )
    ]
    kpis = []

    async def on_kpi(k, _m):
        kpis.append(k)

    await bus.subscribe("kit.kpi.>", codec.decode_kpi, on_kpi)
    rt = await make_runtime(kit_settings)
    comp = await wait_for(lambda: rt.supervisor.instances["p1-cm"].component, message="component")
    await wait_for(lambda: comp.ctx._subs, message="subscribed")
    dev = ComponentContext("dev", bus, asset=ASSET)
    t0 = utcnow() - timedelta(hours=2)

    async def good(i: int) -> None:
        await dev.publish_samples(
            [Point(name="vibration_velocity_rms_mm_s", value=VIB[i % 21], unit="mm/s")],
            ts=t0 + timedelta(seconds=i),
        )

    for i in range(22):
        await good(i)
    await wait_for(lambda: comp.monitor.signals["vib"].model is not None, message="baseline")
    when = (t0 + timedelta(seconds=22.5)).isoformat()
    forged = (
        f'{{"schema":"kit.samples/1","asset":"{ASSET}","ts":"{when}","seq":0,'
        '"source":"forger","points":[{"name":"vibration_velocity_rms_mm_s","value":NaN}]}'
    )
    await bus.nc.publish("kit.data." + ASSET.replace("/", "."), forged.encode())
    for i in range(23, 30):
        await good(i)
    await wait_for(
        lambda: any(k.kpi == "vib_ewma" and k.ts >= t0 + timedelta(seconds=29) for k in kpis),
        message="KPIs after the NaN batch",
    )
    after = [
        k for k in kpis if k.kpi in ("vib_z", "vib_ewma") and k.ts > t0 + timedelta(seconds=22)
    ]
    assert after and all(k.value is not None for k in after), after
    assert comp.metrics()["non_finite"] == 1
