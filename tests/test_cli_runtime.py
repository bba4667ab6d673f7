"""The runtime as a user runs it: `kit up`, `kit status`, Ctrl-C, kill -9, `kit demo`."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kit.errors import BusError
from kit.natsserver import EmbeddedNats, server_binary
from kit.settings import NatsSettings

KIT = [sys.executable, "-m", "kit"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(data_dir: Path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update({"KIT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


def start_up(env: dict, config: Path | None = None) -> subprocess.Popen:
    args = KIT + (["--config", str(config)] if config else []) + ["up"]
    return subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_line(proc: subprocess.Popen, needle: str, timeout: float = 60) -> str:
    """Read the process's stdout until a line containing ``needle`` (or fail)."""
    deadline = time.monotonic() + timeout
    lines = []
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(
                f"process exited ({proc.wait()}) before {needle!r}: {lines} {proc.stderr.read()}"
            )
        lines.append(line)
        if needle in line:
            return line
    raise AssertionError(f"no {needle!r} within {timeout} s: {lines}")


def nats_children(data_dir: Path) -> list[int]:
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "nats-server" in cmd and str(data_dir) in cmd:
                out.append(int(p.name))
    return out


@pytest.fixture
def site(tmp_path):
    data = tmp_path / "data"
    cfg = tmp_path / "kit.yaml"
    cfg.write_text(f"""
site: plant
nats:
  port: {free_port()}
components:
  - name: press-1
    type: synthetic
    asset: plant/assembly/line1/press1
    config: {{interval_s: 0.2}}
""")
    return data, cfg


def test_up_status_ctrl_c(site):
    data, cfg = site
    env = env_for(data)
    proc = start_up(env, cfg)
    try:
        wait_line(proc, "kit runtime up")
        r = subprocess.run(
            KIT + ["status", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
        st = json.loads(r.stdout)
        assert st["site"] == "plant" and st["bus"]["embedded"] and st["bus"]["connected"]
        # History by default: the site historian runs next to what the site configured.
        assert [(c["name"], c["status"]) for c in st["components"]] == [
            ("press-1", "running"),
            ("history", "running"),
        ]
        human = subprocess.run(
            KIT + ["status"], env=env, capture_output=True, text=True, timeout=60
        )
        assert "press-1" in human.stdout and "running" in human.stdout
        tail = subprocess.run(
            KIT + ["bus", "tail", "kit.data.>", "--count", "2", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        msgs = [json.loads(line) for line in tail.stdout.splitlines()]
        assert len(msgs) == 2 and all(
            m["subject"] == "kit.data.plant.assembly.line1.press1" for m in msgs
        )
    finally:
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    assert rc == 0
    assert nats_children(data) == []
    assert not (data / "runtime.json").exists()


def test_status_without_runtime_exits_5(tmp_path):
    r = subprocess.run(
        KIT + ["status"],
        env=env_for(tmp_path / "empty"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 5
    assert "no kit runtime is running" in r.stderr and "kit up" in r.stderr
    assert "Traceback" not in r.stderr


def test_next_start_is_clean_after_kill_9(site):
    data, cfg = site
    env = env_for(data)
    proc = start_up(env, cfg)
    wait_line(proc, "kit runtime up")
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    proc2 = start_up(env, cfg)
    try:
        wait_line(proc2, "kit runtime up")
        r = subprocess.run(
            KIT + ["status", "--json"], env=env, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0 and json.loads(r.stdout)["pid"] == proc2.pid
    finally:
        proc2.send_signal(signal.SIGTERM)
        assert proc2.wait(timeout=30) == 0
    assert nats_children(data) == []


async def test_leftover_server_is_detected_and_replaced(tmp_path):
    """A nats-server that outlived its runtime (no parent-death signal) is stopped on the next start."""
    port = free_port()
    first = EmbeddedNats(NatsSettings(port=port), tmp_path)
    conf = first.write_config()
    orphan = subprocess.Popen(
        [str(server_binary()), "-c", str(conf)], stderr=subprocess.PIPE, text=True
    )
    try:
        # The orphan owns the port and has written its pid file once it logs "Server is ready".
        for line in orphan.stderr:
            if "Server is ready" in line:
                break
        assert first.pid_file.read_text().strip() == str(orphan.pid)
        second = EmbeddedNats(NatsSettings(port=port), tmp_path)
        url = await second.start()
        try:
            assert orphan.wait(timeout=10) is not None  # the leftover was stopped
            assert url.endswith(f":{port}")
        finally:
            await second.stop()
    finally:
        if orphan.poll() is None:
            orphan.kill()


async def test_port_taken_names_port_and_setting(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        server = EmbeddedNats(NatsSettings(port=port), tmp_path)
        with pytest.raises(BusError) as e:
            await server.start()
    assert (
        f"port {port}" in str(e.value)
        and "nats.port" in str(e.value)
        and "KIT_NATS__PORT" in str(e.value)
    )


def test_demo_headless_prints_values_and_cleans_up(tmp_path):
    env = env_for(tmp_path / "d")
    r = subprocess.run(
        KIT + ["demo", "--headless", "--duration", "12"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    out = r.stdout
    for recipe in ("oee-machine", "energy-per-shift", "condition-motor"):
        assert f"installed {recipe}" in out
    data_assets = {line.split()[2] for line in out.splitlines() if " DATA " in line}
    assert {
        "demo/assembly/line1/press1",
        "demo/assembly/line1/press1_feed",
        "demo/utilities/cooling/pump2",
    } <= data_assets
    kpis = {line.split()[3] for line in out.splitlines() if " KPI " in line}
    assert "oee" in kpis and "availability" in kpis
    assert nats_children(tmp_path / "d") == []


def test_config_error_exit_code_2(tmp_path):
    cfg = tmp_path / "kit.yaml"
    cfg.write_text("components:\n  - name: x\n    type: synthetic\n    config: {interval_s: -1}\n")
    r = subprocess.run(
        KIT + ["--config", str(cfg), "up"],
        env=env_for(tmp_path / "d"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2
    assert "interval_s: Input should be greater than 0" in r.stderr
    assert f"{cfg}:4" in r.stderr
    assert "Traceback" not in r.stderr
