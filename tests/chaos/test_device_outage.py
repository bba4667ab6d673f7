"""A device outage under a running runtime: the simulated meter stops answering, then
comes back. The adapter keeps publishing (bad quality with a reason while the device is
silent), the runtime reports the device's health, nothing is marked failed, and every
batch the adapter published is stored (by sequence, against the adapter's own count);
the device's own request counter shows polling resumed."""

from __future__ import annotations

import json

from chaos_helpers import completeness, gaps, stored_seqs, until

from kit import subjects
from kit.cli.sim_cmd import start_simulator
from kit.runtime import Runtime
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings

METER = "chaos/utilities/main/meter1"


async def test_device_outage_and_return(tmp_path):
    sim = await start_simulator("eastron-sdm630", host="127.0.0.1", port=0)
    settings = Settings(
        site="chaos",
        data_dir=tmp_path / "data",
        nats=NatsSettings(port=0),
        supervisor=SupervisorSettings(
            backoff_initial_s=0.05, backoff_max_s=0.5, crash_loop_failures=3, heartbeat_s=0.5
        ),
        components=[
            ComponentSpec(
                name="meter1",
                type="modbus",
                asset=METER,
                config={
                    "profile": "eastron-sdm630",
                    "host": sim.host,
                    "port": sim.port,
                    "poll_interval_s": 0.1,
                    "slow_poll_interval_s": 0.2,
                    "timeout_s": 0.3,
                },
            )
        ],
    )
    rt = Runtime(settings)
    await rt.start()
    try:
        inst = rt.supervisor.instances["meter1"]
        health: list[dict] = []

        async def on_health(msg) -> None:
            health.append(json.loads(msg.data))

        await rt.bus.nc.subscribe("kit.health.>", cb=on_health)
        await until(lambda: inst.component and inst.component.batches >= 10, what="polling")
        sim.set_silent(True)
        n_health = len(health)
        await until(
            lambda: any(
                h.get("kind") == "device" and h["status"] != "running" for h in health[n_health:]
            ),
            timeout=60,
            what="device health reports the outage",
        )
        assert inst.status.value == "running", inst.summary()
        requests_silent = sim.requests
        sim.set_silent(False)
        await until(lambda: sim.requests > requests_silent + 20, timeout=60, what="polled again")
        n = inst.component.batches
        await until(lambda: inst.component.batches >= n + 10, timeout=60, what="publishing again")
        assert inst.status.value == "running" and not inst.failures, inst.summary()
        bus = inst.context.bus
        await rt.supervisor.remove("meter1")
        produced = inst.component.batches
        await bus.flush(timeout=20)
        seqs = await stored_seqs(rt.bus, subjects.data_subject(subjects.AssetPath.parse(METER)))
        print(
            f"\ndevice outage: completeness {completeness(seqs, produced):.2f} % "
            f"({len(set(seqs))}/{produced}), device requests {sim.requests}"
        )
        assert gaps(seqs) == [] and len(set(seqs)) == produced
    finally:
        await rt.stop()
        await sim.stop()
