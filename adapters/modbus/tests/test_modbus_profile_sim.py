"""Simulation generators: values stay within the bounds validation relies on, and repeat."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st
from kit_modbus.profile_sim import Counter, Generator, default_generator
from pydantic import TypeAdapter

GEN = TypeAdapter(Generator)
finite = st.floats(-1e6, 1e6, allow_nan=False)
times = st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1, max_size=30)


def _inside(gen, ts, seed=1):
    lo, hi = gen.bounds()
    f = gen.sampler(seed)
    for t in ts:
        v = f(t)
        assert lo - 1e-6 * max(1.0, abs(lo)) <= v <= hi + 1e-6 * max(1.0, abs(hi)), (gen, t, v)


@given(mean=finite, amp=st.floats(0, 1e5), period=st.floats(0.1, 1e5), ts=times)
def test_sine_within_bounds(mean, amp, period, ts):
    _inside(
        GEN.validate_python(
            {"generator": "sine", "mean": mean, "amplitude": amp, "period_s": period}
        ),
        ts,
    )


@given(a=finite, b=finite, period=st.floats(0.1, 1e5), ts=times)
def test_ramp_within_bounds(a, b, period, ts):
    _inside(
        GEN.validate_python({"generator": "ramp", "start": a, "end": b, "period_s": period}), ts
    )


@settings(max_examples=50)
@given(
    lo=st.floats(-1000, 0),
    width=st.floats(0.001, 1000),
    step=st.floats(0.001, 100),
    seed=st.integers(0, 99),
    ts=st.lists(st.floats(0, 5000), min_size=1, max_size=10),
)
def test_random_walk_within_bounds_and_repeatable(lo, width, step, seed, ts):
    spec = {"generator": "random_walk", "start": lo, "step": step, "min": lo, "max": lo + width}
    gen = GEN.validate_python(spec)
    _inside(gen, sorted(ts), seed)
    _inside(gen, ts, seed)  # time going backwards restarts, still inside
    a, b = gen.sampler(seed), gen.sampler(seed)
    assert [a(t) for t in sorted(ts)] == [b(t) for t in sorted(ts)]


def test_counter_and_wrap():
    c = Counter(generator="counter", start=10, rate_per_s=2)
    f = c.sampler()
    assert [f(0), f(1), f(10)] == [10, 12, 30]
    assert c.seconds_to(110) == 50
    w = Counter(generator="counter", start=0, rate_per_s=1, wrap=65536)
    g = w.sampler()
    assert g(65535) == 65535 and g(65536) == 0 and g(70000) == 70000 - 65536
    assert w.bounds() == (0, 65536)


def test_sequence_cycles():
    s = GEN.validate_python({"generator": "sequence", "values": [1, 2, 3], "step_s": 10})
    f = s.sampler()
    assert [f(t) for t in (0, 9.9, 10, 25, 30)] == [1, 1, 2, 3, 1]


def test_defaults_follow_the_semantic_kind():
    gauge = default_generator("temperature_c", "int16", (20.0, 80.0))
    lo, hi = gauge.bounds()
    assert 20 <= lo and hi <= 80 and hi > lo
    counter = default_generator("count_good", "uint32", (0.0, 4294967295.0))
    assert (
        counter.generator == "counter" and counter.seconds_to(4294967295.0) >= 10 * 365 * 86400 - 1
    )
    states = default_generator("machine_state_code", "int16", (0.0, 5.0))
    assert set(states.values) == {1, 2, 3, 4}
    running = default_generator("machine_running", "bit", None)
    assert set(running.values) == {0, 1}
    text = default_generator("x_serial_number", "string", None)
    assert isinstance(text.sampler()(0), str)
    free = default_generator("x_raw", "uint16", None, offset=0.0)
    assert free.bounds() == (0.0, 0.0) and not math.isinf(free.bounds()[1])
