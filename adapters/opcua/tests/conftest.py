"""Shared fixtures of the OPC UA adapter tests: profiles, simulators, a bus collector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from kit import codec
from kit.payloads import SampleBatch
from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary
from kit_opcua.adapter import OpcuaAdapter
from kit_opcua.pki import Pki

ASSET = "test/area/line1/press1"


@pytest.fixture(scope="session")
def library() -> ProfileLibrary:
    """The installed profile library (shipped OPC UA profiles included)."""
    return ProfileLibrary(get_plugin_manager()).load()


class Collector:
    """Every sample batch published on ``kit.data.>``, in arrival order."""

    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []

    async def handler(self, batch: SampleBatch, _msg: Any) -> None:
        self.batches.append(batch)

    def points(self, name: str) -> list:
        """Every point called ``name`` with the batch's gateway timestamp attached."""
        return [(p, b) for b in self.batches for p in b.points if p.name == name]

    def good(self, name: str) -> list:
        return [p for p, _ in self.points(name) if p.quality.value == "good"]


@pytest_asyncio.fixture
async def collector(bus) -> Collector:
    """Collects sample batches from the test bus."""
    c = Collector()
    await bus.subscribe("kit.data.>", codec.decode_batch, c.handler)
    return c


@pytest_asyncio.fixture
async def sim_factory(library):
    """``await sim_factory(profile_id, **options)`` → started simulator (stopped at teardown)."""
    sims = []

    async def _make(profile_id: str = "siemens-s7-1500-db", **options: Any):
        sim = OpcuaAdapter.simulator(library.get(profile_id), **options)
        await sim.start()
        sims.append(sim)
        return sim

    yield _make
    for s in sims:
        await s.stop()


def trusting_pki(data_dir: Path, sim) -> Pki:
    """The kit's PKI under ``data_dir`` with the simulator's certificate already trusted."""
    pki = Pki(data_dir)
    pki.add_trusted(sim.certificate)
    return pki


@pytest.fixture
def asset() -> str:
    """The asset path adapters publish on in these tests."""
    return ASSET


@pytest.fixture
def start_adapter(bus, make_runtime, kit_settings):
    """``await start_adapter(sim, trust=True, **config)`` → (runtime, component) once connected.

    Depends on ``bus`` first so the NATS server outlives the runtime at teardown
    (``make_runtime`` alone does not depend on ``nats_server``)."""
    from kit.settings import ComponentSpec
    from kit.testing import wait_for

    async def _start(sim, trust: bool = True, wait_connected: bool = True, **config: Any):
        if trust:
            trusting_pki(kit_settings.data_dir, sim)
        rt = await make_runtime(kit_settings)
        cfg = {"profile": sim.profile.id, "endpoint": sim.url, "data_dir": str(kit_settings.data_dir)} | config
        await rt.add_component(ComponentSpec(name="plc1", type="opcua", asset=ASSET, config=cfg))
        inst = rt.supervisor.instances["plc1"]
        await wait_for(lambda: inst.component is not None, 10, message="component created")
        if wait_connected:
            await wait_for(lambda: inst.component.state == "connected", 15, message="adapter connected")
        return rt, inst.component

    return _start
