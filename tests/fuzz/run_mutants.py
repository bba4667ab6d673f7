"""Run N seeded mutants through every loader and summarise the outcomes by exception class.

The long form of ``test_yaml_fuzz.py::test_mutation_run_never_crashes`` for reproducing
and hunting: ``uv run python tests/fuzz/run_mutants.py 2200 7 [recipe,profile,…]``. Prints
the counts (loaded, clean errors, crashes), the slowest load, and one line per crash class
(exception, loader, mutation, where) with a short message. Each load is cut off after 10 s
(SIGALRM) and counted as a ``slow`` crash.
"""

from __future__ import annotations

import collections
import signal
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import harness  # noqa: E402
import mutate  # noqa: E402

from kit.errors import ConfigError  # noqa: E402
from kit.plugins import get_plugin_manager  # noqa: E402


class Slow(Exception):
    """A load ran past the cut-off."""


def _alarm(*_: object) -> None:
    raise Slow()


def main() -> None:
    """Parse ``N SEED [kinds]``, run, print the summary."""
    n, seed = int(sys.argv[1]), int(sys.argv[2])
    kinds = sys.argv[3].split(",") if len(sys.argv) > 3 else None
    host = get_plugin_manager()
    signal.signal(signal.SIGALRM, _alarm)
    crashes: collections.Counter[tuple[str, ...]] = collections.Counter()
    examples: dict[tuple[str, ...], str] = {}
    counts: collections.Counter[str] = collections.Counter()
    slowest = 0.0
    with tempfile.TemporaryDirectory() as d:
        for i, (kind, src, name, data) in enumerate(mutate.mutants(n, seed)):
            if kinds and kind not in kinds:
                continue
            sub = Path(d) / str(i)
            sub.mkdir()
            path = sub / ("kit_quality.yaml" if kind == "quality" else src.name)
            path.write_bytes(data)
            t0 = time.perf_counter()
            signal.alarm(10)
            try:
                harness.load(kind, path, host)
                counts["loaded"] += 1
            except ConfigError as exc:
                if harness.well_shaped(exc):
                    counts["clean errors"] += 1
                else:
                    key = ("badly shaped", kind, name)
                    crashes[key] += 1
                    examples.setdefault(key, str(harness.problems_of(exc)[:1])[:150])
            except Slow:
                key = ("slow", kind, name)
                crashes[key] += 1
                examples.setdefault(key, str(path))
            except Exception as exc:  # noqa: BLE001 -- the finding
                tb = traceback.extract_tb(exc.__traceback__)[-1]
                key = (type(exc).__name__, kind, name, f"{Path(tb.filename).name}:{tb.lineno}")
                crashes[key] += 1
                examples.setdefault(key, str(exc)[:150].replace("\n", " "))
            finally:
                signal.alarm(0)
            slowest = max(slowest, time.perf_counter() - t0)
    total = sum(counts.values()) + sum(crashes.values())
    print(
        f"{total} inputs: {counts['loaded']} loaded, {counts['clean errors']} clean errors, "
        f"{sum(crashes.values())} crashes; slowest load {slowest:.2f} s"
    )
    for key, c in crashes.most_common():
        print(c, key, examples[key])


if __name__ == "__main__":
    main()
