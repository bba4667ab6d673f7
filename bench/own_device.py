"""Time from "profile written" to "live KPIs" for one device, as a technician does it.

Run: ``uv run python bench/own_device.py`` (about 1–2 minutes; ``--quick`` for a short run).

The steps of docs/own-device.md, each a real ``kit`` command (a fresh CLI process, as typed)
against a real runtime (``kit up``) and a simulated Carlo Gavazzi EM340 (``kit sim`` serving
the profile of the docs page) on loopback, in a temp data dir:

* **runtime start** (the baseline): ``kit up`` until ``kit status`` answers;
* **profile add**: ``kit profile add acme-em340.yaml``;
* **sim start**: ``kit sim acme-em340.yaml`` until its port accepts connections;
* **probe**: ``kit probe`` (every point read, relations judged, verdict);
* **install**: ``kit install energy-per-shift …`` incl. plan, connection test, start of the
  components and a minimal commissioning watch (``--check-duration``);
* **first data**: from the start of install to the meter's first sample batch on the bus;
* **first KPI**: from the start of install to the first energy KPI on the bus. The energy
  plugin publishes the open windows every ``publish_interval_s`` of sample time (60 s in
  the shipped recipe, aligned to the minute), which dominates this step; ``--publish-interval``
  installs a site copy of the recipe (``kit recipe add``) publishing more often.

Every figure is printed with its ratio to the bare runtime start measured in the same run;
the last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "own-device.md"
RECIPE = ROOT / "recipes" / "energy-per-shift.yaml"
DEADLINE_S = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _profile_text() -> str:
    """The EM340 profile of docs/own-device.md (the block saved as acme-em340.yaml)."""
    for body in re.findall(r"^```yaml\n(.*?)^```", DOC.read_text(), re.S | re.M):
        if body.startswith("# file: acme-em340.yaml"):
            return body
    raise SystemExit("docs/own-device.md has no acme-em340.yaml block")


class Flow:
    """Runs kit commands in one temp data dir and times them."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
        self.env |= {
            "KIT_DATA_DIR": str(tmp / "data"),
            "KIT_NATS__PORT": str(_free_port()),
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{self.env.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
        }
        self.procs: list[subprocess.Popen] = []

    def run(self, *args: str) -> tuple[float, str]:
        """Run ``kit ARGS`` to completion; returns (seconds, stdout). Exits on failure."""
        t0 = time.perf_counter()
        res = subprocess.run(
            ["kit", *args],
            cwd=self.tmp,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=DEADLINE_S,
        )
        dt = time.perf_counter() - t0
        if res.returncode != 0:
            raise SystemExit(
                f"kit {' '.join(args)} exited {res.returncode}:\n{res.stdout}{res.stderr}"
            )
        return dt, res.stdout

    def start(self, *args: str) -> subprocess.Popen:
        """Start ``kit ARGS`` in the background (its own process group)."""
        p = subprocess.Popen(
            ["kit", *args],
            cwd=self.tmp,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.procs.append(p)
        return p

    def wait(self, cond, what: str) -> None:
        """Poll ``cond`` (a readiness check, not a timing) until true."""
        end = time.monotonic() + DEADLINE_S
        while time.monotonic() < end:
            if cond():
                return
            time.sleep(0.02)
        raise SystemExit(f"{what}: not reached in {DEADLINE_S:g} s")

    def status_ok(self) -> bool:
        res = subprocess.run(
            ["kit", "status"], cwd=self.tmp, env=self.env, capture_output=True, timeout=60
        )
        return res.returncode == 0

    def stop(self) -> None:
        """SIGINT every background process (what Ctrl-C does), newest first."""
        for p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGINT)
                except ProcessLookupError:  # exited meanwhile
                    continue
                try:
                    p.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(p.pid, signal.SIGKILL)
                    p.wait()


def _stamp(p: subprocess.Popen, key: str, arrived: dict[str, float]) -> None:
    """Record when ``p`` prints its first line (the first message it received)."""
    if p.stdout is not None and p.stdout.readline():
        arrived[key] = time.perf_counter()


def _site_recipe(tmp: Path, interval: float) -> Path:
    """energy-per-shift as a site copy whose energy component publishes every ``interval`` s."""
    text = RECIPE.read_text().replace("id: energy-per-shift", "id: energy-per-shift-fast", 1)
    text = text.replace(
        "    inputs: {energy: energy_active_import_total_kwh, power: power_active_total_w}\n",
        "    inputs: {energy: energy_active_import_total_kwh, power: power_active_total_w}\n"
        f"    params: {{publish_interval_s: {interval:g}}}\n",
    )
    path = tmp / "energy-per-shift-fast.yaml"
    path.write_text(text)
    return path


def main() -> None:
    """Run the flow once and print the figures (last line: JSON)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="publish KPIs every 5 s (a site copy)")
    ap.add_argument(
        "--publish-interval",
        type=float,
        default=None,
        help="energy publish interval of a site copy of the recipe (default: the shipped 60 s)",
    )
    ap.add_argument("--check-duration", type=float, default=0.5)
    args = ap.parse_args()
    interval = args.publish_interval or (5.0 if args.quick else None)
    tmp = Path(tempfile.mkdtemp(prefix="kit-bench-own-device-"))
    (tmp / "acme-em340.yaml").write_text(_profile_text())
    flow = Flow(tmp)
    fig: dict[str, float] = {}
    try:
        t0 = time.perf_counter()
        flow.start("up")
        flow.wait(flow.status_ok, "kit up ready")
        fig["runtime_start_s"] = time.perf_counter() - t0

        recipe = "energy-per-shift"
        if interval is not None:  # setup, not a step of the flow
            flow.run("recipe", "add", str(_site_recipe(tmp, interval)))
            recipe = "energy-per-shift-fast"

        fig["profile_add_s"], _ = flow.run("profile", "add", "acme-em340.yaml")
        port = _free_port()
        t0 = time.perf_counter()
        flow.start("sim", "acme-em340.yaml", "--port", str(port))
        flow.wait(lambda: _port_open(port), "kit sim listening")
        fig["sim_start_s"] = time.perf_counter() - t0
        fig["probe_s"], out = flow.run("probe", f"127.0.0.1:{port}", "--profile", "acme-em340.yaml")
        assert "verdict: the profile as written fits" in out, out
        # Listen for the first data and KPI from before install on (kit bus tail, as typed);
        # a reader thread stamps the moment each line arrives.
        arrived: dict[str, float] = {}
        tails = []
        for key, subject in (("data", "kit.data.>"), ("kpi", "kit.kpi.>")):
            p = subprocess.Popen(
                ["kit", "bus", "tail", subject, "--count", "1"],
                cwd=tmp, env=flow.env, stdout=subprocess.PIPE, text=True,
                start_new_session=True,
            )  # fmt: skip
            flow.procs.append(p)
            t = threading.Thread(target=_stamp, args=(p, key, arrived), daemon=True)
            t.start()
            tails.append(t)
        time.sleep(1.0)  # let both tails subscribe (a CLI start); not part of any figure
        t_install = time.perf_counter()
        fig["install_s"], out = flow.run(
            "install", recipe,
            "--set", "meter=press 4 feed", "--set", "meter_profile=acme-em340",
            "--set", "meter_host=127.0.0.1", "--set", f"meter_port={port}",
            "--check-duration", f"{args.check_duration:g}", "--yes",
        )  # fmt: skip
        assert ": PASS" in out, out
        for t in tails:
            t.join(DEADLINE_S)
        fig["first_data_after_install_start_s"] = arrived["data"] - t_install
        fig["first_kpi_after_install_start_s"] = arrived["kpi"] - t_install
        fig["total_s"] = fig["first_kpi_after_install_start_s"] + sum(
            fig[k] for k in ("profile_add_s", "sim_start_s", "probe_s")
        )
    finally:
        flow.stop()
    base = fig["runtime_start_s"]
    print(f"own device (Carlo Gavazzi EM340 profile from docs/own-device.md), tmp {tmp}")
    print(
        f"energy publish interval: {interval or 60:g} s ({'site copy' if interval else 'shipped recipe'})"
    )
    for k, v in fig.items():
        print(f"  {k:<34} {v:8.2f} s   ×{v / base:6.2f} of the bare `kit up` start")
    print(
        json.dumps(
            {
                "bench": "own_device",
                "quick": args.quick,
                "publish_interval_s": interval or 60,
                "check_duration_s": args.check_duration,
                **{k: round(v, 3) for k, v in fig.items()},
                "ratio_total_to_runtime_start": round(fig["total_s"] / base, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
