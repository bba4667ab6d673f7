"""Runtimes side by side (issue 12.7): one runtime per data directory (a lock), each
``kit demo`` in its own fresh directory, and ``kit status`` finds the runtime of its
data directory by itself."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from lc_helpers import KIT, PtyProcess, env_for, free_port, nats_servers

_PROBE = """
import asyncio, sys
from kit.bus import Bus

async def main():
    bus = await Bus.connect(sys.argv[1], connect_timeout=5)
    print("connected" if bus.nc.is_connected else "not connected")
    await bus.close()

asyncio.run(main())
"""


def _status(data_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        KIT + ["status", "--json"],
        env=env_for(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _data_lines(p: PtyProcess) -> int:
    return p.output.count(" DATA ")


def test_two_demos_side_by_side(tmp_path):
    base = tmp_path / "data"
    first = PtyProcess(KIT + ["demo", "--headless"], env_for(base))
    second = None
    try:
        first.wait_for("demo running")
        second = PtyProcess(KIT + ["demo", "--headless"], env_for(base))
        second.wait_for("demo running")
        dirs = {}
        for name, p in (("first", first), ("second", second)):
            m = re.search(r"data directory (\S+) ", p.output)
            assert m, p.output
            dirs[name] = m.group(1)
        assert dirs["first"] != dirs["second"]
        # The first demo keeps working after the second started: new data arrives.
        first.wait_for("\n", timeout=5)  # read what is buffered so far
        first.wait_for_count(" DATA ", _data_lines(first) + 3, timeout=60)
        # Each data directory's `kit status` finds its own runtime.
        for name, p in (("first", first), ("second", second)):
            r = _status(dirs[name])
            assert r.returncode == 0, r.stderr
            st = json.loads(r.stdout)
            assert st["pid"] == p.proc.pid and st["site"] == "demo"
            assert {c["status"] for c in st["components"]} == {"running"}, st["components"]
        # A tool bringing no credentials (the TUI) finds the second demo's in the parent
        # data directory, for that server only.
        url2 = re.search(r"bus (nats://\S+),", second.output).group(1)
        probe = subprocess.run(
            [sys.executable, "-c", _PROBE, url2],
            env=env_for(base),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert probe.returncode == 0 and "connected" in probe.stdout, probe.stderr
        # From the parent data directory the choice is ambiguous: say so, list both.
        r = _status(base)
        assert r.returncode == 5
        assert dirs["first"] in r.stderr and dirs["second"] in r.stderr
    finally:
        for p in (first, second):
            if p is not None and p.proc.poll() is None:
                p.ctrl_c()
    assert first.wait() == 0, first.output
    assert second is not None and second.wait() == 0, second.output
    assert nats_servers(base) == []


def test_single_demo_found_from_parent_data_dir(tmp_path):
    base = tmp_path / "data"
    demo = PtyProcess(KIT + ["demo", "--headless"], env_for(base))
    try:
        demo.wait_for("demo running")
        r = _status(base)
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["pid"] == demo.proc.pid
    finally:
        demo.ctrl_c()
    assert demo.wait() == 0, demo.output


def test_second_runtime_on_same_data_dir_refuses(tmp_path):
    data = tmp_path / "data"
    cfg = tmp_path / "kit.yaml"
    cfg.write_text(f"site: plant\nnats: {{port: {free_port()}}}\n")
    cfg2 = tmp_path / "kit2.yaml"
    cfg2.write_text(f"site: plant\nnats: {{port: {free_port()}}}\n")
    first = PtyProcess(KIT + ["--config", str(cfg), "up"], env_for(data))
    try:
        first.wait_for("kit runtime up")
        server = nats_servers(data)
        second = subprocess.run(
            KIT + ["--config", str(cfg2), "up"],
            env=env_for(data),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 8, second.stderr
        assert "in use by another kit runtime" in second.stderr
        assert f"pid {first.proc.pid}" in second.stderr
        assert "Traceback" not in second.stderr
        # The first one is untouched: same server, still answering.
        assert nats_servers(data) == server
        r = _status(data)
        assert r.returncode == 0 and json.loads(r.stdout)["pid"] == first.proc.pid
    finally:
        first.ctrl_c()
    assert first.wait() == 0, first.output
