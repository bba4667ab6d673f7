"""Fixtures of the Modbus adapter tests: profiles, simulators and a running adapter on a real bus."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kit_modbus.plugin import ModbusAdapter, ModbusConfig
from kit_modbus.simulator import ModbusSimulator

import kit
from kit.codec import decode_batch
from kit.components import ComponentContext
from kit.plugins import get_plugin_manager
from kit.profiles import load_profile

HERE = Path(__file__).parent
TEST_PROFILE = HERE / "profiles" / "kit-test-device.yaml"


def _load_local(name: str) -> Any:
    """This directory's helper module ``name`` (tests import it by name; pytest's importlib
    mode does not put this directory on sys.path)."""
    import importlib.util
    import sys

    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, HERE / f"{name}.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod
        spec.loader.exec_module(mod)
    return sys.modules[name]


_load_local("meter_emulator")  # the independent meter emulator
_load_local("modbus_profile_helpers")  # write a profile, find its lines, collect problems


@pytest.fixture(scope="session")
def plugin_host():
    return get_plugin_manager()


@pytest.fixture(scope="session")
def host(plugin_host):
    """The plugin host under the short name the profile tests use."""
    return plugin_host


@pytest.fixture
def test_profile(plugin_host):
    return load_profile(TEST_PROFILE, plugin_host)


class Running:
    """An adapter instance running as a task, with the batches it published (decoded)."""

    def __init__(
        self, adapter: ModbusAdapter, task: asyncio.Task, batches: list, health: list
    ) -> None:
        self.adapter, self.task, self.batches, self.health = adapter, task, batches, health

    def values(self, index: int = -1) -> dict[str, Any]:
        return {p.name: p for p in self.batches[index].points}

    def latest(self) -> dict[str, Any]:
        """Latest point of each name over all batches (fast and slow batches differ)."""
        out: dict[str, Any] = {}
        for b in self.batches:
            for p in b.points:
                out[p.name] = p
        return out


@pytest_asyncio.fixture
async def run_adapter(bus):
    """``await run_adapter(config_dict, name=…, asset=…)`` → :class:`Running` (stopped at teardown)."""
    started: list[Running] = []

    async def _run(
        config: dict[str, Any], *, name: str = "dev1", asset: str = "test/area/line/dev1"
    ) -> Running:
        batches: list = []
        health: list = []
        subject = "kit.data." + asset.replace("/", ".")

        async def on_batch(msg):
            batches.append(decode_batch(msg.data))  # the contract's own decoder validates our JSON

        async def on_health(msg):
            import json

            health.append(json.loads(msg.data))

        await bus.nc.subscribe(subject, cb=on_batch)
        await bus.nc.subscribe(f"kit.health.{name}", cb=on_health)
        ctx = ComponentContext(
            name, bus, asset=asset, site="test", logger=logging.getLogger(f"test.{name}")
        )
        adapter = ModbusAdapter(ModbusConfig.model_validate(config), ctx)
        task = asyncio.create_task(adapter.run())
        r = Running(adapter, task, batches, health)
        started.append(r)
        return r

    yield _run
    for r in started:
        r.task.cancel()
        try:
            await r.task
        except (asyncio.CancelledError, Exception):
            pass


@pytest_asyncio.fixture
async def sim_factory():
    """``await sim_factory(profile, **options)`` → started ModbusSimulator (stopped at teardown)."""
    sims: list[ModbusSimulator] = []

    async def _make(profile, **options) -> ModbusSimulator:
        s = ModbusAdapter.simulator(profile, "127.0.0.1", 0, **options)
        await s.start()
        sims.append(s)
        return s

    yield _make
    for s in sims:
        await s.stop()


@pytest_asyncio.fixture
async def meter():
    """``await meter(**options)`` → started independent :class:`meter_emulator.MeterEmulator`."""
    emu_mod = _load_local("meter_emulator")
    emus: list = []

    async def _make(**options):
        e = emu_mod.MeterEmulator(**options)
        await e.start()
        emus.append(e)
        return e

    yield _make
    for e in emus:
        await e.stop()


class _SiteProfiles:
    """Test plugin: contributes a directory of profiles (as a site library would)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @kit.hookimpl
    def register_resources(self, register) -> None:
        register.profiles(self.path)


@pytest.fixture
def site_host(tmp_path, temp_plugin, monkeypatch):
    """A plugin host whose library holds the meter emulator's profile ``emu-em24`` (with
    identity registers), used by the runtime and, patched in, by the adapter."""
    emu_mod = _load_local("meter_emulator")
    d = tmp_path / "site-profiles"
    d.mkdir()
    (d / "emu-em24.yaml").write_text(emu_mod.profile_yaml(extra=emu_mod.IDENTITY_YAML))
    host = temp_plugin(_SiteProfiles(d))
    monkeypatch.setattr("kit.plugins.get_plugin_manager", lambda *a, **k: host)
    return host
