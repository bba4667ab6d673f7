"""The gateway clock jumps ten years ahead for a few batches, then back (issue 19.4).

The analytics windows must not jump to the future, the real batches after the jump must
all be used (none dropped as "out of order" against a poisoned state), and the runtime
must say what happened (the batches of the jump are quarantined with a reason). Only the
producer's clock jumps (the gateway's); the analytics keep the runtime's clock, as they
would on the kit's own machine. The last assertion looks for any event or health detail
naming the quarantine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from chaos_helpers import chaos_settings, until

from kit.components import Clock
from kit.runtime import Runtime


class JumpingClock(Clock):
    """Wall time that jumps ``ahead`` while ``jumped`` is set (monotonic time is real)."""

    def __init__(self, ahead: timedelta) -> None:
        self.ahead = ahead
        self.jumped = False

    def now(self) -> datetime:
        real = super().now()
        return real + self.ahead if self.jumped else real


async def test_clock_jump_does_not_poison_windows(tmp_path):
    clock = JumpingClock(timedelta(days=3650))
    rt = Runtime(chaos_settings(tmp_path / "data", interval_s=0.05))
    await rt.start()
    kpis: list[dict] = []
    said: list[str] = []
    forged: list[datetime] = []
    try:

        async def on_kpi(msg) -> None:
            kpis.append(json.loads(msg.data))

        async def on_data(msg) -> None:
            ts = datetime.fromisoformat(json.loads(msg.data)["ts"])
            if ts > datetime.now(UTC) + timedelta(days=1):
                forged.append(ts)

        async def on_any(msg) -> None:
            said.append(msg.data.decode(errors="replace").lower())

        await rt.bus.nc.subscribe("kit.kpi.>", cb=on_kpi)
        await rt.bus.nc.subscribe("kit.data.>", cb=on_data)
        await rt.bus.nc.subscribe("kit.event.>", cb=on_any)
        await rt.bus.nc.subscribe("kit.health.>", cb=on_any)
        src = rt.supervisor.instances["m1"]
        src.context.clock = clock  # the gateway's clock, not the runtime's
        await until(lambda: src.component.batches >= 20, what="load")
        clock.jumped = True
        n = src.component.batches
        await until(lambda: src.component.batches >= n + 5, what="batches in the future")
        clock.jumped = False
        assert forged, "the producer's batches never carried the jumped time"
        n_kpis = len(kpis)
        await until(lambda: len(kpis) >= n_kpis + 3, timeout=60, what="KPIs after the jump")
        horizon = datetime.now(UTC) + timedelta(days=1)
        late = [k for k in kpis if datetime.fromisoformat(k["ts"]) > horizon]
        assert late == [], late[:3]
        oee = rt.supervisor.instances["oee-m1"]
        assert oee.status.value == "running", oee.summary()
        assert any("quarantin" in s or "future" in s for s in said), "the jump was not reported"
    finally:
        await rt.stop()
