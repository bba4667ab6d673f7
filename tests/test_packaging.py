"""A non-editable wheel install finds the shipped recipes and profiles, and loads plugins."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_install_ships_resources(tmp_path):
    uv = shutil.which("uv")
    assert uv, "uv is the project's prerequisite"
    dist = tmp_path / "dist"
    for pkg in (ROOT, ROOT / "plugins" / "synthetic"):
        subprocess.run(
            [uv, "build", "--wheel", "--out-dir", str(dist), str(pkg)],
            check=True,
            capture_output=True,
            timeout=300,
        )
    venv = tmp_path / "venv"
    subprocess.run(
        [uv, "venv", "--python", sys.executable, str(venv)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    py = venv / "bin" / "python"
    subprocess.run(
        [uv, "pip", "install", "--python", str(py), *map(str, dist.glob("*.whl"))],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import json, kit.builtin as b, kit, pathlib;"
        "r=b.shipped_dir('recipes'); p=b.shipped_dir('hardware_profiles');"
        "print(json.dumps({'kit': kit.__file__, 'recipes': str(r), 'profiles': str(p),"
        "'recipe_files': sorted(x.name for x in r.rglob('*') if x.is_file()),"
        "'profile_files': sorted(x.name for x in p.rglob('*') if x.is_file())}))"
    )
    out = json.loads(
        subprocess.run(
            [str(py), "-c", probe],
            check=True,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=60,
        ).stdout
    )
    assert "site-packages" in out["kit"] and "site-packages" in out["recipes"]
    assert out["recipe_files"] == sorted(
        x.name for x in (ROOT / "recipes").rglob("*") if x.is_file()
    )
    assert out["profile_files"] == sorted(
        x.name for x in (ROOT / "hardware_profiles").rglob("*") if x.is_file()
    )
    plugins = subprocess.run(
        [str(venv / "bin" / "kit"), "plugins", "--json"],
        check=True,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    names = {p["name"] for p in json.loads(plugins.stdout)["plugins"]}
    assert {"synthetic", "kit-resources"} <= names
