"""Event-loop lag while the control API validates a large recipe text (issue 19.7).

Run: ``uv run python bench/control_api_loop.py`` (``--quick`` for a smoke run).

A YAML document just under the request limit (64 KiB; parsing it is CPU work, as an
alias bomb's expansion was) is validated twice against a real runtime (embedded nats-server):

* **baseline, on the loop** — ``kit.recipes.loader.parse_recipe`` called directly in the
  runtime's event loop, which is what ``recipes.validate`` did before it moved the work off
  the loop;
* **endpoint** — ``recipes.validate`` over the bus, which parses in the bounded worker pool.

Meanwhile a ticker wakes every 5 ms and records how late it woke (event-loop lag), and
``ping`` is called in a loop (answers counted). Figures: wall time of each validation, the
largest lag, pings answered during the validation, and the endpoint's lag as a ratio of the baseline's. The last
line is one JSON object with every figure. Threads share the GIL, so the endpoint's lag is
not zero: the figure shows how much of the validation still competes with the loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

TICK_S = 0.005


def big_yaml(target_bytes: int) -> str:
    """A recipe-like YAML text of about ``target_bytes`` (many small mappings)."""
    lines = ["id: big", "version: '1.0.0'", "title: big", "notes:"]
    i = 0
    while sum(map(len, lines)) + len(lines) < target_bytes:
        lines.append(f"  k{i}: {{a: [1, 2, 3], b: text {i}, c: {{d: {i}.5}}}}")
        i += 1
    return "\n".join(lines) + "\n"


async def measure(work: Any, client: Any) -> dict[str, float]:
    """Run ``work()`` while a ticker measures loop lag and ``ping`` is called."""
    from kit.api import core

    lags: list[float] = []
    pings = 0
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    async def ticker() -> None:
        while not done.is_set():
            t0 = loop.time()
            await asyncio.sleep(TICK_S)
            lags.append(loop.time() - t0 - TICK_S)

    async def pinger() -> None:
        nonlocal pings
        while not done.is_set():
            await client.call(core.PING)
            pings += 1

    tasks = [asyncio.create_task(ticker()), asyncio.create_task(pinger())]
    await asyncio.sleep(0.05)  # the ticker and pinger are running before the work starts
    t0, before = time.perf_counter(), pings
    try:
        await work()
    finally:
        wall = time.perf_counter() - t0
        during = pings - before
        done.set()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"wall_s": wall, "max_lag_s": max(lags, default=0.0), "pings": float(during)}


async def main(quick: bool) -> dict[str, Any]:
    """Both measurements; returns the figures."""
    from kit.api import MAX_TEXT_CHARS
    from kit.api import recipes as rec_api
    from kit.control import ControlClient, ControlError
    from kit.errors import KitError
    from kit.recipes.loader import parse_recipe
    from kit.runtime import Runtime
    from kit.settings import NatsSettings, Settings

    text = big_yaml(MAX_TEXT_CHARS // 10 if quick else MAX_TEXT_CHARS - 6_000)
    rt = Runtime(
        Settings(site="bench", data_dir=Path(tempfile.mkdtemp()), nats=NatsSettings(port=0))
    )
    await rt.start()
    try:
        client = ControlClient(rt.bus, timeout=600)

        async def on_loop() -> None:
            try:
                parse_recipe(text, "big.yaml")
            except KitError:
                pass

        async def endpoint() -> None:
            try:
                await client.call(rec_api.VALIDATE, {"text": text, "filename": "big.yaml"})
            except ControlError:
                pass

        base = await measure(on_loop, client)
        ep = await measure(endpoint, client)
    finally:
        await rt.stop()
    return {
        "bytes": len(text),
        "baseline_on_loop": base,
        "endpoint": ep,
        "lag_ratio": ep["max_lag_s"] / base["max_lag_s"] if base["max_lag_s"] else None,
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a tenth of the text, seconds")
    args = ap.parse_args()
    res = asyncio.run(main(args.quick))
    b, e = res["baseline_on_loop"], res["endpoint"]
    print(f"recipe text: {res['bytes']} bytes of YAML")
    print(
        f"baseline (parsed on the loop): {b['wall_s']:.2f} s, largest loop lag "
        f"{b['max_lag_s'] * 1000:.0f} ms, pings answered {b['pings']:.0f}"
    )
    print(
        f"recipes.validate (worker pool): {e['wall_s']:.2f} s, largest loop lag "
        f"{e['max_lag_s'] * 1000:.0f} ms, pings answered {e['pings']:.0f}"
    )
    if res["lag_ratio"] is not None:
        print(f"lag ratio endpoint/baseline: {res['lag_ratio']:.3f}")
    print(json.dumps(res))
