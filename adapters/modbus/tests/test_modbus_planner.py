"""Planner: limits, gaps, poll classes and learning exception-02 holes by bisection."""

from __future__ import annotations

import random

import pytest
from kit_modbus.planner import (
    SPEC_MAX_BITS,
    SPEC_MAX_REGISTERS,
    IllegalAddress,
    Item,
    Planner,
    read_bisecting,
)


def _covered(reads, items):
    got = {}
    for r in reads:
        for key, off in r.members:
            it = items[key]
            assert r.table == it.table and r.start + off == it.address
            assert r.start <= it.address and it.address + it.count <= r.end
            got[key] = got.get(key, 0) + 1
    return got


def test_every_point_is_read_exactly_once_within_limits():
    rng = random.Random(4)
    items = [
        Item(
            k,
            rng.choice(["holding", "input", "coil", "discrete"]),
            rng.randrange(0, 1000),
            rng.choice([1, 2, 4]),
            rng.choice(["fast", "slow"]),
        )
        for k in range(2000)
    ]
    items = [
        Item(i.key, i.table, i.address, 1 if i.table in ("coil", "discrete") else i.count, i.poll)
        for i in items
    ]
    p = Planner(items, max_registers=100, max_gap=8)
    by_key = {i.key: i for i in items}
    assert _covered(p.reads, by_key) == {k: 1 for k in by_key}
    for r in p.reads:
        limit = 2000 if r.table in ("coil", "discrete") else 100
        assert 1 <= r.count <= limit
        assert len({by_key[k].poll for k, _ in r.members}) == 1
    assert len(p.reads) < len(items) / 4


def test_spec_limits_cap_the_device_limits():
    items = [Item(k, "holding", k) for k in range(1000)] + [
        Item(10_000 + k, "coil", k) for k in range(5000)
    ]
    p = Planner(items, max_registers=500, max_bits=9000)
    assert max(r.count for r in p.reads if r.table == "holding") == SPEC_MAX_REGISTERS
    assert max(r.count for r in p.reads if r.table == "coil") == SPEC_MAX_BITS
    assert len([r for r in p.reads if r.table == "holding"]) == -(-1000 // SPEC_MAX_REGISTERS)


def test_gap_decides_coalescing():
    items = [Item(0, "holding", 0, 2), Item(1, "holding", 12, 2), Item(2, "holding", 40, 2)]
    assert [(r.start, r.count) for r in Planner(items, max_gap=10).reads] == [(0, 14), (40, 2)]
    assert len(Planner(items, max_gap=0).reads) == 3
    assert len(Planner(items, max_gap=40).reads) == 1


def test_poll_classes_are_planned_apart():
    items = [Item(0, "holding", 0, poll="fast"), Item(1, "holding", 1, poll="slow")]
    p = Planner(items)
    assert {r.poll for r in p.reads_for(["fast"])} == {"fast"}
    assert len(p.reads) == 2


class FakeDevice:
    """A register map with illegal addresses, answering like a Modbus device would."""

    def __init__(self, illegal: set[int], boundary: int | None = None) -> None:
        self.illegal, self.boundary, self.requests = illegal, boundary, 0

    async def read(self, r):
        self.requests += 1
        span = range(r.start, r.end)
        if any(a in self.illegal for a in span) or (
            self.boundary is not None and r.start < self.boundary < r.end
        ):
            raise IllegalAddress()
        return list(span)


async def test_bisection_marks_only_the_illegal_point():
    items = [Item(k, "holding", k * 2, 2) for k in range(16)]
    p = Planner(items, max_gap=0)
    dev = FakeDevice(illegal={11})  # inside point 5 (addresses 10, 11)
    assert len(p.reads) == 1
    ok, illegal = await read_bisecting(p, p.reads[0], dev.read)
    assert illegal == [5]
    read_keys = sorted(k for r, _ in ok for k, _ in r.members)
    assert read_keys == [k for k in range(16) if k != 5]
    # Learned: the next cycle reads everything but point 5 without any failure.
    dev.requests = 0
    for r in p.reads:
        ok, illegal = await read_bisecting(p, r, dev.read)
        assert illegal == []
    assert dev.requests == len(p.reads) <= 3


async def test_hole_in_a_gap_becomes_a_cut():
    items = [Item(0, "holding", 0, 2), Item(1, "holding", 6, 2)]
    p = Planner(items, max_gap=10)
    dev = FakeDevice(illegal={4})
    ok, illegal = await read_bisecting(p, p.reads[0], dev.read)
    assert illegal == [] and len(ok) == 2
    assert ("holding", 6) in p.cuts and len(p.reads) == 2


async def test_block_boundary_becomes_a_cut():
    items = [Item(k, "input", k) for k in range(20)]
    p = Planner(items)
    dev = FakeDevice(illegal=set(), boundary=13)
    for _ in range(3):
        for r in list(p.reads):
            ok, illegal = await read_bisecting(p, r, dev.read)
            assert illegal == []
    assert [(r.start, r.end) for r in p.reads] == [(0, 13), (13, 20)]


def test_oversized_point_is_refused():
    with pytest.raises(ValueError):
        Planner([Item(0, "holding", 0, 130)])
