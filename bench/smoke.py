"""Bench smoke run: every benchmark in ``bench/`` with ``--quick``, so none rots unseen.

Runs each ``bench/*.py`` (except this file) in its own process with ``--quick`` and checks
that it exits 0 and that the last line of its standard output parses as JSON. No figure is
judged (timings on a shared CI machine are noise); the point is that every bench still
imports, runs end to end against the current code and prints its result line. A new bench
is picked up without registering it here, so it must support ``--quick`` from day one.

``.ci/run`` runs this before the tests. Run: ``uv run python bench/smoke.py [name …]``
(names without ``.py`` select benches; ``--jobs N`` runs N at once, default 2 — the quick
runs mostly wait on servers and subprocesses, and their figures are not judged here).
Prints one line per bench with its duration and ends with one JSON line (per-bench seconds
and the total).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
TIMEOUT_S = 300
"""Per bench; a quick run takes seconds, so this only stops a hang from blocking CI."""


def benches(names: list[str]) -> list[Path]:
    """The bench scripts to run: all of ``bench/*.py`` but this one, or the named ones."""
    found = sorted(p for p in HERE.glob("*.py") if p.name != Path(__file__).name)
    if names:
        found = [p for p in found if p.stem in names]
    return found


def run_one(path: Path) -> tuple[float, str | None]:
    """Run one bench with ``--quick``; its duration and a problem (None when it passed)."""
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(path), "--quick"],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
            cwd=HERE.parent,
        )
    except subprocess.TimeoutExpired:
        return time.perf_counter() - t0, f"no result after {TIMEOUT_S} s"
    seconds = time.perf_counter() - t0
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout)[-2000:]
        return seconds, f"exit status {proc.returncode}:\n{tail}"
    if not lines:
        return seconds, "printed nothing on stdout (expected a JSON last line)"
    try:
        json.loads(lines[-1])
    except ValueError as exc:
        return seconds, f"last line is not JSON ({exc}): {lines[-1][:200]!r}"
    return seconds, None


def main(argv: list[str] | None = None) -> int:
    """Run the benches, print one line each and a JSON summary; 1 if any failed."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="benches to run (file names without .py); default all")
    ap.add_argument(
        "--quick", action="store_true", help="accepted for symmetry: every bench runs --quick"
    )
    ap.add_argument(
        "--jobs", type=int, default=2, metavar="N", help="benches run at once (default 2)"
    )
    args = ap.parse_args(argv)
    names = args.names
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")
    known = {p.stem for p in benches([])}
    unknown = sorted(set(names) - known)
    if unknown:
        # A typo must not turn into a green run of nothing.
        ap.error(f"unknown bench(es) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    t_all = time.perf_counter()
    seconds: dict[str, float] = {}
    failed: list[str] = []
    paths = benches(names)
    # Threads only wait on the bench processes; results are printed in file order.
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(run_one, paths))
    for path, (s, problem) in zip(paths, results, strict=True):
        seconds[path.stem] = round(s, 1)
        print(f"{path.name:<34} {s:6.1f} s  {'ok' if problem is None else 'FAILED'}", flush=True)
        if problem is not None:
            failed.append(path.stem)
            print(f"  {problem}", flush=True)
    total = time.perf_counter() - t_all
    print(f"bench smoke: {len(seconds)} benches, {len(failed)} failed, {total:.1f} s")
    print(json.dumps({"seconds": seconds, "failed": failed, "total_s": round(total, 1)}))
    return 1 if failed or not seconds else 0


if __name__ == "__main__":
    sys.exit(main())
