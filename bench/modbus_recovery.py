"""Modbus recovery time: how long after a dead device returns until its data is good again.

A device (the adapter's simulator) is polled, stopped for long enough that both reconnect
schedules — the line's connection backoff and the poller's circuit breaker — reach their cap,
then started again on the same port. The time from "device back" to the first good poll is
measured over several trials and compared with the bound the adapter promises: backoff cap +
one poll interval (docs/adapters/modbus.md). Two independent schedules used to add up (50 s
seen with a 30 s cap).

Printed: each trial's recovery time, the worst and mean, and worst/bound as the ratio (≤ 1.0
meets the promise). The last line is one JSON object.

Usage: ``uv run python bench/modbus_recovery.py [--quick] [--trials N] [--cap S]``
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import time
from pathlib import Path

from kit_modbus.device import DevicePoller
from kit_modbus.line import Line, LineKey
from kit_modbus.plugin import ModbusAdapter, ModbusConfig, find_profile

PROFILE = (
    Path(__file__).resolve().parents[1] / "adapters/modbus/tests/profiles/kit-test-device.yaml"
)


async def trial(cap: float, poll: float, down_s: float) -> float:
    prof = find_profile(str(PROFILE))
    sim = ModbusAdapter.simulator(prof, "127.0.0.1", 0)
    await sim.start()
    cfg = ModbusConfig(profile=str(PROFILE), host=sim.host, port=sim.port)
    line = Line(
        LineKey("tcp", f"{sim.host}:{sim.port}"),
        host=sim.host,
        port=sim.port,
        timeout_s=0.5,
        backoff_initial_s=cap / 8,
        backoff_max_s=cap,
    )
    cfg = cfg.model_copy(update={"backoff_initial_s": cap / 8, "backoff_max_s": cap})
    poller: DevicePoller = ModbusAdapter.build_poller(cfg, prof, line)
    recovered = asyncio.Event()
    back = {"t": None}

    async def polling() -> None:
        # The adapter's loop: one poll per interval, whatever the device does.
        while True:
            ok = await poller.poll()
            if ok and back["t"] is not None:
                recovered.set()
                return
            await asyncio.sleep(poll)

    try:
        assert await poller.poll()
        task = asyncio.create_task(polling())
        await sim.stop()
        # Down long enough for both schedules to reach the cap, then back at a random phase.
        await asyncio.sleep(down_s + random.uniform(0, cap))
        await sim.start()
        back["t"] = time.monotonic()
        await recovered.wait()
        took = time.monotonic() - back["t"]
        await task
        return took
    finally:
        line.close()
        await sim.stop()


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 trials with a 1 s cap")
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--cap", type=float, default=4.0, help="backoff cap (s)")
    ap.add_argument("--poll", type=float, default=0.1, help="poll interval (s)")
    a = ap.parse_args()
    trials, cap = (2, 1.0) if a.quick else (a.trials, a.cap)
    down = cap * 4
    bound = cap + a.poll
    times = []
    for i in range(trials):
        t = await trial(cap, a.poll, down)
        times.append(t)
        print(f"trial {i + 1}: recovered {t:.2f} s after the device returned")
    worst, mean = max(times), sum(times) / len(times)
    print(
        f"cap {cap:g} s + poll {a.poll:g} s = bound {bound:.2f} s; worst {worst:.2f} s, "
        f"mean {mean:.2f} s; worst/bound {worst / bound:.2f} "
        f"({'met' if worst <= bound * 1.05 else 'MISSED'})"
    )
    print(
        json.dumps(
            {
                "bench": "modbus_recovery",
                "cap_s": cap,
                "poll_s": a.poll,
                "bound_s": bound,
                "recovery_s": times,
                "worst_s": worst,
                "mean_s": mean,
                "ratio_worst_to_bound": worst / bound,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
