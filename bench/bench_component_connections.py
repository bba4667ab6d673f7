"""Cost of least privilege: one NATS connection per component vs one shared connection.

Starts the embedded nats-server with authentication (kit.trust.busauth), then publishes the
same JetStream load (N components × K sample batches) twice: all through the runtime's one
connection (baseline, what the kit did before per-component users) and each component
through its own authenticated connection. Prints connect time, memory per connection and
throughput, the ratio to the baseline, and ends with one JSON line.

    uv run python bench/bench_component_connections.py [N] [K] [--quick]

``--quick`` (the CI smoke run): 4 components × 50 batches, 3 component adds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import tracemalloc
from pathlib import Path

from kit import codec, subjects
from kit.bus import Bus
from kit.natsserver import EmbeddedNats
from kit.payloads import Point, SampleBatch, utcnow
from kit.settings import NatsSettings, RetentionSettings
from kit.trust.busauth import BusAuth, component_permissions


def payload(i: int, seq: int) -> bytes:
    pts = [Point(name=f"p{j}", value=float(j + seq)) for j in range(20)]
    return codec.encode(
        SampleBatch(asset=f"b/a/l/m{i}", ts=utcnow(), seq=seq, source=f"c{i}", points=pts)
    )


async def load(buses: list[Bus], n: int, k: int) -> float:
    async def one(i: int) -> None:
        bus = buses[i % len(buses)]
        subj = subjects.data_subject(subjects.AssetPath.parse(f"b/a/l/m{i}"))
        for seq in range(k):
            await bus.publish(subj, payload(i, seq))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i) for i in range(n)))
    for b in buses:
        await b.flush(timeout=30)
    return time.perf_counter() - t0


async def add_component_cost(count: int) -> list[float]:
    """Milliseconds per ``Runtime.add_component`` on the embedded server (sorted)."""
    from kit.runtime import Runtime
    from kit.settings import ComponentSpec, Settings

    with tempfile.TemporaryDirectory() as d:
        rt = Runtime(Settings(site="b", data_dir=Path(d), nats=NatsSettings(port=0)))
        await rt.start()
        out = []
        try:
            for i in range(count):
                t = time.perf_counter()
                await rt.add_component(
                    ComponentSpec(name=f"s{i}", type="synthetic", asset=f"b/a/l/m{i}")
                )
                out.append((time.perf_counter() - t) * 1000)
        finally:
            await rt.stop()
    return sorted(out)


async def main(n: int, k: int, adds: int = 10) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        auth = BusAuth.load_or_create(Path(tmp))
        for i in range(n):
            auth.add_component(f"c{i}", component_permissions(f"c{i}", ["kit.data.>"], []))
        server = EmbeddedNats(NatsSettings(port=0), Path(tmp), auth_lines=auth.conf_lines())
        url = await server.start()
        try:
            runtime = await Bus.connect(url, name="runtime", **auth.connect_options("runtime"))
            await runtime.provision(RetentionSettings())
            base_s = await load([runtime], n, k)
            await runtime.js.purge_stream("KIT_DATA")
            tracemalloc.start()
            m0 = tracemalloc.get_traced_memory()[0]
            t0 = time.perf_counter()
            comps = [
                await Bus.connect(url, name=f"c{i}", **auth.connect_options(f"c-c{i}"))
                for i in range(n)
            ]
            connect_s = time.perf_counter() - t0
            per_conn_kib = (tracemalloc.get_traced_memory()[0] - m0) / n / 1024
            tracemalloc.stop()
            own_s = await load(comps, n, k)
            for b in comps:
                await b.close()
            await runtime.close()
        finally:
            await server.stop()
    add_ms = await add_component_cost(adds)
    msgs = n * k
    fig = {
        "components": n,
        "batches_each": k,
        "shared_conn_msgs_per_s": round(msgs / base_s),
        "own_conn_msgs_per_s": round(msgs / own_s),
        "ratio_own_to_shared": round(base_s / own_s, 3),
        "connect_ms_per_component": round(connect_s / n * 1000, 2),
        "python_kib_per_connection": round(per_conn_kib, 1),
        "add_component_median_ms": round(add_ms[len(add_ms) // 2], 1),
        "add_component_max_ms": round(add_ms[-1], 1),
    }
    print(f"{n} components × {k} batches of 20 points (JetStream, async acks)")
    print(f"  shared connection : {fig['shared_conn_msgs_per_s']:>8} msg/s (baseline)")
    print(
        f"  own connections   : {fig['own_conn_msgs_per_s']:>8} msg/s (ratio {fig['ratio_own_to_shared']} of baseline)"
    )
    print(
        f"  connect           : {fig['connect_ms_per_component']} ms per component, "
        f"{fig['python_kib_per_connection']} KiB Python memory per connection"
    )
    print(
        f"  add_component     : median {fig['add_component_median_ms']} ms, max {fig['add_component_max_ms']} ms "
        "(new user: server config reload + own connection)"
    )
    return fig


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("n", type=int, nargs="?", default=20, help="components")
    ap.add_argument("k", type=int, nargs="?", default=500, help="batches per component")
    ap.add_argument("--quick", action="store_true", help="smoke run: 4 × 50 batches, 3 adds")
    args = ap.parse_args()
    if args.quick:
        args.n, args.k = min(args.n, 4), min(args.k, 50)
    print(json.dumps(asyncio.run(main(args.n, args.k, adds=3 if args.quick else 10))))
