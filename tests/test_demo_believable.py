"""`kit demo --headless` shows what a technician would believe (issue 12.9): no OEE factor
above 100 %, no binary float noise in any printed value, and the simulated meter's values obey
physics in the batches it prints."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

KIT = [sys.executable, "-m", "kit"]
# Binary float noise: runs of 0s or 9s deep in the decimals (230.10000000000002,
# 0.20799999998416752), more than 9 significant digits (231.6549530029297), or an exponent.
NOISE = re.compile(r"\.\d*(0{6,}|9{6,})\d|\d{10,}|\d\.?\d{9,}|\d[eE][-+]?\d")
KPI_RE = re.compile(r" KPI\s+(\S+)\s+(\S+)\s+(-?[\d.]+) %")
PAIR_RE = re.compile(r"(\w+)=(-?[\d.]+)")


def _env(data_dir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update({"KIT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"})
    return env


def _relations_over_the_bus(data_dir: Path) -> tuple[list, dict[str, int]]:
    """Every relation of kit/relations.py on the sample batches of the running demo, read
    from its bus as any client would (``kit bus tail --json``; the CLI finds the demo runtime
    of its data dir). Returns (violations, satisfied checks per asset)."""
    from datetime import datetime

    from kit.relations import evaluate

    tail = subprocess.run(
        KIT + ["bus", "tail", "kit.data.>", "--json", "--count", "45"],
        env=_env(data_dir),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert tail.returncode == 0, tail.stderr
    violations: list = []
    satisfied: dict[str, int] = {}
    last: dict[str, tuple[float, dict]] = {}
    for line in tail.stdout.splitlines():
        batch = json.loads(line)["data"]
        asset = batch["asset"]
        ts = datetime.fromisoformat(batch["ts"].replace("Z", "+00:00")).timestamp()
        values = {
            p["name"]: p["value"]
            for p in batch["points"]
            if p.get("quality", "good") == "good" and "value" in p
        }
        prev = last.get(asset)
        checks = evaluate(
            values,
            previous=prev[1] if prev else None,
            elapsed_s=ts - prev[0] if prev else None,
        )
        violations += [(asset, c.statement, c.evidence) for c in checks if c.status == "violated"]
        satisfied[asset] = satisfied.get(asset, 0) + sum(c.status == "satisfied" for c in checks)
        last[asset] = (ts, values)
    return violations, satisfied


def test_headless_demo_is_believable(tmp_path):
    demo = subprocess.Popen(
        KIT + ["demo", "--headless", "--duration", "40"],
        env=_env(tmp_path / "d"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    head = []
    for line in demo.stdout:  # the demo says when its devices and recipes are up
        head.append(line)
        if line.startswith("demo running"):
            break
    # The demo names its own data directory (<data dir>/demo, or demo-N beside a running one).
    named = re.search(r"data directory (\S+)", head[-1])
    demo_dir = Path(named.group(1)) if named else tmp_path / "d" / "demo"
    violations, satisfied = _relations_over_the_bus(demo_dir)
    rest, err = demo.communicate(timeout=240)
    r = subprocess.CompletedProcess(demo.args, demo.returncode, "".join(head) + rest, err)
    assert violations == [], f"relations violated in the demo's data: {violations[:5]}"
    # The relations were really evaluated: the simulated meter's batches satisfy many.
    meter = [a for a in satisfied if a.endswith("press1_feed")]
    assert meter and satisfied[meter[0]] >= 20, satisfied
    lines = r.stdout.splitlines()
    data = [line for line in lines if " DATA " in line]
    kpis = [KPI_RE.search(line) for line in lines if " KPI " in line]
    ratios = [(m.group(2), float(m.group(3))) for m in kpis if m]
    assert {"oee", "effectiveness", "availability", "quality"} <= {k for k, _ in ratios}
    over = [(k, v) for k, v in ratios if v > 100.0]
    assert over == [], f"OEE factors above 100 %: {over[:5]}"
    noisy = [
        line for line in data + [line for line in lines if " KPI " in line] if NOISE.search(line)
    ]
    assert noisy == [], f"float noise: {noisy[:3]}"
    # The meter's printed phase voltages are line-to-neutral values of one supply.
    meter = [dict(PAIR_RE.findall(line)) for line in data if "press1_feed" in line]
    keys = ("voltage_l1_n_v", "voltage_l2_n_v", "voltage_l3_n_v")
    volts = [[float(m[k]) for k in keys if k in m] for m in meter]
    volts = [v for v in volts if v]
    assert volts, "no meter batch with phase voltages printed"
    assert all(207 <= x <= 253 for v in volts for x in v), volts[:3]
