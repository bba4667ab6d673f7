"""Malformed Modbus replies (issue 19.6) against the independent meter emulator: a quality reason,
never a crash; no pymodbus log flood; a failed component still says its points are bad; a
device that returns is found by the first due probe."""

from __future__ import annotations

import asyncio
import logging
import time

import meter_emulator as me
import pytest
from kit_modbus.device import DevicePoller, PointSpec
from kit_modbus.line import Line, LineKey
from kit_modbus.plugin import ModbusAdapter, ModbusConfig

from kit.codec import decode_batch
from kit.components import ComponentContext
from kit.settings import SupervisorSettings
from kit.supervisor import Instance, Supervisor
from kit.testing import wait_for

FAULTS = ["wrong_fc", "short_count", "bad_byte_count"]


def _specs() -> list[PointSpec]:
    return [
        PointSpec(
            r.semantic, "input", r.address, r.type, "CDAB", 2 if r.type == "int32" else 1, r.scale
        )
        for r in me.MAP[:9]
    ]


def _line(emu) -> Line:
    return Line(
        LineKey("tcp", f"{emu.host}:{emu.port}"), host=emu.host, port=emu.port, timeout_s=1.0
    )


@pytest.mark.parametrize("fault", FAULTS)
async def test_malformed_reply_is_a_quality_reason_not_a_crash(meter, fault, caplog):
    caplog.set_level(logging.DEBUG)
    emu = await meter(max_words=125, fault=fault)
    line = _line(emu)
    poller = DevicePoller(_specs(), line, 1, timeout_s=1.0, name="emu")
    try:
        for _ in range(3):
            answered = await poller.poll()
            # The device answered (it is not "down") but no value is trusted.
            assert answered is True
            assert all(v is None for v in poller.values)
            assert set(poller.reasons) == {"malformed_reply"}
        assert poller.stats.errors.get("malformed_reply") == 3
        assert not poller.down
        # The same reads served properly again are good values, exactly what the device holds.
        emu.fault = None
        assert await poller.poll() is True
        assert poller.reasons == [None] * len(poller.specs)
        assert me.same(
            {s.name: v for s, v in zip(poller.specs, poller.values)},
            {s.name: emu.expected[s.name] for s in poller.specs},
        )
    finally:
        line.close()
    # pymodbus' hex dumps and per-frame errors stay out of the log; the poller says it once.
    flood = [r for r in caplog.records if r.name.startswith("pymodbus") or r.name == "asyncio"]
    assert flood == []
    said = [r.getMessage() for r in caplog.records if "malformed frames" in r.getMessage()]
    assert len(said) == 1
    again = [r for r in caplog.records if "valid frames again" in r.getMessage()]
    assert len(again) == 1


async def test_adapter_keeps_running_and_publishes_malformed_reply(meter, run_adapter, tmp_path):
    emu = await meter(max_words=125, fault="short_count")
    prof = tmp_path / "emu.yaml"
    prof.write_text(me.profile_yaml())
    r = await run_adapter(
        {"profile": str(prof), "host": emu.host, "port": emu.port, "poll_interval_s": 0.02}
    )
    await wait_for(lambda: len(r.batches) >= 3, message="three batches")
    assert not r.task.done()  # no crash, so no crash loop and no silence
    reasons = {p.reason for b in r.batches for p in b.points}
    assert reasons == {"malformed_reply"}
    emu.fault = None
    await wait_for(
        lambda: r.batches and all(p.quality == "good" for p in r.batches[-1].points),
        message="good data after the device behaves",
    )
    assert me.same({n: p.value for n, p in r.latest().items()}, emu.expected)


class _CrashAfterSetup(ModbusAdapter):
    """A Modbus adapter whose run() dies after its points are known (a bug, not the device)."""

    name = "modbus-crashing"

    async def run(self) -> None:
        self._setup()
        raise RuntimeError("bug in the poll loop")


async def test_failed_component_still_publishes_bad_quality(bus, meter, tmp_path):
    emu = await meter()
    prof = tmp_path / "emu.yaml"
    prof.write_text(me.profile_yaml())
    batches: list = []

    async def on_batch(msg):
        batches.append(decode_batch(msg.data))

    await bus.nc.subscribe("kit.data.test.a.l.meter", cb=on_batch)

    async def publish(subject: str, data: bytes) -> None:
        await bus.nc.publish(subject, data)

    sup = Supervisor(
        SupervisorSettings(backoff_initial_s=0.01, backoff_max_s=0.02, crash_loop_failures=2),
        publish,
    )
    cfg = ModbusConfig.model_validate({"profile": str(prof), "host": emu.host, "port": emu.port})
    inst = Instance(
        "meter",
        "modbus-crashing",
        _CrashAfterSetup,
        cfg,
        lambda: ComponentContext(
            "meter", bus, asset="test/a/l/meter", site="test", logger=logging.getLogger("t")
        ),
        asset="test/a/l/meter",
    )
    sup.add(inst)
    try:
        await wait_for(lambda: inst.status.value == "failed", message="crash loop → failed")
        await wait_for(lambda: batches, message="a batch from the failed component")
    finally:
        await sup.stop_all()
    names = {p.name for p in batches[-1].points}
    assert names == {r.semantic for r in me.MAP}
    assert all(
        p.quality == "bad" and p.reason == "component_failed" and p.value is None
        for p in batches[-1].points
    )


async def test_breaker_probe_waits_for_the_line_instead_of_being_wasted(meter):
    """While a device is down every breaker probe is a real connection attempt: a probe sent
    while the line's own reconnect backoff is still running used to be refused without touching
    the wire and cost a full backoff step (recovery took cap + cap, 50 s with a 30 s cap)."""
    emu = await meter()
    port = emu.port
    line = Line(
        LineKey("tcp", f"{emu.host}:{port}"),
        host=emu.host,
        port=port,
        timeout_s=0.5,
        backoff_initial_s=0.02,
        backoff_max_s=0.08,
    )
    poller = DevicePoller(
        _specs(), line, 1, timeout_s=0.5, backoff_initial_s=0.02, backoff_max_s=0.08
    )
    try:
        assert await poller.poll()
        await emu.stop()
        while not poller.breaker_open:
            await poller.poll()
        attempts0, probes0 = line.connect_attempts, len(poller.probe_times)
        deadline = time.monotonic() + 60
        while len(poller.probe_times) < probes0 + 12:
            assert time.monotonic() < deadline, "the breaker never probed 12 times"
            await poller.poll()
            await asyncio.sleep(0.005)  # the poll schedule: probes come due by time
        attempts = line.connect_attempts - attempts0
        probes = len(poller.probe_times) - probes0
        assert attempts == probes
        # Back on the same port: the next probe that is due reconnects and reads.
        emu.port = port
        await emu.start()
        probes_back = len(poller.probe_times)
        deadline = time.monotonic() + 60
        while not await poller.poll():
            assert time.monotonic() < deadline, "the device never read again after it returned"
            await asyncio.sleep(0.005)  # the poll schedule: probes come due by time
        assert len(poller.probe_times) - probes_back == 1
    finally:
        line.close()
