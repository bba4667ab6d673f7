"""A bad ``--url`` fails within the connect timeout with the reason and exit 4 (issue 12.6).

Before, nats-py retried the first connect forever: ``kit status --url`` printed nothing for
minutes and the TUI showed "connecting" forever.
"""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from lc_helpers import KIT, env_for, free_port

from kit.bus import Bus
from kit.errors import BusError
from kit.natsserver import EmbeddedNats
from kit.settings import NatsSettings
from kit.trust.busauth import BusAuth


@pytest.fixture
async def auth_server(tmp_path):
    """A real embedded server with authentication (the runtime's users)."""
    auth = BusAuth.load_or_create(tmp_path / "server")
    server = EmbeddedNats(NatsSettings(port=0), tmp_path / "server", auth_lines=auth.conf_lines())
    url = await server.start()
    yield url, auth
    await server.stop()


def _status(url: str, data_dir) -> subprocess.CompletedProcess:
    return subprocess.run(
        KIT + ["status", "--url", url],
        env=env_for(data_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_refused_exits_4_with_reason(tmp_path):
    r = _status(f"nats://127.0.0.1:{free_port()}", tmp_path / "empty")
    assert r.returncode == 4, r.stderr
    assert "connection refused" in r.stderr and "kit up" in r.stderr
    assert "Traceback" not in r.stderr


async def test_no_password_exits_4_with_reason(auth_server, tmp_path):
    url, _auth = auth_server
    r = await asyncio.to_thread(_status, url, tmp_path / "empty")  # no credentials there
    assert r.returncode == 4, r.stderr
    assert "authorization violation" in r.stderr and "KIT_DATA_DIR" in r.stderr
    assert "Traceback" not in r.stderr


async def test_wrong_password_exits_4_with_reason(auth_server, tmp_path):
    url, _auth = auth_server
    wrong = url.replace("nats://", "nats://admin:not-the-password@")
    r = await asyncio.to_thread(_status, wrong, tmp_path / "empty")
    assert r.returncode == 4, r.stderr
    assert "authorization violation" in r.stderr
    assert "Traceback" not in r.stderr


async def test_right_password_still_connects(auth_server):
    url, auth = auth_server
    bus = await Bus.connect(url, **auth.connect_options("admin"), connect_timeout=2)
    try:
        assert bus.nc.is_connected
    finally:
        await bus.close()


async def test_bus_connect_reason_for_the_tui(auth_server):
    """The TUI's link shows the BusError text: the same reason as the CLI."""
    url, _auth = auth_server
    with pytest.raises(BusError, match="authorization violation"):
        await Bus.connect(url, user="viewer", password="wrong", connect_timeout=2)


async def test_wrong_password_is_not_echoed(auth_server):
    url, _auth = auth_server
    with pytest.raises(BusError) as e:
        await Bus.connect(url.replace("nats://", "nats://admin:s3cret@"), connect_timeout=2)
    assert "s3cret" not in str(e.value) and "admin:***@" in str(e.value)


async def test_tui_link_shows_the_reason():
    """The TUI's link reports the refusal (it showed "connecting" forever)."""
    from kit_tui.data.link import RuntimeLink

    link = RuntimeLink(f"nats://127.0.0.1:{free_port()}", retry_initial_s=0.05)
    states = []
    seen = asyncio.Event()

    def on_state(s) -> None:
        states.append(s)
        if s.state == "disconnected":
            seen.set()

    task = asyncio.create_task(link.run(on_state))
    try:
        await asyncio.wait_for(seen.wait(), 60)
    finally:
        task.cancel()
    down = [s for s in states if s.state == "disconnected"][0]
    assert "connection refused" in down.detail and "retrying" in down.detail
