"""`kit demo --headless` shows what a technician would believe (issue 12.9): no OEE factor
above 100 %, no binary float noise in any printed value, and the simulated meter's values obey
physics in the batches it prints."""

from __future__ import annotations

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


def test_headless_demo_is_believable(tmp_path):
    r = subprocess.run(
        KIT + ["demo", "--headless", "--duration", "40"],
        env=_env(tmp_path / "d"),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert r.returncode == 0, r.stderr
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
