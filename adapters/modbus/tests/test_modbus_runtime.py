"""The `kit up` path: a site config naming a Modbus device (profile + connection) is polled by
the runtime — adapter loaded through its entry point, run by the supervisor, on a real bus."""

from __future__ import annotations

from pathlib import Path

from kit.codec import decode_batch
from kit.settings import ComponentSpec
from kit.testing import wait_for

TEST_PROFILE = Path(__file__).parent / "profiles" / "kit-test-device.yaml"


async def test_runtime_polls_a_configured_device(
    kit_settings, make_runtime, sim_factory, test_profile
):
    sim = await sim_factory(test_profile)
    sim.set_value("power_active_total_w", 4321.0)
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(
                    name="meter-1",
                    type="modbus",
                    asset="test/utilities/main/meter1",
                    config={
                        "profile": str(TEST_PROFILE),
                        "host": sim.host,
                        "port": sim.port,
                        "poll_interval_s": 0.05,
                        "slow_poll_interval_s": 0.1,
                    },
                )
            ]
        }
    )
    rt = await make_runtime(settings)
    batches = []

    async def on_batch(msg):
        batches.append(decode_batch(msg.data))

    await rt.bus.nc.subscribe("kit.data.test.utilities.main.meter1", cb=on_batch)
    await wait_for(
        lambda: any(
            p.name == "power_active_total_w" and p.value == 4321.0 and p.unit == "W"
            for b in batches
            for p in b.points
        ),
        message="value through the runtime",
    )
    assert batches[-1].source == "meter-1"
