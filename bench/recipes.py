"""Recipe engine figures: validation rate, and install/uninstall latency on a real runtime.

Baseline (same run): adding the same component directly with ``Runtime.add_component`` and
waiting until it reports running — what a hand-written site config costs. The engine adds
planning, the connection test, the settle time that proves the components stay up, and the
KV record. Run: ``uv run python bench/recipes.py [--rounds N]``; ``--quick`` (the CI smoke
run) validates for 0.5 s and installs once. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

from kit.builtin import shipped_dir
from kit.natsserver import EmbeddedNats
from kit.plugins import get_plugin_manager
from kit.recipes.loader import load_recipe
from kit.recipes.plan import build_plan
from kit.runtime import Runtime
from kit.settings import ComponentSpec, NatsSettings, Settings


def validation_rates(host, seconds: float = 2.0) -> tuple[float, float]:
    """Recipe files per second: pass 1 (read + YAML with lines + shape) and pass 2 (plugins, profiles)."""
    files = sorted(shipped_dir("recipes").glob("*.yaml"))
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        loaded = [load_recipe(f) for f in files]
        n += len(files)
    parse = n / (time.perf_counter() - start)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for lr in loaded:
            build_plan(lr, host, sample=True)
        n += len(loaded)
    return parse, n / (time.perf_counter() - start)


async def latencies(rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        server = EmbeddedNats(NatsSettings(port=0), Path(tmp) / "nats", server_name="bench")
        await server.start()
        rt = Runtime(Settings(site="bench", data_dir=Path(tmp) / "data", nats_url=server.url))
        await rt.start()
        try:
            base, inst, uninst = [], [], []
            for i in range(rounds):
                t = time.perf_counter()
                await rt.add_component(
                    ComponentSpec(
                        name=f"direct-{i}",
                        type="synthetic",
                        asset=f"bench/a/l/direct{i}",
                        config={"interval_s": 1},
                    )
                )
                while rt.supervisor.instances[f"direct-{i}"].status.value != "running":
                    await asyncio.sleep(0.001)
                base.append(time.perf_counter() - t)
                await rt.supervisor.remove(f"direct-{i}")
                t = time.perf_counter()
                res = await rt.recipe_engine.install(
                    "synthetic-machine-watch", {"machine": f"m{i}"}
                )
                inst.append(time.perf_counter() - t)
                rt.recipe_engine._tasks[res["deployment"]].cancel()  # commissioning is not measured
                t = time.perf_counter()
                await rt.recipe_engine.uninstall(res["deployment"])
                uninst.append(time.perf_counter() - t)
        finally:
            await rt.stop()
            await server.stop()
    return {
        "direct_add_s": statistics.median(base),
        "install_s": statistics.median(inst),
        "uninstall_s": statistics.median(uninst),
        "settle_s": 0.5,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="smoke run: 0.5 s of validation, 1 round")
    args = ap.parse_args()
    if args.quick:
        args.rounds = 1
    host = get_plugin_manager()
    parse, rate = validation_rates(host, seconds=0.5 if args.quick else 2.0)
    print(f"validation pass 1 (read, YAML with line numbers, shape): {parse:.0f} files/s")
    print(f"validation pass 2 (plugin configs, profiles, points): {rate:.0f} files/s")
    lat = asyncio.run(latencies(args.rounds))
    ratio = lat["install_s"] / lat["direct_add_s"]
    print(
        f"direct add_component until running (baseline): {lat['direct_add_s'] * 1000:.1f} ms (median)"
    )
    print(
        f"recipe install (plan, test, apply, settle {lat['settle_s']} s, record): "
        f"{lat['install_s'] * 1000:.1f} ms (median) = {ratio:.0f}x baseline; "
        f"without the settle time {(lat['install_s'] - lat['settle_s']) * 1000:.1f} ms"
    )
    print(f"uninstall: {lat['uninstall_s'] * 1000:.1f} ms (median)")
    print(
        json.dumps(
            {
                "pass1_files_per_s": round(parse, 1),
                "pass2_files_per_s": round(rate, 1),
                **{k: round(v, 4) for k, v in lat.items()},
                "install_over_direct": round(ratio, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
