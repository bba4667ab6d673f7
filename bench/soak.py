"""Soak: RSS and CPU of ``kit up`` and its nats-server over a bounded run at ~10k points/s.

Issue 19 asks that the "no memory growth at modest rates" promise is measured, not assumed.
One run, on this machine:

* starts ``kit up`` (embedded nats-server, JetStream on a temp data dir) with synthetic
  sources publishing about ``--rate`` points/s in total and the **historian** writing every
  batch to Parquet;
* samples RSS and CPU time of the runtime and of its nats-server once a second, after a
  warm-up (a quarter of the run, at least 5 s), and reports RSS **growth %** from the first
  to the last quarter of the measured interval (medians, so one GC or flush does not decide),
  CPU % of a core and CPU µs per point;
* as the baseline, in the same run: a bare nats-py publisher sending the same number of
  points per second (same batch JSON) to a plain nats-server — its RSS growth and CPU µs per
  point; the ratio kit/bare says what the kit's reliability (JetStream acks, intake,
  historian) costs per point.

Points delivered are the sources' own batch counts (``kit status --json``), not the target.
No thresholds: it prints a table and ends with one JSON line (bench/README.md).

Usage: ``uv run python bench/soak.py [--quick] [--seconds 120] [--rate 10000]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from edgelib import free_port, rss_mib  # noqa: E402  (bench helpers, not a benchmark)

TICKS = os.sysconf("SC_CLK_TCK")
POINTS_PER_SOURCE = 250  # extra points of each synthetic source (plus its ~8 machine signals)

BARE_CODE = """
import asyncio, json, sys, time
import nats
async def main():
    url, batches_per_s, points, seconds = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    nc = await nats.connect(url)
    names = [f"channel_{i}" for i in range(points)]
    seq, t0 = 0, time.monotonic()
    while time.monotonic() - t0 < seconds:
        body = {"schema": "kit.samples/1", "asset": "soak/a/l/m", "ts": time.time(), "seq": seq,
                "source": "bare", "points": [{"name": n, "value": i + seq % 7 / 10} for i, n in enumerate(names)]}
        await nc.publish("bare.data", json.dumps(body).encode())
        seq += 1
        await asyncio.sleep(max(0.0, t0 + seq / batches_per_s - time.monotonic()))
    await nc.flush()
    print(seq)
asyncio.run(main())
"""


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of ``pid`` (0 if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def growth_pct(series: list[float]) -> float:
    """RSS growth from the first to the last quarter of ``series`` (medians), in %."""
    q = max(1, len(series) // 4)
    first, last = statistics.median(series[:q]), statistics.median(series[-q:])
    return 100.0 * (last - first) / first if first else 0.0


class Sampler:
    """RSS and CPU of a set of processes, once a second."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids
        self.rss: dict[str, list[float]] = {k: [] for k in pids}
        self.cpu0 = {k: cpu_s(p) for k, p in pids.items()}
        self.t0 = time.monotonic()

    def sample(self) -> None:
        for k, p in self.pids.items():
            self.rss[k].append(rss_mib(p))

    def cpu(self) -> dict[str, float]:
        return {k: cpu_s(p) - self.cpu0[k] for k, p in self.pids.items()}


def site_config(data: Path, port: int, sources: int, interval_s: float) -> str:
    comps = [
        {
            "name": f"src{i}",
            "type": "synthetic",
            "asset": f"soak/hall/line1/m{i}",
            "config": {"interval_s": interval_s, "seed": i + 1, "extra_points": POINTS_PER_SOURCE},
        }
        for i in range(sources)
    ]
    comps.append({"name": "historian", "type": "historian", "config": {"flush_interval_s": 5}})
    return json.dumps(
        {"site": "soak", "data_dir": str(data), "nats": {"port": port}, "components": comps}
    )


def wait_for(pred, timeout: float, what: str) -> None:
    """Poll ``pred`` (process start-up, outside any test) until true or fail."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {what}")


def measure_kit(seconds: float, rate: float, tmp: Path) -> dict:
    data = tmp / "data"
    port = free_port()
    per_source = POINTS_PER_SOURCE + 8
    interval_s = 0.1
    sources = max(1, round(rate / (per_source / interval_s)))
    cfg = tmp / "kit.json"
    cfg.write_text(site_config(data, port, sources, interval_s))
    kit = shutil.which("kit") or str(Path(sys.executable).parent / "kit")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [kit, "up", "--config", str(cfg)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        start_new_session=True,
    )
    try:
        pid_file = data / "nats" / "nats-server.pid"
        wait_for(lambda: (data / "runtime.json").exists() or proc.poll() is not None, 60, "kit up")
        if proc.poll() is not None:
            raise SystemExit(f"kit up exited: {proc.stderr.read().decode()[-2000:]}")
        wait_for(pid_file.exists, 30, "the server's pid file")
        server = int(pid_file.read_text().strip())
        warm = max(5.0, seconds / 4)
        time.sleep(warm)  # warm-up: a bench schedule, not synchronisation
        before, t_before = status(kit, cfg)
        s = Sampler({"runtime": proc.pid, "server": server})
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            s.sample()
            time.sleep(1.0)  # sampling schedule
        cpu = s.cpu()
        elapsed = time.monotonic() - s.t0
        after, t_after = status(kit, cfg)
        # The sources' own counts between the two status replies give the rate delivered;
        # the sampled interval's points follow from it.
        per_s = (after - before) * per_source / (t_after - t_before)
        points = per_s * elapsed
        return {
            "sources": sources,
            "points_per_s": per_s,
            "rss_mib": {k: round(v[-1], 1) for k, v in s.rss.items()},
            "rss_growth_pct": {k: round(growth_pct(v), 2) for k, v in s.rss.items()},
            "cpu_pct": {k: round(100 * c / elapsed, 1) for k, c in cpu.items()},
            "cpu_us_per_point": {
                k: round(1e6 * c / points, 3) if points else None for k, c in cpu.items()
            },
            "seconds": round(elapsed, 1),
        }
    finally:
        proc.send_signal(2)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()


def status(kit: str, cfg: Path) -> tuple[int, float]:
    """Batches published so far by all synthetic sources (their own counters), and when
    (the middle of the status call)."""
    t0 = time.monotonic()
    out = subprocess.run(
        [kit, "status", "--json", "--config", str(cfg)], capture_output=True, text=True, timeout=60
    )
    st = json.loads(out.stdout)
    count = sum(
        int((c.get("metrics") or {}).get("batches", 0))
        for c in st["components"]
        if c["type"] == "synthetic"
    )
    return count, (t0 + time.monotonic()) / 2


def measure_bare(seconds: float, rate: float, tmp: Path) -> dict:
    from kit.natsserver import server_binary

    port = free_port()
    server = subprocess.Popen(
        [str(server_binary()), "-a", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(0.5)  # a plain server is up in milliseconds; the client retries anyway
        per_batch = POINTS_PER_SOURCE + 8
        warm = max(5.0, seconds / 4)
        pub = subprocess.Popen(
            [
                sys.executable,
                "-c",
                BARE_CODE,
                f"nats://127.0.0.1:{port}",
                str(rate / per_batch),
                str(per_batch),
                str(warm + seconds + 1),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(warm)
        s = Sampler({"publisher": pub.pid, "server": server.pid})
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            s.sample()
            time.sleep(1.0)
        cpu = s.cpu()
        elapsed = time.monotonic() - s.t0
        points = rate * elapsed
        pub.wait(30)
        return {
            "points_per_s": round(rate),
            "rss_mib": {k: round(v[-1], 1) for k, v in s.rss.items()},
            "rss_growth_pct": {k: round(growth_pct(v), 2) for k, v in s.rss.items()},
            "cpu_us_per_point": {k: round(1e6 * c / points, 3) for k, c in cpu.items()},
        }
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=120.0, help="measured interval")
    ap.add_argument("--rate", type=float, default=10_000.0, help="points/s to aim for")
    ap.add_argument("--quick", action="store_true", help="a short run (CI smoke)")
    a = ap.parse_args()
    if a.quick:
        a.seconds, a.rate = 8.0, 2_000.0
    with tempfile.TemporaryDirectory(prefix="kit-soak-") as d:
        tmp = Path(d)
        kit = measure_kit(a.seconds, a.rate, tmp)
        # The baseline at the rate the kit actually delivered.
        bare = measure_bare(a.seconds, kit["points_per_s"], tmp)
    kit_cpu = sum(v or 0 for v in kit["cpu_us_per_point"].values())
    bare_cpu = sum(bare["cpu_us_per_point"].values())
    print(
        f"soak {kit['seconds']} s at {kit['points_per_s']:,.0f} points/s ({kit['sources']} sources + historian)"
    )
    print(f"{'':<22}{'RSS MiB':>10}{'growth %':>10}{'CPU µs/pt':>11}")
    for k in ("runtime", "server"):
        print(
            f"kit {k:<18}{kit['rss_mib'][k]:>10}{kit['rss_growth_pct'][k]:>10}{kit['cpu_us_per_point'][k]:>11}"
        )
    for k in ("publisher", "server"):
        print(
            f"bare {k:<17}{bare['rss_mib'][k]:>10}{bare['rss_growth_pct'][k]:>10}{bare['cpu_us_per_point'][k]:>11}"
        )
    ratio = kit_cpu / bare_cpu if bare_cpu else None
    print(f"CPU per point kit/bare: {ratio:.2f}" if ratio else "CPU per point kit/bare: n/a")
    print(
        json.dumps(
            {"bench": "soak", "quick": a.quick, "kit": kit, "bare": bare, "cpu_ratio": ratio}
        )
    )


if __name__ == "__main__":
    main()
