"""Pure-engine tests of energy: counter vs integrated power, idle energy, 15-min peak, per part, baseline, restart."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from kit_energy.engine import EnergyEngine, EnergyParams, EnergyReport
from kit_oee.shifts import ShiftCalendar

DAY = datetime(2026, 11, 23, tzinfo=UTC).timestamp()
H = 3600.0


def profile(t: float) -> float:
    """Power in kW, piecewise linear: ramp 0→20 kW over hour 0, 20 kW in hour 1, ramp 20→5 kW in hour 2."""
    x = (t - DAY) / H
    if x < 1:
        return 20 * x
    if x < 2:
        return 20.0
    return 20 - 15 * (x - 2)


def energy_to(t: float) -> float:
    """Exact integral of :func:`profile` from DAY to t, in kWh (areas of triangles and trapezoids)."""
    x = (t - DAY) / H
    if x <= 1:
        return 10 * x * x
    if x <= 2:
        return 10 + 20 * (x - 1)
    y = x - 2
    return 30 + 20 * y - 7.5 * y * y


def finals(out, kind) -> dict[str, EnergyReport]:
    return {r.window: r for r in out if isinstance(r, EnergyReport) and r.final and r.kind == kind}


def test_counter_and_integrated_power_agree_with_exact_integral():
    by_counter = EnergyEngine(
        EnergyParams(counter_max_kwh=100000), has_state=False, has_count=False
    )
    by_power = EnergyEngine(EnergyParams(), has_state=False, has_count=False)
    start_reading = 99_985.0  # the meter wraps to 0 during hour 1
    out_c, out_p = [], []
    for i in range(3 * 360 + 1):
        t = DAY + 10 * i
        out_c += by_counter.feed_energy(t, (start_reading + energy_to(t)) % 100000)
        out_p += by_power.feed_power(t, profile(t))
    out_c += by_counter.feed_energy(
        DAY + 3 * H + 10, (start_reading + energy_to(DAY + 3 * H + 10)) % 100000
    )
    out_p += by_power.feed_power(DAY + 3 * H + 10, profile(DAY + 3 * H + 10))
    expected = {
        f"hour:2026-11-23T0{h}": energy_to(DAY + (h + 1) * H) - energy_to(DAY + h * H)
        for h in range(3)
    }
    assert list(expected.values()) == pytest.approx([10.0, 20.0, 12.5])
    for out in (out_c, out_p):
        hours = finals(out, "hour")
        assert {k: hours[k].kwh for k in expected} == pytest.approx(expected)
    assert by_counter.meter.rollovers == 1
    # No machine state bound: idle and unknown-state energy do not apply (not "all unknown").
    assert all(r.idle_kwh is None and r.unknown_state_kwh is None for r in out_c + out_p)


def test_idle_energy_is_consumed_while_not_running():
    eng = EnergyEngine(EnergyParams(), has_state=True, has_count=False)
    kwh, out = 0.0, []
    for i in range(361):  # one hour at 10 s: running 40 min at 10 kW, then standby at 2 kW
        t = DAY + 10 * i
        running = i < 240
        eng.feed_running(t, running)
        out += eng.feed_energy(t, kwh)
        kwh += (10.0 if running else 2.0) * 10 / H
    out += eng.feed_energy(DAY + H + 10, kwh)
    hour = finals(out, "hour")["hour:2026-11-23T00"]
    assert hour.kwh == pytest.approx(10 * 40 / 60 + 2 * 20 / 60)
    assert hour.idle_kwh == pytest.approx(2 * 20 / 60)
    assert hour.idle_share == pytest.approx((2 * 20 / 60) / (10 * 40 / 60 + 2 * 20 / 60))
    assert hour.unknown_state_kwh == 0


def test_state_from_another_asset_arriving_first_is_attributed_by_interval_start():
    eng = EnergyEngine(EnergyParams(), has_state=True, has_count=False)
    eng.feed_running(DAY, True)
    eng.feed_energy(DAY, 0.0)
    eng.feed_running(DAY + 5, False)  # machine stops between two meter readings
    eng.feed_energy(DAY + 10, 1.0)  # the interval [0, 10) began while running
    eng.feed_energy(DAY + 20, 2.0)  # [10, 20): state at 10 not reported yet …
    assert eng.wins["hour"].kwh == 1.0  # … so the reading waits
    eng.feed_running(DAY + 20, False)  # the machine catches up: [10, 20) was standby
    w = eng.wins["hour"]
    assert (w.kwh, w.idle_kwh) == (2.0, 1.0)


def test_meter_ahead_of_machine_waits_for_its_state_then_gives_up_after_max_gap():
    eng = EnergyEngine(EnergyParams(max_gap_s=60), has_state=True, has_count=False)
    eng.feed_running(DAY, True)
    for k in range(4):  # meter runs ahead: readings at 0, 10, 20, 30
        eng.feed_energy(DAY + 10 * k, float(k))
    assert eng.wins["hour"].kwh == 1.0  # only [0, 10): the state after 0 is not known
    eng.feed_running(DAY + 15, False)  # stopped at 15 (arrives late)
    eng.feed_running(DAY + 30, False)
    w = eng.wins["hour"]
    assert (w.kwh, w.idle_kwh) == (3.0, 1.0)  # [10, 20) began running; [20, 30) standby
    for k in range(4, 20):  # the machine goes silent after 30
        eng.feed_energy(DAY + 10 * k, float(k))
    w = eng.wins["hour"]
    # Readings wait at most 60 s of meter time, so intervals up to [120, 130) are applied:
    # those starting by 90 use the held "stopped" state, later ones count as unknown.
    assert w.kwh == 13.0
    assert (w.idle_kwh, w.unknown_kwh) == (1.0 + 7.0, 3.0)


def test_meter_burst_ahead_of_machine_waits_by_arrival_time_not_only_by_meter_time():
    # A backlog (reconnect, loaded host): ten minutes of meter readings arrive within the
    # same second, before the machine's batches for those minutes are processed.
    eng = EnergyEngine(EnergyParams(max_gap_s=60), has_state=True, has_count=False)
    eng.feed_running(DAY, False, now=0.0)
    for k in range(61):
        eng.feed_energy(DAY + 10 * k, float(k), now=0.5)
    assert eng.wins["hour"].kwh == 1.0  # only [0, 10): the machine is not silent, just behind
    for k in range(1, 61):
        eng.feed_running(DAY + 10 * k, False, now=0.6)
    w = eng.wins["hour"]
    assert (w.kwh, w.idle_kwh, w.unknown_kwh) == (60.0, 60.0, 0.0)


def test_silent_machine_is_given_up_once_readings_waited_max_gap_of_arrival_time():
    eng = EnergyEngine(EnergyParams(max_gap_s=60), has_state=True, has_count=False)
    eng.feed_running(DAY, False, now=0.0)
    for k in range(20):  # a burst: the machine says nothing more
        eng.feed_energy(DAY + 10 * k, float(k), now=1.0)
    assert eng.wins["hour"].kwh == 1.0
    eng.feed_energy(DAY + 200, 20.0, now=60.5)  # 59.5 s later: still waiting for the machine
    assert eng.wins["hour"].kwh == 1.0
    eng.feed_energy(
        DAY + 210, 21.0, now=62.0
    )  # waited more than max_gap_s: go on with what is known
    w = eng.wins["hour"]
    # Applied up to 60 s of meter time behind the newest reading: [0, 150). Intervals starting
    # within 60 s of the last state (0..60) use the held "stopped", later ones are unknown.
    assert (w.kwh, w.idle_kwh, w.unknown_kwh) == (15.0, 7.0, 8.0)


def test_a_later_burst_waits_afresh_after_a_silent_machine_was_given_up():
    eng = EnergyEngine(EnergyParams(max_gap_s=60), has_state=True, has_count=False)
    eng.feed_running(DAY, False, now=0.0)
    for k in range(8):  # live, 10 s apart: the machine says nothing
        eng.feed_energy(DAY + 10 * k, float(k), now=10.0 * k)
    eng.feed_energy(DAY + 200, 20.0, now=200.0)  # waited > 60 s both ways: given up, all applied
    assert not eng.queue
    applied, idle = eng.wins["hour"].kwh, eng.wins["hour"].idle_kwh
    # Much later a burst: ten minutes of readings at once, the machine's batches for those
    # minutes queued behind them. The readings wait on their own arrival clock, not on the
    # one of the wait that ended long ago.
    for k in range(1, 61):
        eng.feed_energy(DAY + 200 + 10 * k, 20.0 + k, now=5000.0)
    assert eng.wins["hour"].kwh == applied
    for k in range(0, 61):
        eng.feed_running(DAY + 200 + 10 * k, False, now=5000.1)
    w = eng.wins["hour"]
    assert (w.kwh, w.idle_kwh) == (applied + 60.0, idle + 60.0), (
        "attributed with the machine's late state"
    )
    assert not eng.queue


def test_peak_demand_over_15_minute_windows():
    def p(t):  # 10 kW, with a 50 kW burst 06:20:10–06:25:00 (10-s ramps either side)
        s = t - (DAY + 6 * H + 20 * 60)
        if s < 0 or s > 300:
            return 10.0
        if s < 10:
            return 10 + 4 * s
        if s <= 290:
            return 50.0
        return 50 - 4 * (s - 290)

    eng = EnergyEngine(EnergyParams(), has_state=False, has_count=False)
    out = []
    for i in range(6 * 360, 7 * 360 + 2):
        t = DAY + 10 * i
        out += eng.feed_power(t, p(t))
    demand = finals(out, "demand")
    burst_kwh = 10 * 0.25 + (40 * 280 + 2 * (40 * 10 / 2)) / H
    assert demand["demand:2026-11-23T06:15"].demand_kw == pytest.approx(burst_kwh / 0.25)
    assert demand["demand:2026-11-23T06:00"].demand_kw == pytest.approx(10.0)
    hour = finals(out, "hour")["hour:2026-11-23T06"]
    assert hour.peak_demand_kw == pytest.approx(burst_kwh / 0.25)


def test_energy_per_part_and_per_shift():
    cal = ShiftCalendar.model_validate(
        {"shifts": [{"name": "early", "start": "06:00", "end": "14:00", "weekdays": ["mon"]}]}
    )
    eng = EnergyEngine(EnergyParams(calendar=cal), has_state=False, has_count=True)
    out, parts = [], 0
    for i in range(5 * 360, 15 * 360 + 1):  # 05:00 to 15:00, 6 kW, one part per minute in the shift
        t = DAY + 10 * i
        if DAY + 6 * H <= t < DAY + 14 * H and i % 6 == 0:
            parts += 1
        eng.feed_count(t, parts)
        out += eng.feed_energy(t, 6.0 * (t - DAY) / H)
    out += eng.feed_energy(DAY + 15 * H + 10, 6.0 * (15 * H + 10) / H)
    shift = finals(out, "shift")["shift:2026-11-23/early"]
    assert shift.kwh == pytest.approx(6.0 * 8)
    assert shift.parts == 8 * 60
    assert shift.kwh_per_part == pytest.approx(6.0 * 8 / (8 * 60))


def test_baseline_period_and_savings():
    start, end = DAY, DAY + 24 * H
    eng = EnergyEngine(
        EnergyParams(baseline_start=start, baseline_end=end), has_state=False, has_count=False
    )
    out, kwh = [], 0.0
    for i in range(2 * 24 * 60 + 2):  # two days at 1-min steps: 10 kW on day 1, 8 kW on day 2
        t = DAY + 60 * i
        out += eng.feed_energy(t, kwh)
        kwh += (10.0 if t < end else 8.0) / 60
    days = finals(out, "day")
    assert days["day:2026-11-23"].savings_kwh is None  # the baseline day itself
    d2 = days["day:2026-11-24"]
    assert d2.expected_kwh == pytest.approx(240.0)
    assert d2.savings_kwh == pytest.approx(240.0 - 192.0)


def test_restart_equals_uninterrupted_run():
    def feed(eng, lo, hi):
        out = []
        for i in range(lo, hi):
            t = DAY + 10 * i
            eng.feed_running(t, (i // 100) % 3 != 0)
            out += eng.feed_power(t, profile(t))
        return out

    whole = EnergyEngine(EnergyParams(), has_state=True, has_count=False)
    a = feed(whole, 0, 1200)
    first = EnergyEngine(EnergyParams(), has_state=True, has_count=False)
    b = feed(first, 0, 517)
    second = EnergyEngine(
        EnergyParams(),
        has_state=True,
        has_count=False,
        state=json.loads(json.dumps(first.to_state())),
    )
    b += feed(second, 517, 1200)
    assert [(r.window, r.kwh, r.idle_kwh) for r in a if r.final] == [
        (r.window, r.kwh, r.idle_kwh) for r in b if r.final
    ]
    assert second.to_state() == whole.to_state()


def test_power_gap_is_reported_not_bridged():
    eng = EnergyEngine(EnergyParams(max_gap_s=60), has_state=False, has_count=False)
    eng.feed_power(DAY, 10.0)
    eng.feed_power(DAY + 10, 10.0)
    eng.feed_power(DAY + 1000, 10.0)
    assert eng.wins["hour"].kwh == pytest.approx(10 * 10 / H)
    assert eng.gap_s == 990


def test_a_reading_a_year_ahead_closes_a_bounded_number_of_windows():
    # Issue 19.4: a gateway clock jump spread energy over every 15-min window in between
    # (540,209 KPI messages in 40 s). Now: bounded closes, the rest reported as one Skip.
    from kit_energy.engine import Skip

    eng = EnergyEngine(EnergyParams(), has_state=False, has_count=False)
    for i in range(10):
        eng.feed_energy(DAY + i * 60, 100.0 + i)
    out = eng.feed_energy(DAY + 365 * 86400, 200.0)
    reports = [r for r in out if isinstance(r, EnergyReport)]
    assert len(reports) <= 4 * (eng.p.max_window_closes + 1)  # four window kinds per step
    skips = [r for r in out if isinstance(r, Skip)]
    assert len(skips) == 1 and eng.unattributed_kwh == pytest.approx(skips[0].kwh)
    attributed = sum(r.kwh for r in reports if r.kind == "demand")
    # Every kWh of the jump is either in a closed demand window or unattributed.
    assert attributed + eng.unattributed_kwh == pytest.approx(100.0 - 9.0 + 9.0)


def test_a_part_rebooked_on_the_good_counter_keeps_energy_per_part_plausible():
    """The good-parts counter goes down by one (a good part re-booked as scrap, as the demo's
    simulated PLC did): a correction of one part, not a reset counting 10 000 new parts —
    which made energy per part a thousandth of the real one."""
    cal = ShiftCalendar.model_validate(
        {"shifts": [{"name": "early", "start": "06:00", "end": "14:00", "weekdays": ["mon"]}]}
    )
    eng = EnergyEngine(EnergyParams(calendar=cal, count_max=65535), has_state=False, has_count=True)
    out, parts = [], 10_000
    for i in range(5 * 360, 15 * 360 + 1):  # as above, the counter starting at 10 000
        t = DAY + 10 * i
        if DAY + 6 * H <= t < DAY + 14 * H and i % 6 == 0:
            parts += 1
        rebooked = 1 if t >= DAY + 10 * H + 30 else 0  # from 10:00:30 one part is scrap
        eng.feed_count(t, parts - rebooked)
        out += eng.feed_energy(t, 6.0 * (t - DAY) / H)
    out += eng.feed_energy(DAY + 15 * H + 10, 6.0 * (15 * H + 10) / H)
    shift = finals(out, "shift")["shift:2026-11-23/early"]
    assert shift.parts == 8 * 60 - 1
    assert shift.kwh_per_part == pytest.approx(6.0 * 8 / (8 * 60 - 1))
