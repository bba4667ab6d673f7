"""The energy component on a real bus: meter and machine on different assets, KPIs, bad input, restart."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from kit import codec
from kit.components import Clock, ComponentContext
from kit.payloads import Point
from kit.settings import ComponentSpec
from kit.testing import wait_for

METER = "test/hall/l1/meter1"
MACHINE = "test/hall/l1/press1"
DAY = datetime(2026, 11, 23, tzinfo=UTC).timestamp()
H = 3600.0


def spec() -> ComponentSpec:
    return ComponentSpec(
        name="energy-press1",
        type="energy",
        asset=METER,
        config={
            "inputs": {
                "power": "power_active_total_w",
                "running": {"point": "machine_running", "asset": MACHINE},
                "count": {"point": "count_good", "asset": MACHINE},
            },
            "publish_interval_s": 3600,
            "max_gap_s": 120,
        },
    )


def at(t: float) -> datetime:
    return datetime.fromtimestamp(t, UTC)


async def collect_kpis(bus) -> list:
    """Every KPI published from now on, appended as it arrives."""
    kpis: list = []

    async def on_kpi(k, _msg) -> None:
        kpis.append(k)

    await bus.subscribe("kit.kpi.>", codec.decode_kpi, on_kpi)
    return kpis


def sources(bus) -> tuple[ComponentContext, ComponentContext]:
    """Publishing contexts of the meter's and the machine's adapters."""
    return ComponentContext("meter-adapter", bus, asset=METER), ComponentContext(
        "plc-adapter", bus, asset=MACHINE
    )


def final_of_hour(kpis: list, kpi: str):
    """The final value of ``kpi`` for the first hour of the test day (None until published)."""
    return next(
        (k for k in kpis if k.kpi == kpi and k.window == "hour:2026-11-23T00" and k.attrs["final"]),
        None,
    )


async def started(rt, name="energy-press1"):
    inst = rt.supervisor.instances[name]
    await wait_for(
        lambda: inst.component is not None and inst.component.ready, message="subscribed"
    )
    return inst.component


async def test_idle_energy_and_energy_per_part_across_assets_with_restart(
    bus, kit_settings, make_runtime
):
    kpis = await collect_kpis(bus)
    meter, plc = sources(bus)
    settings = kit_settings.model_copy(update={"components": [spec()]})

    # One hour at 30 s: machine runs 45 min at 12 kW making a part a minute, then 15 min at 3 kW standby.
    steps = [DAY + 30 * i for i in range(121)] + [DAY + H + 30]
    parts = 0
    rt = await make_runtime(settings)
    comp = await started(rt)
    for n, t in enumerate(steps):
        running = t < DAY + 45 * 60
        if running and n % 2 == 0 and n:
            parts += 1
        if n == 60:  # restart mid-hour
            await wait_for(
                lambda comp=comp, n=n: comp.counts["batches"] == 2 * n,
                message="first half consumed",
            )
            assert (
                comp.counts["excluded_quality"] == 1
            )  # the bad power reading: skipped and counted
            await rt.stop()
            rt = await make_runtime(settings)
            comp = await started(rt)
        await plc.publish_samples(
            [Point(name="machine_running", value=running), Point(name="count_good", value=parts)],
            ts=at(t),
        )
        watts = 12000.0 if running else 3000.0
        pts = [Point(name="power_active_total_w", value=watts, unit="W")]
        if n == 30:
            pts = [
                Point(name="power_active_total_w", quality="bad", reason="timeout")
            ]  # excluded, counted
        await meter.publish_samples(pts, ts=at(t))

    def final(kpi):
        return final_of_hour(kpis, kpi)

    # A window's KPIs are separate messages: wait for every one asserted, not just one of them.
    asserted = ("energy_kwh", "idle_energy_kwh", "parts", "energy_per_part_kwh", "peak_demand_kw")
    await wait_for(lambda: all(final(k) is not None for k in asserted), message="final hour KPIs")
    # Trapezoidal rule: between the last 12 kW reading (00:44:30) and the first 3 kW one
    # (00:45:00) power is taken to change linearly, 7.5 kW on average, while still running.
    total = 12.0 * (44.5 / 60) + 7.5 * (0.5 / 60) + 3.0 * 0.25
    assert final("energy_kwh").value == pytest.approx(total)
    assert final("idle_energy_kwh").value == pytest.approx(3.0 * 0.25)
    assert final("parts").value == parts
    assert final("energy_per_part_kwh").value == pytest.approx(total / parts)
    assert final("peak_demand_kw").value == pytest.approx(12.0)


class StoppedArrivalClock(Clock):
    """Real wall time and sleeps, but arrival time (monotonic) stands still: however slow the
    host, no batch counts as having waited, so the outcome depends only on processing order."""

    def monotonic(self) -> float:
        return 0.0


async def test_machine_batches_processed_after_the_meters_are_still_attributed(
    bus, kit_settings, make_runtime
):
    # Under load each subscription drains its backlog in one go: the meter's batches of many
    # minutes can be handled before the machine's. Here that order is forced: one idle hour.
    kpis = await collect_kpis(bus)
    meter, plc = sources(bus)
    settings = kit_settings.model_copy(update={"components": [spec()]})
    rt = await make_runtime(settings, clock=StoppedArrivalClock())
    comp = await started(rt)
    steps = [DAY + 30 * i for i in range(121)] + [DAY + H + 30]
    for t in steps:
        await meter.publish_samples(
            [Point(name="power_active_total_w", value=3000.0, unit="W")], ts=at(t)
        )
    await wait_for(lambda: comp.counts["batches"] == len(steps), message="meter's batches consumed")
    for t in steps:
        await plc.publish_samples(
            [Point(name="machine_running", value=False), Point(name="count_good", value=0)],
            ts=at(t),
        )

    def final(kpi):
        return final_of_hour(kpis, kpi)

    asserted = ("energy_kwh", "idle_energy_kwh", "unknown_state_energy_kwh")
    await wait_for(lambda: all(final(k) is not None for k in asserted), message="final hour KPIs")
    assert final("energy_kwh").value == pytest.approx(3.0)
    assert final("idle_energy_kwh").value == pytest.approx(3.0)
    assert final("unknown_state_energy_kwh").value == pytest.approx(0.0)


async def test_config_errors_are_clear(kit_settings, make_runtime):
    from kit.errors import ConfigError
    from kit.runtime import Runtime

    rt = Runtime(kit_settings)
    bad = ComponentSpec(
        name="e", type="energy", asset=METER, config={"inputs": {"running": "machine_running"}}
    )
    with pytest.raises(ConfigError) as exc:
        rt.validate_spec(bad)
    assert "energy" in " ".join(exc.value.problems) or "power" in " ".join(exc.value.problems)


async def test_a_flat_energy_counter_publishes_zero_kwh_kpis(bus, kit_settings, make_runtime):
    # A meter on a machine that is switched off: its counter reads the same all hour. The
    # windows are still due, and their KPIs say 0 kWh instead of staying silent.
    kpis = await collect_kpis(bus)
    meter, _ = sources(bus)
    flat = ComponentSpec(
        name="energy-flat",
        type="energy",
        asset=METER,
        config={
            "inputs": {"energy": "energy_active_import_total_kwh"},
            "publish_interval_s": 600,
        },
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": [flat]}))
    await started(rt, "energy-flat")
    reading = 123456.7  # kWh, never moving
    steps = [DAY + 60 * i for i in range(61)] + [DAY + H + 60]
    for t in steps:
        await meter.publish_samples(
            [Point(name="energy_active_import_total_kwh", value=reading, unit="kWh")], ts=at(t)
        )
    await wait_for(
        lambda: (
            final_of_hour(kpis, "energy_kwh") is not None
            and any(k.kpi == "demand_kw" and k.attrs["final"] for k in kpis)
        ),
        message="the flat hour's KPIs",
    )
    hour = final_of_hour(kpis, "energy_kwh")
    assert hour.value == 0.0 and hour.attrs["covered_s"] == H
    # The four 15-minute demand windows of the hour closed before it (published in order): 0 kW.
    demand = [k for k in kpis if k.kpi == "demand_kw" and k.attrs["final"]]
    assert len(demand) == 4 and {k.value for k in demand} == {0.0}
    # Partial reports of the open windows arrived on the publish interval too (zero).
    partial = [k for k in kpis if k.kpi == "energy_kwh" and not k.attrs["final"]]
    assert partial and {k.value for k in partial} == {0.0}
