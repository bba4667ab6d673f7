"""Benchmark: OPC UA subscription delivery, kit adapter vs a bare asyncua subscription.

A node-opcua server (tests/interop, installed by ``npm ci``) exposes N Double variables that
all change every 100 ms. In the same run we measure, one after the other on the same server:

1. baseline — a bare asyncua client: one subscription, N monitored items, a handler that
   counts ``datachange_notification`` calls;
2. kit — the ``opcua`` adapter in a real runtime (embedded NATS), counting the good points
   that arrive on ``kit.data.>`` (i.e. end to end, through the bus).

Both use the same security (default Basic256Sha256 SignAndEncrypt, the kit's default),
publishing interval and sampling interval. Printed: notifications/s of each, the kit's
delivery ratio (target ≥ 95 %), CPU time of this process per notification, and one JSON line.

    uv run python bench/opcua_subscribe.py [--items 1000] [--seconds 12] [--policy Basic256Sha256]

``--quick`` (the CI smoke run): 50 items for 3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from asyncua import Client, ua
from asyncua.crypto import security_policies as sp
from kit_opcua.pki import Pki
from kit_opcua.simulator import free_port

from kit import codec
from kit.bus import Bus
from kit.natsserver import EmbeddedNats
from kit.runtime import Runtime
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "adapters" / "opcua" / "tests" / "node_opcua_server.js"
NS = "urn:kit-interop:node-opcua"


def start_server(items: int, interval_ms: int, pki: Path) -> tuple[subprocess.Popen, str]:
    """Start the node-opcua server and wait for its READY line."""
    node, modules = shutil.which("node"), REPO / "tests" / "interop" / "node_modules"
    if node is None or not (modules / "node-opcua").is_dir():
        raise SystemExit("node-opcua missing: run `npm ci` in tests/interop")
    port = free_port("127.0.0.1")
    proc = subprocess.Popen(
        [
            node,
            str(SCRIPT),
            "--port",
            str(port),
            "--pki",
            str(pki),
            "--bench",
            str(items),
            "--interval",
            str(interval_ms),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "NODE_PATH": str(modules)},
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 1.0)[0]:
            line = proc.stdout.readline()
            if line.startswith("READY"):
                return proc, f"opc.tcp://127.0.0.1:{port}"
            if not line:
                break
    proc.kill()
    raise SystemExit("node-opcua server did not start")


def profile_yaml(items: int, publishing_ms: float) -> str:
    """A profile with the N bench variables."""
    lines = [
        "id: bench-node-opcua",
        "vendor: node-opcua",
        "model: bench",
        "protocol: opcua",
        "source: {title: bench/opcua_subscribe.py}",
        f"namespaces: {{n: '{NS}'}}",
        f"defaults: {{publishing_interval_ms: {publishing_ms}, sampling_interval_ms: 100, queue_size: 1}}",
        "points:",
    ]
    lines += [
        f"  - {{name: x_v{i:04d}, node: 'n;s=Bench.v{i:04d}', type: Double}}" for i in range(items)
    ]
    return "\n".join(lines) + "\n"


async def trust_server(url: str, pki: Pki) -> None:
    """Fetch the server certificate and trust it (the operator's `kit opcua trust`, automated)."""
    from cryptography import x509
    from kit_opcua.pki import thumbprint

    c = Client(url)
    eps = await c.connect_and_get_server_endpoints()
    pki.add_trusted(x509.load_der_x509_certificate(eps[0].ServerCertificate))
    _ = thumbprint


async def baseline(
    url: str, items: int, seconds: float, policy: str, pki: Pki, publishing_ms: float
) -> dict:
    """A bare asyncua subscription counting notifications."""
    cert, key = pki.ensure_own()
    client = Client(url, timeout=10)
    client.application_uri = pki.application_uri
    if policy != "None":
        await client.set_security(
            getattr(sp, f"SecurityPolicy{policy.replace('_', '')}"),
            str(cert),
            str(key),
            mode=ua.MessageSecurityMode.SignAndEncrypt,
        )
    await client.connect()
    idx = await client.get_namespace_index(NS)
    counted = {"n": 0, "on": False}

    class Handler:
        def datachange_notification(self, node, val, data) -> None:  # noqa: ANN001
            if counted["on"]:
                counted["n"] += 1

    sub = await client.create_subscription(publishing_ms, Handler())
    nodes = [client.get_node(ua.NodeId(f"Bench.v{i:04d}", idx)) for i in range(items)]
    for start in range(0, items, 500):
        await sub.subscribe_data_change(
            nodes[start : start + 500], sampling_interval=100, queuesize=1
        )
    await asyncio.sleep(
        2.0
    )  # warm-up: initial values and the publish pipeline settle (measurement window)
    cpu0, t0 = time.process_time(), time.monotonic()
    counted["on"] = True
    await asyncio.sleep(seconds)  # the measurement window
    counted["on"] = False
    cpu, dt = time.process_time() - cpu0, time.monotonic() - t0
    await client.disconnect()
    return {
        "notifications": counted["n"],
        "seconds": dt,
        "rate": counted["n"] / dt,
        "cpu_us_per_notification": cpu / max(1, counted["n"]) * 1e6,
    }


async def kit_run(
    url: str, items: int, seconds: float, policy: str, data_dir: Path, publishing_ms: float
) -> dict:
    """The kit adapter in a runtime; count good bench points arriving on the bus."""
    nats = EmbeddedNats(NatsSettings(port=0), data_dir / "nats")
    nats_url = await nats.start()
    prof = data_dir / "bench-profile.yaml"
    prof.write_text(profile_yaml(items, publishing_ms))
    settings = Settings(
        site="bench",
        data_dir=data_dir,
        nats_url=nats_url,
        supervisor=SupervisorSettings(backoff_initial_s=0.2, heartbeat_s=5),
    )
    rt = Runtime(settings)
    await rt.start()
    bus = await Bus.connect(nats_url, name="bench")
    counted = {"n": 0, "on": False}

    async def on_batch(batch, _msg) -> None:  # noqa: ANN001
        if counted["on"]:
            counted["n"] += sum(1 for p in batch.points if p.quality.value == "good")

    await bus.subscribe("kit.data.>", codec.decode_batch, on_batch)
    cfg = {
        "profile": "bench-node-opcua",
        "profile_file": str(prof),
        "endpoint": url,
        "data_dir": str(data_dir),
        "security_policy": policy,
        "security_mode": "None" if policy == "None" else "SignAndEncrypt",
        "allow_insecure": policy == "None",
    }
    await rt.add_component(
        ComponentSpec(name="bench", type="opcua", asset="bench/a/l/m", config=cfg)
    )
    inst = rt.supervisor.instances["bench"]
    deadline = time.monotonic() + 60
    while not (inst.component and inst.component.state == "connected"):
        if time.monotonic() > deadline:
            raise SystemExit(
                f"adapter did not connect: {inst.last_error or inst.component and inst.component.last_error}"
            )
        await asyncio.sleep(0.1)  # waiting for the connection in a benchmark, not a test
    await asyncio.sleep(2.0)  # warm-up, as for the baseline
    comp = inst.component
    cpu0, t0, n0 = time.process_time(), time.monotonic(), comp.notifications
    counted["on"] = True
    await asyncio.sleep(seconds)
    counted["on"] = False
    cpu, dt = time.process_time() - cpu0, time.monotonic() - t0
    adapter_n = comp.notifications - n0
    metrics = comp.metrics()
    await bus.close()
    await rt.stop()
    await nats.stop()
    return {
        "notifications": counted["n"],
        "adapter_notifications": adapter_n,
        "seconds": dt,
        "rate": counted["n"] / dt,
        "cpu_us_per_notification": cpu / max(1, counted["n"]) * 1e6,
        "batches": metrics["batches"],
        "revised_publishing_interval_ms": metrics["revised_publishing_interval_ms"],
        "monitored": metrics["monitored"],
        "polled": metrics["polled"],
    }


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=12.0)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--publishing-ms", type=float, default=100.0)
    ap.add_argument(
        "--policy",
        default="Basic256Sha256",
        choices=["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss", "None"],
    )
    ap.add_argument("--quick", action="store_true", help="smoke run: 50 items for 3 s")
    args = ap.parse_args()
    if args.quick:
        args.items, args.seconds = min(args.items, 50), 3.0
    logging.basicConfig(level=logging.ERROR)
    cache = (
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        / "fast-track-kit"
        / "bench-node-pki"
    )
    proc, url = start_server(args.items, args.interval_ms, cache)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp)
            pki = Pki(data)
            await trust_server(url, pki)
            base = await baseline(
                url, args.items, args.seconds, args.policy, pki, args.publishing_ms
            )
            kit = await kit_run(
                url, args.items, args.seconds, args.policy, data, args.publishing_ms
            )
    finally:
        proc.terminate()
        proc.wait(10)
    offered = args.items * 1000 / args.interval_ms
    ratio = kit["rate"] / base["rate"] if base["rate"] else 0.0
    print(
        f"server changes offered     {offered:10.0f} /s ({args.items} items every {args.interval_ms} ms, "
        f"{args.policy})"
    )
    print(
        f"bare asyncua subscription  {base['rate']:10.0f} notifications/s   "
        f"{base['cpu_us_per_notification']:6.1f} µs CPU per notification"
    )
    print(
        f"kit opcua adapter (bus)    {kit['rate']:10.0f} notifications/s   "
        f"{kit['cpu_us_per_notification']:6.1f} µs CPU per notification   ({kit['batches']} batches)"
    )
    print(f"kit / baseline             {ratio * 100:10.1f} %   (target >= 95 %)")
    print(
        json.dumps(
            {
                "bench": "opcua_subscribe",
                "items": args.items,
                "interval_ms": args.interval_ms,
                "policy": args.policy,
                "seconds": args.seconds,
                "offered_per_s": offered,
                "baseline_per_s": round(base["rate"], 1),
                "kit_per_s": round(kit["rate"], 1),
                "ratio": round(ratio, 4),
                "baseline_cpu_us_per_notification": round(base["cpu_us_per_notification"], 2),
                "kit_cpu_us_per_notification": round(kit["cpu_us_per_notification"], 2),
                "kit_revised_publishing_interval_ms": kit["revised_publishing_interval_ms"],
                "kit_monitored": kit["monitored"],
                "kit_polled": kit["polled"],
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
