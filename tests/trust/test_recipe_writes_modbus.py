"""A write declared by a recipe reaches a simulated Modbus device with the profile's encoding;
writes the recipe does not declare, or outside its bounds, are refused — all audited."""

import json

import pytest
from pymodbus.client import AsyncModbusTcpClient

from kit.cli.sim_cmd import start_simulator
from kit.control import ControlClient
from kit.errors import KitError
from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary
from kit.testing import wait_for

RECIPE = """
id: drive-setpoint
version: 1.0.0
title: Frequency setpoint of a drive
summary: Lets an operator change the frequency setpoint of a drive within bounds.
kpi: {name: speed, moves: "changeovers without walking to the panel", evidence: "audited writes"}
parameters:
  host: {type: host, prompt: "IP address of the Modbus TCP gateway"}
  port: {type: port, prompt: "Modbus TCP port", default: 502}
  max_hz: {type: number, prompt: "Highest setpoint an operator may set", default: 50, min: 1, max: 60}
assets:
  drive:
    adapter: modbus
    profile: schneider-atv320
    path: "${site}/assembly/line1/drive1"
    connection: {host: "${host}", port: "${port}", unit_id: 1, transport: tcp}
writes:
  - {asset: drive, point: frequency_setpoint_hz, min: 0, max: "${max_hz}", max_per_minute: 5}
"""


async def test_declared_write_reaches_the_device_encoded(kit_settings, make_runtime, tmp_path):
    sim = await start_simulator("schneider-atv320")
    try:
        rt = await make_runtime(kit_settings)
        await rt.recipe_engine.install(
            {"text": RECIPE, "filename": "drive-setpoint.yaml"},
            {"host": "127.0.0.1", "port": sim.port, "max_hz": 45},
            check_duration_s=1,
        )
        events = []

        async def on_audit(msg):
            events.append(json.loads(msg.data))

        await rt.bus.nc.subscribe("kit.event.audit.>", cb=on_audit)
        api = ControlClient(rt.bus)
        asset = "test/assembly/line1/drive1"
        req = await api.call(
            "writes.request",
            {"asset": asset, "point": "frequency_setpoint_hz", "value": 42.5, "who": "tech-anna"},
        )
        done = await api.call(
            "writes.confirm", {"request_id": req["request_id"], "who": "tech-anna"}
        )
        assert done["executed"] is True

        # Read the register back with a plain pymodbus client: int16 with scale 0.1 → 425.
        prof = ProfileLibrary(get_plugin_manager()).load().get("schneider-atv320")
        point = next(p for p in prof.points if p.semantic == "frequency_setpoint_hz")
        expected_raw = round(42.5 / point.scale)
        client = AsyncModbusTcpClient("127.0.0.1", port=sim.port)
        await client.connect()
        try:
            rr = await client.read_holding_registers(point.pdu_address, count=1, device_id=1)
            assert not rr.isError() and rr.registers == [expected_raw]
        finally:
            client.close()

        # Outside the recipe's bound (max_hz = 45) and undeclared points are refused.
        with pytest.raises(KitError, match="above the maximum 45"):
            await api.call(
                "writes.request",
                {"asset": asset, "point": "frequency_setpoint_hz", "value": 50, "who": "tech-anna"},
            )
        with pytest.raises(KitError, match="allow-list"):
            await api.call(
                "writes.request",
                {"asset": asset, "point": "drive_control_word", "value": 6, "who": "tech-anna"},
            )
        await wait_for(
            lambda: sum(e["result"] == "refused" for e in events) >= 2, message="refusals audited"
        )
        types = [e["type"] for e in events]
        assert "write_refused" in types
        for e in events:  # IEC 62443-4-2 CR 2.8 record fields
            assert {"ts", "source", "category", "type", "id", "result"} <= set(e)
    finally:
        await sim.stop()
