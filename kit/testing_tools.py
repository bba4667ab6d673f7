"""Outside tools the kit's own tests drive, installed on first use like the Python packages.

``uv run pytest`` on a fresh clone must work with nothing installed by hand (README, "two
commands"): the interop servers and Node-RED come from ``tests/interop/package-lock.json``
(``npm ci``), the browser tests use Debian's Chromium (``apt-get install chromium`` when the
run may install packages: as root, or with password-less sudo). ``.ci/run`` installs both up
front; these helpers make a plain ``uv run pytest`` do the same once. A file lock keeps the
two pytest-xdist workers from installing at the same time. When a tool cannot be had, the
test fails with what to install — it is never skipped.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: The repository's interop package set (node-opcua, jsmodbus, node-red).
INTEROP = Path(__file__).resolve().parents[1] / "tests" / "interop"
_CHROMIUM_NAMES = ("chromium", "chromium-browser")


@contextmanager
def _locked(name: str) -> Iterator[None]:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"kit-test-{name}.lock"
    with path.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # the other worker waits for the install to finish
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def interop_modules(package: str) -> Path:
    """``tests/interop/node_modules``, with ``package`` in it (``npm ci`` on first use).

    Raises:
        AssertionError: Node.js/npm missing or the install failed (what to do, in words).
    """
    modules = INTEROP / "node_modules"
    if not (modules / package).exists() and shutil.which("npm"):
        with _locked("npm"):
            if not (modules / package).exists():
                subprocess.run(
                    ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                    cwd=INTEROP,
                    check=False,
                    timeout=900,
                )
    assert shutil.which("node") and (modules / package).exists(), (
        f"{package} is needed: install Node.js 18+ and run `npm ci` in tests/interop"
    )
    return modules


def chromium() -> str:
    """Path of a headless-capable Chromium (Debian's package, installed on first use).

    Raises:
        AssertionError: none found and it cannot be installed here (what to install).
    """
    found = os.environ.get("KIT_CHROMIUM") or next(
        (p for n in _CHROMIUM_NAMES if (p := shutil.which(n))), None
    )
    if found:
        return found
    with _locked("chromium"):
        found = next((p for n in _CHROMIUM_NAMES if (p := shutil.which(n))), None)
        if found is None and shutil.which("apt-get"):
            sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
            if not sudo or shutil.which("sudo"):
                env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
                for cmd in (
                    ["apt-get", "update", "-qq"],
                    ["apt-get", "install", "-y", "-qq", "chromium", "fonts-dejavu-core"],
                ):
                    subprocess.run(
                        [*sudo, *cmd],
                        env=env,
                        check=False,
                        timeout=900,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                found = next((p for n in _CHROMIUM_NAMES if (p := shutil.which(n))), None)
    assert found, "headless Chromium is needed for the browser tests: apt-get install chromium"
    return found
