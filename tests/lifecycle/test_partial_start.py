"""A start that fails half-way leaves nothing behind (issue 18.6): no nats-server process,
no open connection, no runtime task, no runtime.json, and the data directory is free."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from lc_helpers import nats_servers

from kit.recipes import engine as recipes_engine
from kit.runtime import Runtime
from kit.settings import ComponentSpec, NatsSettings, Settings


async def _restore_fails(runtime: Any) -> None:
    """The last step of start (re-creating recorded deployments) fails, after the server,
    the bus, the control API and the components are up. (A plugin's ``runtime_started``
    hook no longer serves: the plugin host isolates a failing plugin and goes on.)"""
    raise RuntimeError("plugin start failed")


async def test_failed_start_stops_server_and_closes_bus(tmp_path, monkeypatch):
    data = tmp_path / "data"
    settings = Settings(
        site="t",
        data_dir=data,
        nats=NatsSettings(port=0),
        components=[
            ComponentSpec(name="m", type="synthetic", asset="t/a/l/m", config={"interval_s": 0.05})
        ],
    )
    rt = Runtime(settings)
    with monkeypatch.context() as m:
        m.setattr(recipes_engine, "restore_deployments", _restore_fails)
        with pytest.raises(RuntimeError, match="plugin start failed"):
            await rt.start()
    assert nats_servers(data) == []
    assert rt.bus is not None and rt.bus.nc.is_closed
    assert not (data / "runtime.json").exists()
    pending = [
        t
        for t in asyncio.all_tasks()
        if not t.done() and t.get_name().startswith(("runtime:", "component:"))
    ]
    assert pending == []
    # The data directory is free again: a new runtime starts on it.
    again = Runtime(settings)
    await again.start()
    try:
        assert len(nats_servers(data)) == 1
    finally:
        await again.stop()
    assert nats_servers(data) == []


async def test_stop_leaves_no_pending_task(tmp_path):
    """Fire-and-forget tasks (heartbeat, server watch, last-value flushes) are kept and
    cancelled on stop."""
    data = tmp_path / "data"
    settings = Settings(
        site="t",
        data_dir=data,
        nats=NatsSettings(port=0),
        components=[
            ComponentSpec(name="m", type="synthetic", asset="t/a/l/m", config={"interval_s": 0.01})
        ],
    )
    rt = Runtime(settings)
    before = asyncio.all_tasks()
    await rt.start()
    inst = rt.supervisor.instances["m"]
    from kit.testing import wait_for

    await wait_for(lambda: inst.component is not None and inst.component.batches > 20)
    await rt.stop()
    left = [t for t in asyncio.all_tasks() - before if not t.done()]
    left = [t for t in left if t is not asyncio.current_task()]
    assert left == [], [t.get_name() for t in left]
