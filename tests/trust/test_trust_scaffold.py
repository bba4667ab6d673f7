"""``kit plugin new`` → a project that installs, passes its own tests and certifies bronze.

Each kind is scaffolded into a temporary directory and installed (non-editable, built by
hatchling) into a fresh virtual environment made with ``uv venv``. The kit itself is not
reinstalled there: a ``.pth`` file adds this workspace's environment (the kit from the
workspace path, pytest, nats-server), which keeps the test bounded in time and offline-safe.
Then the scaffold's own tests run with that interpreter and ``kit certify`` certifies the
*installed* distribution.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from kit.errors import KitError
from kit.trust.scaffold import scaffold

KINDS = ("adapter", "analytics", "sink")


def _run(
    cmd: list[str], timeout: float, env: dict | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    assert proc.returncode == 0, (
        f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    )
    return proc


def test_scaffolded_plugins_install_test_green_and_certify_bronze(tmp_path):
    uv = shutil.which("uv")
    assert uv, "uv is required (the project's tool chain)"
    roots = [scaffold(f"acme-{k}", k, tmp_path) for k in KINDS]
    venv = tmp_path / "venv"
    _run([uv, "venv", "-q", str(venv), "--python", sys.executable], 120)
    vpy = venv / "bin" / "python"
    vsite = _run(
        [str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], 30
    ).stdout.strip()
    Path(vsite, "_kit_workspace.pth").write_text(
        f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n"
    )
    _run([uv, "pip", "install", "-q", "--python", str(vpy), "--no-deps", *map(str, roots)], 300)
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
        "KIT_LOAD_PLUGINS": "",
    }
    # Installed (not importable from the source tree): the module lives in the venv.
    where = _run(
        [str(vpy), "-c", "import kit_acme_sink; print(kit_acme_sink.__file__)"], 30, env, tmp_path
    ).stdout
    assert str(venv) in where
    # The scaffolds' own tests (kit.testing fixtures, real nats-server).
    out = _run(
        [
            str(vpy),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            *(str(r / "tests") for r in roots),
        ],
        300,
        env,
        tmp_path,
    ).stdout
    assert "3 passed" in out
    for k in KINDS:
        _run(
            [
                str(vpy),
                "-c",
                "from kit.cli import main; main()",
                "certify",
                f"kit-acme-{k}",
                "--out",
                str(tmp_path / "reports"),
                "--require",
                "bronze",
                "--run-s",
                "2",
                "--soak-s",
                "2",
            ],
            300,
            env,
            tmp_path,
        )
        report = json.loads((tmp_path / "reports" / f"kit-acme-{k}.json").read_text())
        assert report["tier"] in ("bronze", "silver", "gold")
        bronze = [r for r in report["results"] if r["tier"] == "bronze"]
        assert all(r["outcome"] in ("pass", "n/a") for r in bronze), bronze  # no exemption needed
        if k == "analytics":  # malformed, out-of-order and duplicate input was fed and counted
            bad = {r["id"]: r for r in report["results"]}["analytics-bad-input"]
            assert bad["outcome"] == "pass", bad
        if k == "adapter":  # the fault-injection run against the scaffold's own simulator
            faults = {r["id"]: r for r in report["results"]}["adapter-faults"]
            assert faults["outcome"] == "pass", faults
            assert set(report["figures"]["faults"]["phases"]) == {
                "baseline",
                "disconnect",
                "slow",
                "restart",
                "exception",
            }


def test_scaffold_rejects_bad_names_and_existing_dirs(tmp_path):
    with pytest.raises(KitError, match="lower-case"):
        scaffold("Acme_Meter", "adapter", tmp_path)
    scaffold("acme", "sink", tmp_path)
    with pytest.raises(KitError, match="exists"):
        scaffold("acme", "sink", tmp_path)


async def test_adapter_without_backoff_is_flagged_as_reconnect_storm(tmp_path):
    from kit.trust.certify import certify

    root = scaffold("stormy", "adapter", tmp_path)
    plugin = root / "src" / "kit_stormy" / "plugin.py"
    src = plugin.read_text()
    backoff = "await self.ctx.clock.sleep(delay * random.uniform(0.8, 1.2))  # backoff with jitter"
    assert backoff in src
    plugin.write_text(
        src.replace(backoff, "await asyncio.sleep(0.01)  # no backoff: hammers the device")
    )
    try:
        report = await certify(str(root), run_s=0.5, soak_s=0.5)
    finally:
        for m in [m for m in sys.modules if m.startswith("kit_stormy")]:
            del sys.modules[m]
    res = {r["id"]: r for r in report.data["results"]}
    assert res["adapter-faults"]["outcome"] == "fail"
    phase = report.data["figures"]["faults"]["phases"]["disconnect"]
    assert phase["reconnect_attempts_per_s"] > 2 and phase["ok"] is False
