"""A counter that goes down: rollover, reset or correction (the demo's 23 450 % OEE).

The demo's simulated PLC once re-booked a counted good part as a reject (good 10033 → 10032,
reject 300 → 301, a second later). The engine read the one-part drop as a counter reset and
counted the whole counter value, 10032 parts, in one second: OEE = 2 s × 10 063 / 86 s of
planned busy time = 234.5, shown as "234.5 %". These tests feed the engine that pattern, with
the stalled and bunched polls of a loaded runtime, and check every published window.
"""

from __future__ import annotations

import json

from kit_oee.calc import CounterTracker
from kit_oee.engine import FIELD_INDEX, EngineParams, OeeEngine, Report
from kit_oee.shifts import ShiftCalendar

T0 = 1_796_004_000.0  # 2026-11-30 02:00 UTC, inside the default 24-hour shift
PRU = 2.0  # the demo's ideal cycle
CYCLE = 2.4  # the simulated machine's real cycle (slower than ideal)


def demo_params(**kw) -> EngineParams:
    """The engine as the demo's oee-machine recipe configures it (good + reject counters)."""
    base = dict(
        pru_s=PRU,
        count_mode="good_reject",
        calendar=ShiftCalendar(),
        counter_max=65535,
        publish_interval_s=5.0,
        max_gap_s=60.0,
    )
    base.update(kw)
    return EngineParams(**base)


def loaded_poll_times() -> list[float]:
    """Seconds of the polls a loaded runtime makes in 100 s: every second, but the poller
    stalls for 3–4 s now and then, and readings bunch up after a stall."""
    times, t = [], 0.0
    while t < 100.0:
        times.append(round(t, 3))
        k = len(times)
        t += 3.7 if k % 17 == 0 else (0.15 if k % 17 in (1, 2) else 1.0)
    return times


def reading(t: float) -> tuple[float, float]:
    """(good, reject) the PLC shows at second ``t``: whole parts every ``CYCLE`` s; from second
    81 on, the 34th part's inspection re-books part 33 from good to reject."""
    made = int(t // CYCLE)
    if t >= 81.0:
        return 10000 + made - 1, 301
    return 10000 + made, 300


def test_a_good_part_rebooked_as_reject_is_a_correction_not_a_reset():
    times = loaded_poll_times()
    assert any(reading(a)[0] > reading(b)[0] for a, b in zip(times, times[1:])), "no drop fed"
    engine = OeeEngine(demo_params())
    reports = []
    for s in times:
        good, reject = reading(s)
        out = engine.feed(T0 + s, state="run", good=good, reject=reject)
        reports += [o for o in out if isinstance(o, Report)]
    assert len(reports) >= 30
    for r in reports:
        f = r.factors
        assert f.oee is not None and 0 <= f.oee <= 1.0, (r.window, r.ts - T0, f, r.totals)
        assert f.effectiveness is not None and f.effectiveness <= 1.0, (r.ts - T0, f)
        assert 0 <= r.good <= r.produced <= (r.totals["apt_s"] + PRU) / PRU, r
    # Independently: the parts completed since the first poll (the first began at it, so it
    # is counted), the re-booked one moved from good to reject — 80 s after the start, the
    # reject counter's first increment is a part made in full view and counted too.
    first, last = reading(times[0])[0], reading(times[-1])[0]
    made = int(times[-1] // CYCLE)
    assert engine.rolling[FIELD_INDEX["good_in"]] == last - first == made - 1
    assert engine.rolling[FIELD_INDEX["reject_in"]] == 1
    assert engine.counters["good"].corrections == 1
    assert engine.counters["good"].resets == 0
    # The bound survives a restart: a restored engine reads the next drop the same way.
    restored = OeeEngine(demo_params(), json.loads(json.dumps(engine.to_state())))
    restored.feed(T0 + 101, state="run", good=last - 1, reject=302)
    assert restored.counters["good"].corrections == 2
    assert restored.rolling[FIELD_INDEX["good_in"]] == last - first - 1


def test_a_real_reset_still_counts_from_zero():
    engine = OeeEngine(demo_params())
    engine.feed(T0, state="run", good=0, reject=0)
    engine.feed(T0 + 10, state="run", good=4, reject=0)
    # Zeroed by the operator one second later, then counting again.
    engine.feed(T0 + 11, state="run", good=0, reject=0)
    engine.feed(T0 + 15, state="run", good=2, reject=0)
    assert engine.counters["good"].resets == 1
    assert engine.rolling[FIELD_INDEX["good_in"]] == 4 + 2
    engine.feed(T0 + 915, state="run", good=452, reject=0)
    # After a 10-minute outage, a counter lower than before counted from 0: 200 parts fit in
    # 600 s at the ideal cycle (300), so they are counted.
    engine.feed(T0 + 1515, state="run", good=200, reject=0)
    assert engine.counters["good"].resets == 2
    assert engine.rolling[FIELD_INDEX["good_in"]] == 4 + 2 + 450 + 200


def test_counter_tracker_without_a_time_bound_tells_a_correction_from_a_reset():
    # The energy plugin's parts counter has no ideal cycle: half the last value decides.
    c = CounterTracker(65535)
    assert c.update(10033) == 0
    assert c.update(10032) == -1  # a re-booked part, not 10 032 new ones
    assert (c.corrections, c.resets) == (1, 0)
    assert c.update(3) == 3  # restarted from 0 and counted 3
    assert (c.corrections, c.resets) == (1, 1)
    assert c.update(65530) == 65527 and c.update(4) == 10  # a wrap is still a wrap
    assert c.rollovers == 1
    # A bound given by the caller decides instead.
    b = CounterTracker(None, last=100.0)
    assert b.update(60.0, fresh_max=61.0) == 60.0 and b.resets == 1
    assert b.update(50.0, fresh_max=5.0) == -10.0 and b.corrections == 1


def test_a_first_increment_long_after_the_start_is_counted():
    """A fresh engine skips a counter's first increment only when it comes within one ideal
    cycle of run time: that part was mostly made unseen. The demo's first reject, a minute in,
    was made in full view; skipping it kept quality at 100 % for the demo's first minutes."""
    engine = OeeEngine(demo_params(publish_interval_s=10.0))
    reports = []
    for k in range(121):  # every 0.5 s for 60 s; a good part completes at 1.0, 3.5, 6.0 s, …
        t = k * 0.5
        good = 500 + int((t + 1.5) // 2.5)
        reports += engine.feed(T0 + t, state="run", good=good, reject=7 if t < 50 else 8)
    made = int((60 + 1.5) // 2.5)  # good increments seen
    assert engine.rolling[FIELD_INDEX["good_in"]] == made - 1  # the first, 1 s in: skipped
    assert engine.rolling[FIELD_INDEX["reject_in"]] == 1  # 50 s in: counted
    over = [r.factors for r in reports if isinstance(r, Report) and r.factors.oee > 1]
    assert over == []
