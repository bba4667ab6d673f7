"""Report by exception: only points that moved beyond their deadband are published.

Real nats-server; the batches are read back from the bus as a consumer sees them.
"""

from __future__ import annotations

import json

from kit.bus import Bus
from kit.components import Clock, ComponentContext
from kit.settings import ReportSettings, RetentionSettings
from kit.testing import wait_for

POINTS = [("power_w", "W"), ("voltage_v", "V"), ("state", None)]


class StepClock(Clock):
    """Real wall clock, monotonic time moved by the test (the heartbeat schedule)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def monotonic(self) -> float:
        return self.t


async def test_only_changed_points_are_published_with_a_full_heartbeat(nats_server) -> None:
    bus = await Bus.connect(nats_server.url)
    got: list[dict] = []

    async def on_msg(msg) -> None:
        got.append(json.loads(msg.data))

    try:
        await bus.provision(RetentionSettings())
        await bus.nc.subscribe("kit.data.>", cb=on_msg)
        await bus.sync_subscriptions()
        clock = StepClock()
        report = ReportSettings(deadband=0.5, deadbands={"power_w": 10.0}, max_interval_s=60)
        ctx = ComponentContext("m1", bus, asset="s/a/l/m", clock=clock, report=report)
        w = ctx.sample_writer(POINTS)

        async def cycle(values, qualities=None, dt=1.0) -> None:
            clock.t += dt
            await w.publish(values, qualities)

        await cycle([100.0, 230.0, 1])  # first: everything
        await cycle([105.0, 230.4, 1])  # power within 10 W, voltage within 0.5 V: nothing
        await cycle([111.0, 230.4, 2])  # power moved 11 W from what was sent, state changed
        await cycle([111.0, 229.0, 2], [None, None, "comm_lost"])  # voltage moved; state bad
        await cycle([111.0, 229.0, 2], [None, None, "comm_lost"])  # nothing
        await cycle([111.0, 229.0, 2], [None, None, "comm_lost"], dt=60)  # heartbeat: full
        await bus.flush()
        await wait_for(lambda: len(got) >= 4, message="batches")
        names = [[p["name"] for p in b["points"]] for b in got]
        assert names == [
            ["power_w", "voltage_v", "state"],
            ["power_w", "state"],
            ["voltage_v", "state"],
            ["power_w", "voltage_v", "state"],
        ]
        assert got[1]["points"][0]["value"] == 111.0 and got[1]["points"][1]["value"] == 2
        bad = got[2]["points"][1]
        assert bad["quality"] == "bad" and bad["reason"] == "comm_lost" and "value" not in bad
        seqs = [b["seq"] for b in got]  # no gaps: suppressed cycles take no sequence number
        assert seqs == list(range(seqs[0], seqs[0] + 4)) and w._last_seq == seqs[-1]
        assert w.rbe.suppressed == 3 + 1 + 1 + 3  # cycles 2..5; 1 and 6 are full
        # The last-value cache still holds every point with its newest value.
        last = ctx._merge_last(w.path)
        assert last["power_w"]["value"] == 111.0 and last["voltage_v"]["value"] == 229.0
        assert last["state"]["quality"] == "bad"
    finally:
        await bus.close()


async def test_without_report_every_cycle_is_published(nats_server) -> None:
    bus = await Bus.connect(nats_server.url)
    got: list[bytes] = []

    async def on_msg(msg) -> None:
        got.append(msg.data)

    try:
        await bus.provision(RetentionSettings())
        await bus.nc.subscribe("kit.data.>", cb=on_msg)
        await bus.sync_subscriptions()
        w = ComponentContext("m1", bus, asset="s/a/l/m").sample_writer(POINTS)
        for _ in range(3):
            await w.publish([100.0, 230.0, 1])
        await bus.flush()
        await wait_for(lambda: len(got) == 3, message="3 batches")
    finally:
        await bus.close()
