"""How long ``kit up`` takes to stop on Ctrl-C in a terminal, against SIGTERM to the runtime.

Run: ``uv run python bench/lifecycle.py`` (10 rounds each; ``--quick`` for 2).

Each round starts ``kit up`` on its own pseudo-terminal with a synthetic component
publishing every 10 ms, waits for "kit runtime up", then either sends SIGINT to the whole
process group (what a terminal does on Ctrl-C; the embedded nats-server is in its own
session, so it is not hit) or SIGTERM to the runtime process only (the baseline: what
systemd does). Time is from the signal to the exit of ``kit up``; a round that exits
non-zero or prints a traceback is counted as a failure.

``--disk-full`` (root: mounts a 32 MiB tmpfs) also measures a disk-full episode in-process:
time until the storage error is seen, time from freeing space to recovery, and how long
``Runtime.stop()`` takes while the store is still full (with the unacknowledged publishes
it had to give up), against a normal stop in the same run. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "lifecycle"))
from lc_helpers import KIT, PtyProcess, env_for, free_port, nats_servers  # noqa: E402


def _round(tmp: Path, mode: str) -> tuple[float, bool]:
    data = tmp / "data"
    cfg = tmp / "kit.yaml"
    cfg.write_text(
        f"site: bench\nnats: {{port: {free_port()}}}\ncomponents:\n"
        "  - {name: s1, type: synthetic, asset: bench/a/l/m, config: {interval_s: 0.01}}\n"
    )
    p = PtyProcess(KIT + ["--config", str(cfg), "up"], env_for(data))
    p.wait_for("kit runtime up")
    t0 = time.perf_counter()
    if mode == "ctrl_c":
        p.ctrl_c()
    else:
        p.proc.send_signal(signal.SIGTERM)
    rc = p.wait()
    dt = time.perf_counter() - t0
    ok = rc == 0 and "Traceback" not in p.output and not nats_servers(data)
    return dt, ok


async def _disk_full(stop_while_full: bool) -> dict:
    import asyncio
    import subprocess

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "chaos"))
    from chaos_helpers import ASSET, chaos_settings, until

    from kit.runtime import Runtime
    from kit.settings import ComponentSpec
    from kit.storage import free_bytes

    with tempfile.TemporaryDirectory() as d:
        mnt = Path(d) / "disk"
        mnt.mkdir()
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "tmpfs", str(mnt)], check=True)
        try:
            s = chaos_settings(mnt / "data", interval_s=0.01)
            s.components[0] = ComponentSpec(
                name="m1",
                type="synthetic",
                asset=ASSET,
                config={"interval_s": 0.01, "extra_points": 50},
            )
            rt = Runtime(s)
            await rt.start()
            src = rt.supervisor.instances["m1"]
            await until(lambda: src.component and src.component.batches >= 20)
            out: dict = {}
            filler = mnt / "filler"
            with open(filler, "wb") as f:
                f.write(b"\0" * max(0, free_bytes(mnt) - 512 * 1024))
            t = time.perf_counter()
            await until(lambda: rt.storage.error is not None, timeout=90)
            out["detect_s"] = round(time.perf_counter() - t, 3)
            if stop_while_full:
                await until(lambda: len(src.context.bus.acks.unacked) > 100, timeout=60)
                out["unacked_at_stop"] = len(src.context.bus.acks.unacked)
            else:
                t = time.perf_counter()
                filler.unlink()
                await until(lambda: rt.storage.recoveries == 1, timeout=60)
                out["recover_s"] = round(time.perf_counter() - t, 3)
            t = time.perf_counter()
            await rt.stop()
            out["stop_s"] = round(time.perf_counter() - t, 3)
            await asyncio.sleep(0)
            return out
        finally:
            subprocess.run(["umount", "-l", str(mnt)], check=False)


def main() -> None:
    """Measure and print; last line JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds instead of 10")
    ap.add_argument("--disk-full", action="store_true", help="also a disk-full episode (root)")
    args = ap.parse_args()
    n = 2 if args.quick else 10
    result: dict = {}
    for mode in ("sigterm", "ctrl_c"):
        times, fails = [], 0
        for _ in range(n):
            with tempfile.TemporaryDirectory() as d:
                dt, ok = _round(Path(d), mode)
            times.append(dt)
            fails += not ok
        result[mode] = {
            "median_s": round(statistics.median(times), 3),
            "max_s": round(max(times), 3),
            "failures": fails,
            "rounds": n,
        }
        print(
            f"{mode:8} median {statistics.median(times):.3f} s  max {max(times):.3f} s  "
            f"failures {fails}/{n}"
        )
    ratio = result["ctrl_c"]["median_s"] / max(1e-9, result["sigterm"]["median_s"])
    result["ratio_ctrl_c_to_sigterm"] = round(ratio, 2)
    print(f"Ctrl-C / SIGTERM (baseline) median ratio: {ratio:.2f}")
    if args.disk_full:
        import asyncio
        import logging

        logging.disable(logging.CRITICAL)  # the episode logs errors on purpose
        recovered = asyncio.run(_disk_full(stop_while_full=False))
        full = asyncio.run(_disk_full(stop_while_full=True))
        result["disk_full"] = {"recovered": recovered, "stopped_while_full": full}
        print(
            f"disk full: detected in {recovered['detect_s']:.2f} s, recovered "
            f"{recovered['recover_s']:.2f} s after space returned; stop after recovery "
            f"{recovered['stop_s']:.2f} s (baseline), stop while full {full['stop_s']:.2f} s "
            f"(ratio {full['stop_s'] / max(1e-9, recovered['stop_s']):.1f}) giving up "
            f"{full['unacked_at_stop']} unacknowledged publishes"
        )
    print(json.dumps({"bench": "lifecycle", **result}))


if __name__ == "__main__":
    main()
