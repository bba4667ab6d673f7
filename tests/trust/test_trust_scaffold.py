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


def _run(cmd: list[str], timeout: float, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def test_scaffolded_plugins_install_test_green_and_certify_bronze(tmp_path):
    uv = shutil.which("uv")
    assert uv, "uv is required (the project's tool chain)"
    roots = [scaffold(f"acme-{k}", k, tmp_path) for k in KINDS]
    venv = tmp_path / "venv"
    _run([uv, "venv", "-q", str(venv), "--python", sys.executable], 120)
    vpy = venv / "bin" / "python"
    vsite = _run([str(vpy), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], 30).stdout.strip()
    Path(vsite, "_kit_workspace.pth").write_text(f"import site; site.addsitedir({sysconfig.get_paths()['purelib']!r})\n")
    _run([uv, "pip", "install", "-q", "--python", str(vpy), "--no-deps", *map(str, roots)], 300)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "XDG_DATA_HOME": str(tmp_path / "xdg"), "KIT_LOAD_PLUGINS": ""}
    # Installed (not importable from the source tree): the module lives in the venv.
    where = _run([str(vpy), "-c", "import kit_acme_sink; print(kit_acme_sink.__file__)"], 30, env, tmp_path).stdout
    assert str(venv) in where
    # The scaffolds' own tests (kit.testing fixtures, real nats-server).
    out = _run([str(vpy), "-m", "pytest", "-q", "-p", "no:cacheprovider", *(str(r / "tests") for r in roots)],
               300, env, tmp_path).stdout
    assert "3 passed" in out
    for k in KINDS:
        _run([str(vpy), "-c", "from kit.cli import main; main()", "certify", f"kit-acme-{k}", "--out",
              str(tmp_path / "reports"), "--require", "bronze", "--run-s", "2", "--soak-s", "2"], 300, env, tmp_path)
        report = json.loads((tmp_path / "reports" / f"kit-acme-{k}.json").read_text())
        assert report["tier"] in ("bronze", "silver", "gold")
        bronze = [r for r in report["results"] if r["tier"] == "bronze"]
        assert all(r["outcome"] in ("pass", "n/a") for r in bronze), bronze  # no exemption needed


def test_scaffold_rejects_bad_names_and_existing_dirs(tmp_path):
    with pytest.raises(KitError, match="lower-case"):
        scaffold("Acme_Meter", "adapter", tmp_path)
    scaffold("acme", "sink", tmp_path)
    with pytest.raises(KitError, match="exists"):
        scaffold("acme", "sink", tmp_path)
