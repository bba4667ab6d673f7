"""Rule ``plugin-coverage``: the plugin's own tests exercise its code (coverage.py).

Certification runs the components for a few seconds; that says little about code paths a
short run never reaches (error handling, reconnects, rare configs). So the project's own
test suite is run under coverage.py, restricted to the plugin package, in a subprocess with
the same interpreter, and the line coverage is a gold rule with its figure in the report.
"""

from __future__ import annotations

import asyncio
import io
import sys
import tempfile
from pathlib import Path
from typing import Any

from kit.aio import wait_for

#: Line coverage of the plugin package the project's tests must reach for gold.
MIN_PERCENT = 80.0
TIMEOUT_S = 900.0


async def measure(project_dir: Path | None, pkg_dir: Path) -> tuple[bool, str, dict[str, Any]]:
    """Run ``project_dir/tests`` under coverage of ``pkg_dir``; (passed, detail, figures)."""
    tests = project_dir / "tests" if project_dir else None
    if tests is None or not tests.is_dir():
        return False, "no project tests/ to measure (certify the project directory)", {}
    with tempfile.TemporaryDirectory(prefix="kit-cov-") as tmp:
        data = Path(tmp) / ".coverage"
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "coverage",
            "run",
            f"--data-file={data}",
            f"--source={pkg_dir}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(tests),
            cwd=str(project_dir),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            out, _ = await wait_for(proc.communicate(), TIMEOUT_S)
        except TimeoutError:
            proc.kill()
            return False, f"the project's tests did not finish within {TIMEOUT_S:.0f} s", {}
        tail = out.decode(errors="replace").strip().splitlines()[-1:] or [""]
        if proc.returncode != 0:
            return False, f"the project's tests fail: {tail[0]}", {"tests_passed": False}
        percent = await asyncio.to_thread(_percent, data)
    figures = {"coverage_percent": round(percent, 1), "tests_passed": True, "tests": tail[0]}
    ok = percent >= MIN_PERCENT
    return ok, f"{percent:.1f} % of the plugin's lines (needs {MIN_PERCENT:.0f} %)", figures


def _percent(data: Path) -> float:
    import coverage

    cov = coverage.Coverage(data_file=str(data))
    cov.load()
    return float(cov.report(file=io.StringIO()))
