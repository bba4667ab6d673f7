"""Exception 03 ("request too long") is learned like exception-02 holes: the request size is
halved until reads succeed, remembered per device for the process and reported with the
profile setting to change (issue 12.3). Against the planner alone and the independent meter
emulator (20-word limit)."""

from __future__ import annotations

import logging

import meter_emulator as me
from kit_modbus.line import LINES, Line, LineKey
from kit_modbus.planner import Item, Planner, RequestRefused, read_learning
from kit_modbus.plugin import ModbusAdapter, ModbusConfig

from kit.testing import wait_for


class LimitedDevice:
    """Refuses reads longer than ``limit`` with exception 03; one register per address."""

    def __init__(self, limit: int, refuse: set[int] | None = None) -> None:
        self.limit, self.refuse, self.sizes = limit, refuse or set(), []

    async def read(self, r):
        self.sizes.append(r.count)
        if r.count > self.limit or any(a in self.refuse for a in range(r.start, r.end)):
            raise RequestRefused(Exception("exception 03"))
        return list(range(r.start, r.end))


async def test_planner_halves_the_request_size_until_reads_succeed():
    items = [Item(k, "input", 2 * k, 2) for k in range(40)]  # 80 registers, one read of 80
    p = Planner(items, max_gap=0)
    assert [r.count for r in p.reads] == [80]
    dev = LimitedDevice(20)
    got = await read_learning(p, p.reads[0], dev.read)
    # Every point read, each with the value of its own address.
    by_key = {k: data[off : off + 2] for r, data in got.ok for k, off in r.members}
    assert by_key == {k: [2 * k, 2 * k + 1] for k in range(40)}
    assert got.refused == [] and got.illegal == []
    assert got.limit == 20 and got.refused_size == 40
    assert p.learned == {"max_registers_per_read": 20}
    # Next cycle: no refused request at all.
    dev.sizes.clear()
    for r in p.reads:
        await read_learning(p, r, dev.read)
    assert dev.sizes and max(dev.sizes) <= 20 and len(dev.sizes) == 4


async def test_a_point_refused_alone_keeps_its_exception_and_teaches_no_limit():
    items = [Item(k, "input", k) for k in range(4)]
    p = Planner(items)
    dev = LimitedDevice(125, refuse={2})
    got = await read_learning(p, p.reads[0], dev.read)
    assert got.refused == [2]
    assert sorted(k for r, _ in got.ok for k, _ in r.members) == [0, 1, 3]
    assert p.learned == {}


def _cfg(emu, prof):
    return {"profile": str(prof), "host": emu.host, "port": emu.port, "poll_interval_s": 0.02}


async def test_adapter_learns_the_limit_and_reads_every_point(meter, run_adapter, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    emu = await meter(max_words=20)
    prof = tmp_path / "emu.yaml"
    prof.write_text(me.profile_yaml())
    r = await run_adapter(_cfg(emu, prof))
    await wait_for(
        lambda: r.batches and all(p.quality == "good" for p in r.batches[-1].points),
        message="all points good despite the 20-word limit",
    )
    assert me.same({n: p.value for n, p in r.latest().items()}, emu.expected)
    poller = r.adapter.poller
    limit = poller.planner.learned["max_registers_per_read"]
    assert limit <= 20
    assert all(rd.count <= 20 for rd in poller.planner.reads)
    assert poller.health()["learned_limits"] == {"max_registers_per_read": limit}
    said = [rec.getMessage() for rec in caplog.records if "exception 03" in rec.getMessage()]
    assert said and f"connection.max_registers_per_read: {limit}" in said[0]
    # Once learned, the device refuses nothing more.
    refused = emu.rejected.get(3, 0)
    n = len(r.batches)
    await wait_for(lambda: len(r.batches) >= n + 5, message="five more batches")
    assert emu.rejected.get(3, 0) == refused


async def test_limit_is_remembered_for_the_device_across_pollers(meter, tmp_path):
    emu = await meter(max_words=20)
    prof = tmp_path / "emu.yaml"
    prof.write_text(me.profile_yaml())
    cfg = ModbusConfig.model_validate(_cfg(emu, prof))
    from kit_modbus.plugin import find_profile

    profile = find_profile(str(prof))
    key = LineKey("tcp", f"{emu.host}:{emu.port}")
    line = LINES.acquire(key, host=emu.host, port=emu.port)
    try:
        first = ModbusAdapter.build_poller(cfg, profile, line)
        assert await first.poll()
        learned = dict(first.planner.learned)
        assert learned
    finally:
        LINES.release(line)
    refused = emu.rejected.get(3, 0)
    line = LINES.acquire(key, host=emu.host, port=emu.port)  # a restarted component
    try:
        second = ModbusAdapter.build_poller(cfg, profile, line)
        assert second.planner.learned == learned
        assert await second.poll()
        assert emu.rejected.get(3, 0) == refused  # nothing refused: it did not relearn
        assert second.reasons == [None] * len(second.specs)
    finally:
        LINES.release(line)


async def test_connection_test_passes_and_names_the_setting(meter, tmp_path):
    emu = await meter(max_words=20)
    prof = tmp_path / "emu.yaml"
    prof.write_text(me.profile_yaml())
    msg = await ModbusAdapter.test_connection(ModbusConfig.model_validate(_cfg(emu, prof)))
    assert "answered" in msg
    assert "exception 03" in msg and "connection.max_registers_per_read:" in msg


def test_line_outside_the_registry_starts_with_nothing_learned():
    line = Line(LineKey("tcp", "127.0.0.1:1"), host="127.0.0.1", port=1)
    assert line.learned == {}


async def test_recipe_installs_on_a_device_with_a_small_request_limit(
    meter, site_host, kit_settings, make_runtime
):
    """Install used to fail with exit 6 naming neither the request size nor the setting."""
    emu = await meter(max_words=20)
    rt = await make_runtime(kit_settings, host=site_host)
    result = await rt.recipe_engine.install(
        "energy-per-shift",
        {
            "meter": "main feed",
            "meter_profile": "emu-em24",
            "meter_host": emu.host,
            "meter_port": emu.port,
        },
        wait_report=True,
        check_duration_s=4,
    )
    assert result["changed"]
    ident = result["identification"]["meter"]
    assert "exception 03" in ident and "connection.max_registers_per_read:" in ident
    assert result["report"]["result"] == "pass", result["report"]["checks"]
    await rt.recipe_engine.uninstall(result["deployment"])
