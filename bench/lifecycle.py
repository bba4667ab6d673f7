"""How long ``kit up`` takes to stop on Ctrl-C in a terminal, against SIGTERM to the runtime.

Run: ``uv run python bench/lifecycle.py`` (10 rounds each; ``--quick`` for 2).

Each round starts ``kit up`` on its own pseudo-terminal with a synthetic component
publishing every 10 ms, waits for "kit runtime up", then either sends SIGINT to the whole
process group (what a terminal does on Ctrl-C; the embedded nats-server is in its own
session, so it is not hit) or SIGTERM to the runtime process only (the baseline: what
systemd does). Time is from the signal to the exit of ``kit up``; a round that exits
non-zero or prints a traceback is counted as a failure. The last line is JSON.
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


def main() -> None:
    """Measure and print; last line JSON."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="2 rounds instead of 10")
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
    print(json.dumps({"bench": "lifecycle", **result}))


if __name__ == "__main__":
    main()
