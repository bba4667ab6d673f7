"""Fleet: sites → hub by JetStream sourcing over leaf links (first measurements).

Real nats-server processes on loopback: a 1- or 3-node hub (``kit.hub.server.LocalHub``)
and N site servers configured as the kit configures them (leaf remote, own JetStream
domain), each behind a TCP proxy this script can cut. Measures:

- sustained: messages/s from N sites into the hub (site publish → hub stream holds all);
- outage: each site publishes K messages while its link is cut; then the time to the first
  caught-up message (leaf reconnect) and to completeness, and the catch-up rate;
- latency: site publish → message in the hub stream, p50/p99 (one in flight at a time);
- baseline in the same run: a bare nats-py JetStream publisher straight into a hub stream.

Run: ``uv run python bench/fleet.py [--quick] [--sites N] [--nodes 1|3]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import tempfile
import time
from pathlib import Path

import nats

from kit.hub.config import HubState, add_site, site_credentials, write_credentials
from kit.hub.leaf import apply_link
from kit.hub.server import LocalHub
from kit.hub.sources import ensure_streams
from kit.hub.status import REPLY_PREFIX
from kit.hub.watch import watch_sites
from kit.natsserver import EmbeddedNats
from kit.settings import HubLinkSettings, NatsSettings


class Proxy:
    """Loopback TCP proxy; ``cut`` drops connections and refuses new ones."""

    def __init__(self, target: int) -> None:
        self.target, self.port, self.server, self.transports = target, 0, None, set()
        self.connected_at = 0.0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _handle(self, r, w) -> None:
        if self.server is None:
            w.transport.abort()
            return
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            w.close()
            return
        self.transports |= {w.transport, uw.transport}
        self.connected_at = time.perf_counter()

        async def pipe(src, dst) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    async def cut(self) -> None:
        server, self.server = self.server, None
        if server:
            server.close()
        for t in list(self.transports):
            t.abort()
        self.transports.clear()


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


async def _publish(js, subject: str, n: int, chunk: int = 200) -> None:
    for i in range(0, n, chunk):
        await asyncio.gather(
            *(js.publish(subject, b'{"v":%d}' % j) for j in range(i, min(n, i + chunk)))
        )


async def _hub_count(hjs, stream: str) -> int:
    return (await hjs.stream_info(stream)).state.messages


async def _until(pred, poll: float = 0.005) -> float:
    t0 = time.perf_counter()
    while not await pred():
        await asyncio.sleep(poll)  # a bench measuring a condition, not a test's synchronisation
    return time.perf_counter() - t0


async def main(args) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="kit-fleet-bench-"))
    if args.nodes == 3:
        p = _free_ports(9)
        state = HubState(nodes=3, client_ports=p[:3], cluster_ports=p[3:6], leaf_ports=p[6:])
    else:
        state = HubState.create(1, client_port=0, leaf_port=0)
    sites = [f"site-{i}" for i in range(args.sites)]
    for s in sites:
        add_site(state, s)
    hub = LocalHub(tmp / "hub", state)
    await hub.start()
    servers, proxies, conns, extra = [], [], [], []
    watcher = None
    hnc = await nats.connect(hub.client_urls, **hub.connect_options())
    try:
        hjs = hnc.jetstream()
        for s in sites:
            px = Proxy(hub.nodes[0].leaf_port)
            await px.start()
            creds = write_credentials(tmp / f"{s}.json", site_credentials(state, s, hub.leaf_urls))
            srv = EmbeddedNats(NatsSettings(port=0), tmp / s)
            apply_link(
                srv, s, HubLinkSettings(credentials=creds, url=f"nats-leaf://127.0.0.1:{px.port}")
            )
            await srv.start()
            nc = await nats.connect(srv.url)
            await nc.jetstream().add_stream(name="KIT_KPI", subjects=["kit.kpi.>"])
            servers.append(srv)
            proxies.append(px)
            conns.append(nc)
        await ensure_streams(hjs, state)
        watcher = None
        if not args.no_watch:  # what `kit hub up` runs: restart a site's sources on return
            wnc = await nats.connect(
                hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options()
            )
            extra.append(wnc)
            watcher = asyncio.get_running_loop().create_task(watch_sites(wnc, state))

        # Baseline: a bare publisher into a hub stream (same servers, same run).
        await hjs.add_stream(name="BENCH_BARE", subjects=["bench.bare"], num_replicas=args.nodes)
        t0 = time.perf_counter()
        await _publish(hjs, "bench.bare", args.messages * args.sites)
        bare_rate = args.messages * args.sites / (time.perf_counter() - t0)

        # Sustained: every site publishes locally; time until the hub holds everything.
        total = args.messages * args.sites
        t0 = time.perf_counter()
        await asyncio.gather(
            *(
                _publish(nc.jetstream(), f"kit.kpi.{s}.a.l.m.oee", args.messages)
                for s, nc in zip(sites, conns, strict=True)
            )
        )
        await _until(lambda: _has(hjs, total))
        sustained = total / (time.perf_counter() - t0)

        # Outage: cut every link, publish K per site, restore, measure catch-up.
        for px in proxies:
            await px.cut()
        if args.outage_s:
            # A timed outage: every site keeps producing at --rate msg/s for --outage-s.
            loop = asyncio.get_running_loop()
            t_end, per_tick, ticks = loop.time() + args.outage_s, max(1, int(args.rate / 10)), 0
            while loop.time() < t_end:
                await asyncio.gather(
                    *(
                        _publish(nc.jetstream(), f"kit.kpi.{s}.a.l.m.oee", per_tick)
                        for s, nc in zip(sites, conns, strict=True)
                    )
                )
                ticks += 1
                await asyncio.sleep(0.1)  # pacing the producers, not synchronising
            args.outage = ticks * per_tick
        else:
            await asyncio.gather(
                *(
                    _publish(nc.jetstream(), f"kit.kpi.{s}.a.l.m.oee", args.outage)
                    for s, nc in zip(sites, conns, strict=True)
                )
            )
        hub_during = await _hub_count(hjs, "FLEET_KPI")
        t0 = time.perf_counter()
        for px in proxies:
            await px.start()
        first = await _until(lambda: _has(hjs, hub_during + 1))
        relinked = max(px.connected_at for px in proxies) - t0
        done = await _until(lambda: _has(hjs, total + args.outage * args.sites))
        done += first
        extra_msgs = await _hub_count(hjs, "FLEET_KPI") - (total + args.outage * args.sites)
        backlog = args.outage * args.sites
        catch_rate = backlog / max(done - first, 1e-9)

        # Latency: one message in flight, site publish → in the hub stream.
        sub = await hjs.subscribe(
            "kit.kpi.site-0.>",
            stream="FLEET_KPI",
            ordered_consumer=True,
            deliver_policy=nats.js.api.DeliverPolicy.NEW,
        )
        js0 = conns[0].jetstream()
        lat = []
        for _ in range(args.latency):
            t = time.perf_counter()
            await js0.publish("kit.kpi.site-0.a.l.m.lat", b"{}")
            await sub.next_msg(timeout=10)
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        p50, p99 = lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    finally:
        if watcher is not None:
            watcher.cancel()
        await hnc.close()
        for nc in conns + extra:
            await nc.close()
        for srv in servers:
            await srv.stop()
        for px in proxies:
            await px.cut()
        await hub.stop()
    res = {
        "bench": "fleet",
        "nodes": args.nodes,
        "sites": args.sites,
        "messages_per_site": args.messages,
        "bare_publish_msgs_per_s": round(bare_rate),
        "sustained_sites_to_hub_msgs_per_s": round(sustained),
        "ratio_sustained_to_bare": round(sustained / bare_rate, 3),
        "outage_s": args.outage_s,
        "watch": not args.no_watch,
        "outage_backlog_msgs": backlog,
        "hub_msgs_during_outage": hub_during,
        "leaf_relinked_s": round(relinked, 3),
        "reconnect_to_first_msg_s": round(first, 3),
        "catch_up_s": round(done, 3),
        "hub_msgs_beyond_expected": extra_msgs,
        "catch_up_msgs_per_s": round(catch_rate),
        "catch_up_msgs_per_s_incl_reconnect": round(backlog / done),
        "ratio_catch_up_to_bare": round(catch_rate / bare_rate, 3),
        "latency_p50_ms": round(p50, 2),
        "latency_p99_ms": round(p99, 2),
    }
    print(f"bare nats-py publisher into the hub : {bare_rate:10,.0f} msg/s (baseline)")
    print(
        f"{args.sites} sites → hub by sourcing       : {sustained:10,.0f} msg/s ({sustained / bare_rate:.0%} of bare)"
    )
    print(
        f"outage: {backlog} msgs held at the sites; hub held {hub_during} (nothing new) while cut"
    )
    print(
        f"catch-up: leaf links back {relinked:.2f} s after restore, first message at the hub "
        f"after {first:.2f} s, complete after {done:.2f} s; "
        f"{catch_rate:,.0f} msg/s once connected ({catch_rate / bare_rate:.0%} of bare)"
    )
    print(f"hub holds {extra_msgs} message(s) more than the sites produced (0 = no duplicates)")
    print(f"latency site → hub stream: p50 {p50:.2f} ms, p99 {p99:.2f} ms")
    return res


async def _has(hjs, n: int) -> bool:
    return await _hub_count(hjs, "FLEET_KPI") >= n


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sites", type=int, default=3)
    ap.add_argument("--nodes", type=int, choices=(1, 3), default=1)
    ap.add_argument("--messages", type=int, default=20_000, help="per site, sustained phase")
    ap.add_argument("--outage", type=int, default=10_000, help="per site, published while cut")
    ap.add_argument("--latency", type=int, default=300, help="latency samples")
    ap.add_argument(
        "--outage-s", type=float, default=0, help="cut for this long, producing at --rate"
    )
    ap.add_argument("--rate", type=float, default=500, help="msg/s per site during --outage-s")
    ap.add_argument(
        "--no-watch", action="store_true", help="without kit hub up's source restart on return"
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: seconds, not minutes")
    args = ap.parse_args()
    if args.quick:
        args.sites, args.messages, args.outage, args.latency = 2, 1000, 1000, 30
        args.outage_s = min(args.outage_s, 1.0)
    result = asyncio.run(main(args))
    print(json.dumps(result))
    sys.exit(0)
