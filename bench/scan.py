"""``kit scan``: sweep time, fingerprint accuracy and requests per device, on loopback.

Run: ``uv run python bench/scan.py`` (``--quick`` for a smoke run). Measured in one run:

* **/28 with devices**: N simulated meters on 127.0.0.2… (one port), scanned with the
  default limits except ``--rate`` (given); the baseline is a bare asyncio TCP connect sweep
  of the same hosts and port in the same run (ratio = scan time / connect sweep time).
* **/24 with nothing**: 254 hosts of 127.0.3.0/24 on a closed port (loopback answers RST at
  once). A *filtered* network (SYNs dropped) costs ``ceil(hosts × ports / concurrency) ×
  connect timeout`` instead, printed from the defaults.
* **accuracy over every shipped Modbus profile** (`--quick`: the first 6): one simulator per profile on its own
  127.0.1.x, all scanned together; top-1 (right profile ranked first), identified (first
  *and* confidence ≥ 0.5), confusions listed. Also with FC43/14 switched off (register
  evidence only), since kit simulators answer FC43 with the profile's vendor and model.
* **requests per device**: what the scan sent (counted by the pacer), min/mean/max.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import statistics
import time
from typing import Any

from kit.cli.scan_cmd import scanners
from kit.cli.sim_cmd import start_simulator
from kit.library import Library
from kit.plugins import get_plugin_manager
from kit.scan.inventory import Inventory
from kit.scan.sweep import ScanOptions, port_open, run_scan

METERS = [
    "eastron-sdm630",
    "carlo-gavazzi-em24",
    "janitza-umg96rm",
    "siemens-pac3200",
    "schneider-iem3150",
    "abb-b23",
    "eastron-sdm120",
]


async def _sims(ids: list[str], prefix: str) -> tuple[list[Any], int]:
    for _ in range(5):
        sims: list[Any] = []
        try:
            port = 0
            for i, pid in enumerate(ids):
                s = await start_simulator(pid, host=f"{prefix}.{i + 2}", port=port)
                port = s.port
                sims.append(s)
            return sims, port
        except OSError:
            for s in sims:
                await s.stop()
    raise RuntimeError("no common free port")


async def _scan(opts: ScanOptions, profiles: list[Any]) -> tuple[Inventory, float]:
    inv = Inventory()
    t = time.perf_counter()
    await run_scan(opts, scanners(get_plugin_manager()), {"modbus": profiles}, inv)
    return inv, time.perf_counter() - t


async def _connect_sweep(hosts: list[str], port: int, concurrency: int, timeout: float) -> float:
    sem = asyncio.Semaphore(concurrency)

    async def one(h: str) -> None:
        async with sem:
            await port_open(h, port, timeout)

    t = time.perf_counter()
    await asyncio.gather(*(one(h) for h in hosts))
    return time.perf_counter() - t


def _accuracy(inv: Inventory, sims: list[Any]) -> dict[str, Any]:
    by_host = {e.host: e for e in inv.endpoints}
    top1 = ident = 0
    confusions = []
    for s in sims:
        e = by_host.get(s.host)
        d = e.devices[0] if e and e.devices else None
        first = d.candidates[0].profile if d and d.candidates else None
        top1 += first == s.profile.id
        ident += bool(d and d.profile == s.profile.id)
        if not (d and d.profile == s.profile.id):
            confusions.append(
                {
                    "profile": s.profile.id,
                    "ranked_first": first,
                    "status": d.status if d else "missing",
                    "confidence": d.confidence if d else 0.0,
                }
            )
    return {"profiles": len(sims), "top1": top1, "identified": ident, "confusions": confusions}


async def main(quick: bool, rate: float) -> dict[str, Any]:
    host = get_plugin_manager()
    profiles = Library(host, None).profiles().by_protocol("modbus")
    out: dict[str, Any] = {"rate": rate}

    # -- /28 with N devices ---------------------------------------------------------------
    meters = METERS[:3] if quick else METERS
    sims, port = await _sims(meters, "127.0.0")
    hosts28 = [f"127.0.0.{i}" for i in range(1, 15)]
    opts = ScanOptions(targets=hosts28, ports={port: "modbus"}, rate=rate, host_rate=rate)
    inv, t28 = await _scan(opts, profiles)
    base28 = await _connect_sweep(hosts28, port, opts.concurrency, opts.connect_timeout_s)
    reqs = [d.requests for _, d in inv.devices()]
    out["scan_28"] = {
        "devices": len(meters),
        "found": len(inv.devices()),
        "identified": sum(d.status == "identified" for _, d in inv.devices()),
        "seconds": round(t28, 3),
        "connect_sweep_seconds": round(base28, 4),
        "ratio_to_connect_sweep": round(t28 / base28, 1),
        "requests_total": inv.requests,
    }
    for s in sims:
        await s.stop()

    # -- /24 with nothing -----------------------------------------------------------------
    hosts24 = [f"127.0.3.{i}" for i in range(1, 255)]
    opts24 = ScanOptions(targets=hosts24, ports={port: "modbus", port + 1: "modbus"})
    inv24, t24 = await _scan(opts24, profiles)
    base24 = await _connect_sweep(hosts24, port, opts24.concurrency, opts24.connect_timeout_s)
    filtered = math.ceil(len(hosts24) * 2 / opts24.concurrency) * opts24.connect_timeout_s
    out["scan_24_empty"] = {
        "hosts": len(hosts24),
        "ports": 2,
        "seconds": round(t24, 3),
        "connect_sweep_one_port_seconds": round(base24, 4),
        "found": len(inv24.devices()),
        "filtered_network_estimate_seconds": filtered,
    }

    # -- accuracy over every shipped profile -------------------------------------------------
    ids = [p.id for p in profiles][: 6 if quick else None]
    sims, port = await _sims(ids, "127.0.1")
    hosts = [s.host for s in sims]
    opts_all = ScanOptions(targets=hosts, ports={port: "modbus"}, rate=rate, host_rate=rate)
    inv_all, t_all = await _scan(opts_all, profiles)
    out["accuracy"] = _accuracy(inv_all, sims)
    out["accuracy"]["seconds"] = round(t_all, 3)
    reqs = [d.requests for _, d in inv_all.devices()]
    out["requests_per_device"] = {
        "min": min(reqs),
        "mean": round(statistics.mean(reqs), 1),
        "max": max(reqs),
    }
    if quick:  # the smoke run stops here (the full run adds register-only accuracy)
        for s in sims:
            await s.stop()
        return out
    # Register evidence only: FC43/14 answers dropped (what a meter without FC43 gives).
    import kit_modbus.scan as ms

    orig = ms._identification

    async def no_fc43(u: Any) -> dict[str, str]:
        return {}

    ms._identification = no_fc43
    try:
        inv_reg, _ = await _scan(opts_all, profiles)
    finally:
        ms._identification = orig
    out["accuracy_registers_only"] = _accuracy(inv_reg, sims)
    for s in sims:
        await s.stop()
    return out


def _print(r: dict[str, Any]) -> None:
    a, b = r["scan_28"], r["scan_24_empty"]
    print(
        f"/28 with {a['devices']} devices: {a['seconds']:.2f} s ({a['found']} found, "
        f"{a['identified']} identified, {a['requests_total']} requests at {r['rate']:g}/s); "
        f"bare connect sweep {a['connect_sweep_seconds'] * 1000:.1f} ms "
        f"(ratio {a['ratio_to_connect_sweep']:g})"
    )
    print(
        f"/24 empty, 2 ports: {b['seconds']:.2f} s (bare connect sweep of one port "
        f"{b['connect_sweep_one_port_seconds'] * 1000:.0f} ms); a filtered network would take "
        f"about {b['filtered_network_estimate_seconds']:.0f} s at the default timeout"
    )
    for key in ("accuracy", "accuracy_registers_only"):
        if key not in r:
            continue
        acc = r[key]
        print(
            f"{key}: top-1 {acc['top1']}/{acc['profiles']}, identified {acc['identified']}/"
            f"{acc['profiles']}"
        )
        for c in acc["confusions"]:
            print(
                f"   {c['profile']}: first {c['ranked_first']}, {c['status']} "
                f"(confidence {c['confidence']:.2f})"
            )
    q = r["requests_per_device"]
    print(f"requests per device: min {q['min']}, mean {q['mean']}, max {q['max']}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke run (3 meters on the /28, accuracy over 6 profiles, no register-only pass)",
    )
    ap.add_argument("--rate", type=float, default=200.0, help="requests/s of the scans")
    args = ap.parse_args()
    result = asyncio.run(main(args.quick, args.rate))
    _print(result)
    print(json.dumps(result))
