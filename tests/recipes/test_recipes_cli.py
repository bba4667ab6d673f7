"""The recipe CLI as a technician uses it: a real ``kit`` process against a real runtime."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from kit.builtin import shipped_dir


async def kit(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from kit.cli import main; main()",
        *args,
        env={**os.environ, **env},
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    return proc.returncode, out.decode(), err.decode()


async def test_validate_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    text = (shipped_dir("recipes") / "synthetic-machine-watch.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        text.replace("adapter: synthetic", "adapter: synthetik")
        .replace("point: energy_active_import_total_kwh", "point: energy_import_kwh")
        .replace('seed: "${seed}"', 'seed: "${sede}"')
    )
    lines = bad.read_text().splitlines()
    line_of = lambda needle: next(i for i, t in enumerate(lines, 1) if needle in t)  # noqa: E731
    code, out, err = await kit(
        "recipe", "validate", str(bad), env={"KIT_DATA_DIR": str(tmp_path / "d")}
    )
    assert code == 2, (out, err)
    assert (
        f"{bad}:{line_of('synthetik')}: assets.machine.adapter: unknown adapter 'synthetik' "
        "(did you mean 'synthetic'?)" in err
    )
    assert (
        f"{bad}:{line_of('sede')}: assets.machine.connection.seed: unknown parameter ${{sede}} "
        "(did you mean 'seed'?)" in err
    )
    assert f"{bad}:{line_of('energy_import_kwh')}: checks[2].point:" in err
    assert f"{bad}: 3 problem(s)" in err


async def test_install_show_export_uninstall_through_the_cli(
    kit_settings, make_runtime, tmp_path: Path
) -> None:
    rt = await make_runtime(kit_settings)
    env = {"KIT_NATS_URL": rt.url, "KIT_DATA_DIR": str(tmp_path / "cli"), "KIT_SITE": "test"}
    code, out, err = await kit(
        "install",
        "synthetic-machine-watch",
        "--set",
        "interval=0.1",
        "--set",
        "machine=Lathe 2",
        "--yes",
        "--check-duration",
        "1",
        env=env,
    )
    assert code == 0, err
    dep = "synthetic-machine-watch-lathe_2"
    assert f"installed {dep}: 1 component(s) running" in out
    assert "kit.data.test.demo.line1.lathe_2" in out  # the plan names the subjects
    assert "PASS  machine updates at least every 5 s" in out
    code, out, _ = await kit(
        "install",
        "synthetic-machine-watch",
        "--set",
        "interval=0.1",
        "--set",
        "machine=Lathe 2",
        "--yes",
        env=env,
    )
    assert code == 0 and "nothing to do" in out
    code, out, _ = await kit("deployments", "--json", env=env)
    listed = json.loads(out)["deployments"]
    assert [(d["id"], d["result"]) for d in listed] == [(dep, "pass")]
    code, out, _ = await kit("deployments", "show", dep, "--format", "md", env=env)
    assert code == 0 and out.startswith(f"# Commissioning report: {dep}")
    v2 = tmp_path / "watch-v2.yaml"
    v2.write_text(
        (shipped_dir("recipes") / "synthetic-machine-watch.yaml")
        .read_text()
        .replace("version: 1.0.0", "version: 1.1.0")
    )
    code, out, err = await kit(
        "upgrade", dep, str(v2), "--set", "seed=7", "--check-duration", "0.5", env=env
    )
    assert code == 0 and f"upgraded {dep} 1.0.0 → 1.1.0" in out, err
    assert rt.supervisor.instances[f"{dep}-machine"].config.seed == 7
    bundle = tmp_path / "site.kitbundle"
    code, out, err = await kit("bundle", "export", dep, "-o", str(bundle), env=env)
    assert code == 0 and bundle.stat().st_size > 0, err
    code, out, _ = await kit("bundle", "diff", str(bundle), env=env)
    assert code == 0 and f"{dep}: same" in out
    code, out, _ = await kit("uninstall", dep, env=env)
    assert code == 0 and f"uninstalled {dep}" in out
    assert rt.supervisor.instances == {}
    code, out, _ = await kit("bundle", "diff", str(bundle), env=env)
    assert code == 1 and f"{dep}: not installed here" in out
    # Installed again from the bundle with another machine name (blanked: this site's own);
    # the CLI shows progress per deployment and per check while the runtime works.
    code, out, err = await kit(
        "bundle",
        "install",
        str(bundle),
        "--yes",
        "--set",
        f"{dep}.machine=Lathe 3",
        "--check-duration",
        "0.5",
        env=env,
    )
    assert code == 0, err
    assert f"[1/1] {dep}: synthetic-machine-watch 1.1.0 — testing connections" in out
    assert f"[1/1] {dep}:   PASS machine updates at least every 5 s" in out
    assert f"{dep}: installed, checks PASS" in out
    code, out, _ = await kit("bundle", "diff", str(bundle), env=env)
    assert code == 0 and f"{dep}: same" in out  # the machine name is a site value
    code, out, err = await kit(
        "install", "synthetic-machine-watch", "--set", "interval=500", "--yes", env=env
    )
    assert code == 2 and "parameters.interval: 500 s is above the maximum 60 s" in err
