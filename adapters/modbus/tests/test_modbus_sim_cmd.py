"""`kit sim PROFILE`: the command serves a profile that the adapter can then read."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest
from kit_modbus.plugin import ModbusAdapter, ModbusConfig

from kit.errors import PluginError

TEST_PROFILE = Path(__file__).parent / "profiles" / "kit-test-device.yaml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def test_kit_sim_serves_a_profile_file():
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kit.cli import main; main()",
        "sim",
        str(TEST_PROFILE),
        "--port",
        str(port),
        "--duration",
        "30",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stdout.readline(), 60)).decode()
        assert f"modbus://127.0.0.1:{port}" in line
        msg = await ModbusAdapter.test_connection(
            ModbusConfig(profile=str(TEST_PROFILE), host="127.0.0.1", port=port)
        )
        assert "KTD-1" in msg
    finally:
        proc.terminate()
        await proc.wait()


async def test_start_simulator_api_dispatches_on_protocol():
    from kit.cli.sim_cmd import adapter_for, start_simulator

    assert adapter_for("modbus") is ModbusAdapter
    with pytest.raises(PluginError):
        adapter_for("no-such-protocol")
    sim = await start_simulator("eastron-sdm630")
    try:
        assert sim.port > 0 and sim.url == f"modbus://127.0.0.1:{sim.port}"
        msg = await ModbusAdapter.test_connection(
            ModbusConfig(profile="eastron-sdm630", host=sim.host, port=sim.port, transport="tcp")
        )
        # What was read from the device, never the profile's own vendor/model text.
        assert f"device at 127.0.0.1:{sim.port} unit 1 answered" in msg
        assert "Eastron" not in msg
    finally:
        await sim.stop()
