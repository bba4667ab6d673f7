"""`record-device` (issue 20.5): the simplest real use case — any profile, here the one-line
block profile of 1,000 holding registers, polled into the historian with no analytics.
Installed against `kit sim` exactly as a technician would; history rows are then read back
through the control API, and only this device's data is in the deployment's history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from kit import codec
from kit.cli.sim_cmd import start_simulator
from kit.control import ControlClient
from kit.payloads import Point, SampleBatch
from kit.testing import wait_for


async def test_record_device_keeps_a_block_profile_in_history(kit_settings, make_runtime):
    rt = await make_runtime(kit_settings)
    sim = await start_simulator("generic-holding-block")
    try:
        assert len(sim.profile.points) == 1000  # one line of YAML
        sim.set_value("x_hr_10", 1234)
        sim.set_value("x_hr_999", 7)
        result = await rt.recipe_engine.install(
            "record-device",
            {
                "device": "press3 panel",
                "device_profile": "generic-holding-block",
                "device_host": "127.0.0.1",
                "device_port": sim.port,
            },
            check_duration_s=3,
        )
        assert result["changed"]
        owned = [i for i in rt.supervisor.instances.values() if i.owner == result["deployment"]]
        assert sorted(i.type for i in owned) == ["historian", "modbus"]  # no analytics
        hist = next(i for i in owned if i.type == "historian")
        asset = str(hist.asset)
        # Another asset's data on the bus is not this deployment's business.
        other = SampleBatch(
            asset="test/else/where/x",
            ts=datetime.now(UTC),
            seq=1,
            source="other",
            points=[Point(name="x_hr_10", value=1.0)],
        )
        await rt.bus.nc.publish("kit.data.test.else.where.x", codec.encode(other))
        client = ControlClient(rt.bus)
        now = datetime.now(UTC)
        body = {
            "asset": asset,
            "points": ["x_hr_10", "x_hr_999", "x_hr_500"],
            "from": (now - timedelta(minutes=5)).isoformat(),
            "to": (now + timedelta(minutes=5)).isoformat(),
        }
        rows: list = []

        async def fetch() -> bool:
            res = await client.call("history.query", body)
            col = res["columns"]
            rows[:] = [dict(zip(col, r)) for r in res["rows"]]
            return {r["point"] for r in rows} == {"x_hr_10", "x_hr_999", "x_hr_500"}

        await wait_for(fetch, timeout=60, interval=0.5, message="history rows of the device")
        by_point = {r["point"]: r["value"] for r in rows}
        assert by_point["x_hr_10"] == 1234 and by_point["x_hr_999"] == 7
        assert by_point["x_hr_500"] == 0
        root = Path(hist.config.root_for(hist.name, rt.settings.data_dir))
        assets = {p.name for p in root.glob("data/date=*/asset=*")}
        assert assets == {"asset=" + asset.replace("/", ".")}, assets
        await rt.recipe_engine.uninstall(result["deployment"])
    finally:
        await sim.stop()
