"""Site library figures: what a running runtime pays to see a profile added with `kit profile add`.

Baseline (same run): loading the whole profile library from scratch (``ProfileLibrary``):
what any change of a profile file costs without the per-file cache, and what each OPC UA
component start cost before the library lived on the context. Measured: a lookup
while nothing changed (directory fingerprint only) and the reload after one site file changed
(only that file is validated again). Run: ``uv run python bench/site_library.py [--quick]``.
Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from kit.builtin import shipped_dir
from kit.library import Library
from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary


def _median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times) * 1e3


def main() -> None:
    """Print the figures and one JSON line."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="few rounds (CI smoke)")
    ap.add_argument("--rounds", type=int, default=7)
    args = ap.parse_args()
    rounds = 2 if args.quick else args.rounds
    host = get_plugin_manager()
    src = (shipped_dir("hardware_profiles") / "eastron-sdm630.yaml").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        (data / "profiles").mkdir()
        lib = Library(host, data)
        full = _median_ms(lambda: ProfileLibrary(host).load(), rounds)
        lib.profiles()
        unchanged = _median_ms(lib.profiles, rounds * 10)
        n = iter(range(10**6))

        def add_and_use() -> None:
            i = next(n)
            text = src.replace("id: eastron-sdm630", "id: site-meter", 1) + f"\n# edit {i}\n"
            (data / "profiles" / "site-meter.yaml").write_text(text)
            lib.profile("site-meter")

        changed = _median_ms(add_and_use, rounds)
        count = len(lib.profiles().profiles)
    print(f"profiles in the library:                 {count}")
    print(f"full load (baseline):                    {full:8.1f} ms")
    print(
        f"lookup, nothing changed:                 {unchanged:8.2f} ms  ({full / unchanged:.0f}x faster)"
    )
    print(
        f"lookup after one site file changed:      {changed:8.1f} ms  ({full / changed:.1f}x faster)"
    )
    print(
        json.dumps(
            {
                "bench": "site_library",
                "profiles": count,
                "full_load_ms": round(full, 2),
                "unchanged_ms": round(unchanged, 3),
                "changed_ms": round(changed, 2),
                "ratio_full_to_changed": round(full / changed, 2),
            }
        )
    )


if __name__ == "__main__":
    main()
