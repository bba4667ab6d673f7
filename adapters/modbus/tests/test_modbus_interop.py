"""Interop: the adapter against a Modbus server we did not write (pyModbusTCP's pure-Python server).

Register contents are computed here with ``struct`` (independently of kit_modbus.codec), so a
codec bug that encode and decode share cannot hide. Covers FC1-4 reads, FC5/6/16 writes,
FC43/14 identification and exception 02 from a register map that is shorter than the profile.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from kit_modbus.plugin import ModbusAdapter, ModbusConfig
from pyModbusTCP.server import DataBank, DeviceIdentification, ModbusServer

from kit.testing import wait_for

TEST_PROFILE = Path(__file__).parent / "profiles" / "kit-test-device.yaml"


def words(fmt: str, value) -> list[int]:
    data = struct.pack(fmt, value)
    return [data[i] << 8 | data[i + 1] for i in range(0, len(data), 2)]


def swap_bytes(regs: list[int]) -> list[int]:
    return [((w & 0xFF) << 8) | (w >> 8) for w in regs]


@pytest.fixture
def foreign_server():
    servers = []

    def _start(**bank_sizes) -> ModbusServer:
        ident = DeviceIdentification(
            vendor_name=b"pyModbusTCP", product_code=b"PMT-1", major_minor_revision=b"0.3"
        )
        srv = ModbusServer(
            host="127.0.0.1",
            port=0,
            no_block=True,
            data_bank=DataBank(**bank_sizes),
            device_id=ident,
        )
        srv.start()
        servers.append(srv)
        return srv

    yield _start
    for s in servers:
        s.stop()


def _port(srv: ModbusServer) -> int:
    return srv._service.server_address[1]


def load_known_registers(bank: DataBank) -> dict:
    """Write known values the way the profile describes them; return what the adapter must publish."""
    hr = {}
    hr[0] = words(">f", 12345.5)  # float32 ABCD
    hr[2] = list(reversed(words(">f", -2.5)))  # float32 CDAB
    hr[4] = swap_bytes(words(">f", 100.25))  # float32 BADC
    hr[6] = list(reversed(swap_bytes(words(">f", 7.0))))  # float32 DCBA
    hr[10] = words(">h", -123)  # int16, scale 0.1 → -12.3 °C
    hr[20] = words(">I", 3_000_000_001)  # uint32 ABCD
    hr[22] = list(reversed(words(">I", 65537)))  # uint32 CDAB
    hr[24] = words(">q", -123456)  # int64
    hr[28] = list(reversed(words(">d", 0.1)))  # float64 CDAB (word order reversed)
    hr[40] = [3]
    hr[41] = [0b1000]  # bit 3 set
    hr[50] = words(">8s", b"PMT-0001")
    for addr, regs in hr.items():
        bank.set_holding_registers(addr, regs)
    bank.set_input_registers(100, words(">I", 123456))  # scale 0.01 → 1234.56 kWh
    bank.set_coils(5, [True])
    bank.set_discrete_inputs(7, [True])
    return {
        "power_active_total_w": 12345.5,
        "x_float_cdab": -2.5,
        "x_float_badc": 100.25,
        "x_float_dcba": 7.0,
        "temperature_c": -12.3,
        "count_good": 3_000_000_001,
        "count_reject": 65537,
        "x_int64": -123456,
        "x_float64": 0.1,
        "machine_state_code": 3,
        "machine_running": True,
        "x_serial": "PMT-0001",
        "x_energy_kwh": 1234.56,
        "x_alarm": True,
        "x_door_open": True,
    }


def _cfg(port: int, **kw):
    return {
        "profile": str(TEST_PROFILE),
        "host": "127.0.0.1",
        "port": port,
        "poll_interval_s": 0.05,
        "slow_poll_interval_s": 0.1,
        **kw,
    }


async def test_known_registers_decode_to_known_values(foreign_server, run_adapter):
    srv = foreign_server()
    expected = load_known_registers(srv.data_bank)
    r = await run_adapter(_cfg(_port(srv)))
    await wait_for(lambda: set(expected) <= set(r.latest()), message="all points published")
    got = r.latest()
    for name, want in expected.items():
        assert got[name].quality == "good", got[name]
        if isinstance(want, float):
            assert got[name].value == pytest.approx(want, rel=1e-9), name
        else:
            assert got[name].value == want, name
    assert got["power_active_total_w"].unit == "W" and got["temperature_c"].unit == "°C"


async def test_writes_reach_a_foreign_server(foreign_server, run_adapter):
    srv = foreign_server()
    load_known_registers(srv.data_bank)
    r = await run_adapter(_cfg(_port(srv)))
    await wait_for(lambda: r.batches, message="first batch")
    await r.adapter.write("machine_state_code", 9)
    await r.adapter.write("x_alarm", False)
    assert srv.data_bank.get_holding_registers(40, 1) == [9]
    assert srv.data_bank.get_coils(5, 1) == [False]


async def test_identification_from_a_foreign_server(foreign_server):
    srv = foreign_server()
    msg = await ModbusAdapter.test_connection(ModbusConfig(**_cfg(_port(srv))))
    assert "pyModbusTCP" in msg and "PMT-1" in msg


async def test_exception_02_from_a_short_register_map(foreign_server, run_adapter):
    # 50 holding registers: x_serial (50..53) does not exist on this "device".
    srv = foreign_server(h_regs_size=50)
    load = {k: v for k, v in load_known_registers(srv.data_bank).items() if k != "x_serial"}
    r = await run_adapter(_cfg(_port(srv)))
    await wait_for(
        lambda: "x_serial" in r.latest() and set(load) <= set(r.latest()), message="batches"
    )
    got = r.latest()
    assert got["x_serial"].quality == "bad" and got["x_serial"].reason == "modbus_exception_2"
    assert all(got[n].quality == "good" for n in load)
