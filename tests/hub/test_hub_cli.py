"""``kit hub config``/``up``/``add-site`` and ``kit fleet status`` end to end (real processes)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest
from click.testing import CliRunner

from kit.cli import cli
from kit.hub.config import HubState
from kit.natsserver import server_binary


def test_config_three_nodes_is_valid_for_nats_server(tmp_path: Path):
    d = tmp_path / "hub"
    r = CliRunner().invoke(cli, ["hub", "config", "--dir", str(d), "--nodes", "3"])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["hub", "add-site", "plant-a", "--dir", str(d)])
    assert r.exit_code == 0, r.output
    state = HubState.load(d)
    assert state.nodes == 3 and list(state.sites) == ["plant-a"]
    for i in (1, 2, 3):
        conf = d / f"hub-{i}" / "nats.conf"
        assert oct(conf.stat().st_mode & 0o777) == "0o600"
        text = conf.read_text()
        # The server itself accepts the file (syntax, permissions block, cluster, leafnodes).
        check = subprocess.run(
            [str(server_binary()), "-c", str(conf), "-t"], capture_output=True, text=True
        )
        assert check.returncode == 0, check.stderr
        assert "domain: hub" in text
        routes = [f"nats-route://127.0.0.1:{6300 + j}" for j in range(3) if j != i - 1]
        assert json.dumps(routes) in text
        assert '"kit.kpi.plant-a.>"' in text and "kit.kpi.plant-b" not in text
    creds = json.loads((d / "sites" / "plant-a.json").read_text())
    assert creds["user"] == "site-plant-a"
    assert creds["urls"] == [f"nats-leaf://127.0.0.1:{7422 + i}" for i in range(3)]


def test_config_rejects_reserved_and_bad_site_ids(tmp_path: Path):
    d = tmp_path / "hub"
    CliRunner().invoke(cli, ["hub", "config", "--dir", str(d)])
    for bad, why in (("hub", "reserved"), ("Plant A", "a-z")):
        r = CliRunner().invoke(cli, ["hub", "add-site", bad, "--dir", str(d)])
        assert r.exit_code != 0 and why in r.output, r.output
    assert HubState.load(d).sites == {}


@pytest.fixture
def hub_process(tmp_path: Path):
    d = tmp_path / "hub"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "kit",
            "hub",
            "up",
            "--dir",
            str(d),
            "--client-port",
            "0",
            "--leaf-port",
            "0",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:  # blocks until the hub prints its ready line (or exits)
        lines.append(line)
        if line.startswith("hub up:"):
            break
    else:
        raise AssertionError("kit hub up exited:\n" + "".join(lines))
    yield d
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)


def test_up_add_site_and_fleet_status(hub_process: Path):
    d = hub_process
    r = CliRunner().invoke(cli, ["hub", "add-site", "plant-a", "--dir", str(d)])
    assert r.exit_code == 0, r.output
    assert "reloaded 1 running node(s)" in r.output
    state = HubState.load(d)
    pw = state.sites["plant-a"].password

    # The running node re-read its config: the new site's user is accepted (SIGHUP is
    # asynchronous, so wait for the observable effect).
    import asyncio

    async def connects() -> bool:
        try:
            nc = await nats.connect(
                f"nats://site-plant-a:{pw}@127.0.0.1:{state.client_ports[0]}",
                allow_reconnect=False,
                connect_timeout=2,
            )
        except Exception:
            return False
        await nc.close()
        return True

    deadline = time.monotonic() + 20
    while not asyncio.run(connects()):  # polling the observable effect, like wait_for
        assert time.monotonic() < deadline, "site user never accepted after add-site"
        time.sleep(0.02)

    r = CliRunner().invoke(cli, ["fleet", "status", "--dir", str(d), "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert {(x["site"], x["stream"], x["hub_stream"]) for x in rows} == {
        ("plant-a", "KIT_KPI", "FLEET_KPI"),
        ("plant-a", "KIT_EVENTS", "FLEET_EVENTS"),
    }
    assert all(not x["site_reachable"] for x in rows)  # no site connected yet
    r = CliRunner().invoke(cli, ["fleet", "status", "--dir", str(d)])
    assert "plant-a" in r.output and "site not reachable" in r.output


def test_fleet_view_and_rollout_status_cli(hub_process: Path):
    d = hub_process
    r = CliRunner().invoke(cli, ["hub", "add-site", "plant-v", "--dir", str(d)])
    assert r.exit_code == 0, r.output
    # No rollout yet: a clear error, not a traceback.
    r = CliRunner().invoke(cli, ["fleet", "rollout", "status", "--dir", str(d)])
    assert r.exit_code == 2 and "no rollouts on this hub yet" in r.output
    # Offering to a site that is not connected: it shows as not reachable, per site.
    bundle = d / "empty.kitbundle"
    bundle.write_bytes(b"not even a zip")
    r = CliRunner().invoke(
        cli, ["fleet", "rollout", str(bundle), "--sites", "plant-v", "--dir", str(d), "--json"]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert [(s["site"], s["state"]) for s in out["sites"]] == [("plant-v", "not reachable")]
    r = CliRunner().invoke(cli, ["fleet", "rollout", "status", out["rollout"], "--dir", str(d)])
    assert r.exit_code == 1 and "plant-v" in r.output and "not reachable" in r.output
    # The fleet view lists the site (it has not reported yet).
    r = CliRunner().invoke(cli, ["fleet", "--dir", str(d), "--hours", "1"])
    assert r.exit_code == 0, r.output
    assert "plant-v" in r.output and "never" in r.output and "KPIS PER SHIFT" in r.output


def test_an_unreachable_hub_fails_after_one_try(caplog):
    """nats-py retried a refused first connect 60 times 2 s apart even without reconnects:
    `kit fleet status` with a wrong hub address took 3.5 minutes to fail, logging a traceback
    every 2 s. Now each server of the list gets one try (kit.busconnect.connect_bounded)."""
    import logging
    import socket

    caplog.set_level(logging.DEBUG, logger="nats")
    closed = socket.socket()  # bound, never listening: connections to it are refused
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    try:
        r = CliRunner().invoke(cli, ["fleet", "status", "--url", f"nats://127.0.0.1:{port}"])
    finally:
        closed.close()
    assert r.exit_code == 4, r.output
    assert f"cannot reach the hub at nats://127.0.0.1:{port}" in r.output
    assert "refused" in r.output or "Connect call failed" in r.output
    retries = [rec for rec in caplog.records if rec.name.startswith("nats")]
    assert retries == [], f"{len(retries)} connection errors logged by nats-py"
