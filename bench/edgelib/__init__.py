"""Helpers of bench/edge_footprint.py: /proc figures, the bare-loop baseline, storage replay.

A package (not a ``bench/*.py`` script) so the bench runner does not run it as a benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# The baseline: what a hand-written gateway costs. Same reads, raw registers as JSON.
BARE_CODE = """
import asyncio, json, sys, time
from pymodbus.client import AsyncModbusTcpClient
import nats
async def main():
    url, ports, count = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
    nc = await nats.connect(url)
    clients = []
    for p in ports:
        c = AsyncModbusTcpClient("127.0.0.1", port=p)
        await c.connect()
        clients.append(c)
    while True:
        t0 = time.monotonic()
        for i, c in enumerate(clients):
            regs = []
            for start in range(0, count, 120):
                rr = await c.read_holding_registers(start, count=min(120, count - start))
                regs += rr.registers
            await nc.publish(f"bare.data.{i}", json.dumps({"ts": time.time(), "r": regs}).encode())
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - t0)))
asyncio.run(main())
"""


def free_port() -> int:
    """A free loopback TCP port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident set size of ``pid`` in MiB (0 if it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def write_bytes(pid: int) -> int:
    """Bytes ``pid`` caused to be written to storage (``/proc/<pid>/io``)."""
    try:
        for line in Path(f"/proc/{pid}/io").read_text().splitlines():
            if line.startswith("write_bytes:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def dir_bytes(path: Path) -> int:
    """Bytes on disk (allocated blocks) under ``path``."""
    total = 0
    for p in path.rglob("*"):
        with contextlib.suppress(OSError):
            if p.is_file():
                total += p.stat().st_blocks * 512
    return total


async def measure_bare(ports: list[int], count: int, settle_s: float, env: dict) -> dict:
    """The bare loop against a plain nats-server: RSS and launch → first publish."""
    from kit.natsserver import server_binary

    port = free_port()
    server = subprocess.Popen(
        [str(server_binary()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import nats

    url = f"nats://127.0.0.1:{port}"
    nc = None
    for _ in range(200):  # bounded wait for a process we started to listen
        try:
            nc = await nats.connect(url, connect_timeout=0.2, allow_reconnect=False)
            break
        except Exception:
            await asyncio.sleep(0.02)
    assert nc is not None, "plain nats-server did not start"
    first = asyncio.get_running_loop().create_future()
    n_msgs = 0

    async def on_msg(_msg) -> None:
        nonlocal n_msgs
        n_msgs += 1
        if not first.done():
            first.set_result(time.time())

    await nc.subscribe("bare.data.>", cb=on_msg)
    await nc.flush()
    t0 = time.time()
    proc = subprocess.Popen(
        [sys.executable, "-c", BARE_CODE, url, json.dumps(ports), str(count)],
        stdout=subprocess.DEVNULL,
        env=env,
    )
    try:
        t_first = await asyncio.wait_for(first, 60)
        rss = []
        for _ in range(int(settle_s)):
            await asyncio.sleep(1.0)
            rss.append(rss_mib(proc.pid))
        return {
            "start_s": t_first - t0,
            "rss_mib": max(rss) if rss else rss_mib(proc.pid),
            "server_rss_mib": rss_mib(server.pid),
            "messages": n_msgs,
        }
    finally:
        proc.terminate()
        proc.wait(10)
        await nc.close()
        server.terminate()
        server.wait(10)


#: Size limit of the replay stream: at most ~128 KiB gives the file store's 32 KiB blocks.
REPLAY_MAX_BYTES = 120_000


async def measure_storage(
    samples: list[tuple[str, bytes]],
    target_bytes: int,
    points_per_batch: float = 0.0,
    retention: list[str] | None = None,
) -> dict:
    """Disk bytes per point of real batches replayed into KIT_DATA, S2 on and off.

    JetStream compresses a message block when it is full, so a minute of live data (one
    open block of several MiB) shows no compression. The replay stores the batches just
    recorded in a stream limited to ``REPLAY_MAX_BYTES``, which makes the server use its
    smallest blocks (32 KiB): ``target_bytes`` of batches pass through it, the oldest are
    discarded, and what remains is what hours of data look like on disk. Small blocks
    compress a little worse than the server's large ones: a conservative figure, and a
    fast one. The recorded batches repeat in the replay; 200 of them span more than a block.
    """
    from kit.bus import Bus
    from kit.natsserver import EmbeddedNats
    from kit.settings import NatsSettings, RetentionSettings

    out = {}
    # Compact batches (kit.compact) name no points: count them as the live batches had.
    per_batch_points = [d.count(b'"name":') or points_per_batch for _, d in samples]
    mean_points = sum(per_batch_points) / max(1, len(per_batch_points))
    extra = {}
    for item in retention or []:  # "retention.key=value" of the measured run
        key, _, value = item.partition("=")
        extra[key.split(".", 1)[1]] = json.loads(value) if value[:1].isdigit() else value
    extra["data_max_bytes"] = REPLAY_MAX_BYTES
    size = sum(len(d) for _, d in samples)
    rounds = max(1, target_bytes // max(1, size))
    for comp in ("none", "s2"):
        d = Path(tempfile.mkdtemp(prefix="kit-edge-store-"))
        srv = EmbeddedNats(NatsSettings(port=0, memory_limit_mib=None), d)
        try:
            bus = await Bus.connect(await srv.start())
            await bus.provision(RetentionSettings(**{**extra, "compression": comp}))
            n = 0
            for _r in range(rounds):
                for subject, data in samples:
                    n += 1
                    await bus.publish(subject, data, msg_id=f"replay:{n}")
            await bus.flush()
            info = await bus.js.stream_info("KIT_DATA")
            await bus.close()
            await srv.stop()  # the server compresses/flushes what it holds on the way out
            pts = info.state.messages * mean_points  # what the stream holds after the replay
            disk = dir_bytes(next((d / "nats" / "jetstream").rglob("streams/KIT_DATA")))
            out[comp] = {
                "points": pts,
                "replayed_points": rounds * sum(per_batch_points),
                "stream_bytes_per_point": info.state.bytes / pts,
                "disk_bytes_per_point": disk / pts,
            }
        finally:
            await srv.stop()
            shutil.rmtree(d, ignore_errors=True)
    return out
