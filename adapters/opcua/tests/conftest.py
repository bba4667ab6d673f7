"""Shared fixtures of the OPC UA adapter tests: profiles, simulators, a bus collector."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from kit_opcua.adapter import OpcuaAdapter
from kit_opcua.pki import Pki

from kit import codec
from kit.payloads import SampleBatch
from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary

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
        cfg = {
            "profile": sim.profile.id,
            "endpoint": sim.url,
            "data_dir": str(kit_settings.data_dir),
        } | config
        await rt.add_component(ComponentSpec(name="plc1", type="opcua", asset=ASSET, config=cfg))
        inst = rt.supervisor.instances["plc1"]
        await wait_for(lambda: inst.component is not None, 10, message="component created")
        if wait_connected:
            await wait_for(
                lambda: inst.component.state == "connected", 15, message="adapter connected"
            )
        return rt, inst.component

    return _start


REPO = Path(__file__).resolve().parents[3]
NODE_SERVER = Path(__file__).with_name("node_opcua_server.js")


def start_node_opcua(pki_dir: Path, bench: int = 0, interval_ms: int = 100, timeout: float = 120.0):
    """Start the node-opcua interop server; returns (process, url). Installed by `npm ci` in tests/interop.

    Raises:
        RuntimeError: node or node-opcua missing, or the server did not report READY.
    """
    import os
    import select
    import shutil
    import subprocess
    import time

    from kit_opcua.simulator import free_port

    from kit.testing_tools import interop_modules

    try:  # `uv run pytest` on a fresh clone: npm ci from the lock file on first use
        modules = interop_modules("node-opcua")
    except AssertionError as exc:
        raise RuntimeError(str(exc)) from None
    node = shutil.which("node")
    port = free_port("127.0.0.1")
    proc = subprocess.Popen(
        [
            node,
            str(NODE_SERVER),
            "--port",
            str(port),
            "--pki",
            str(pki_dir),
            "--bench",
            str(bench),
            "--interval",
            str(interval_ms),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "NODE_PATH": str(modules)},
        text=True,
    )
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        # Wait for the server's own READY line (an event), not for a fixed time.
        ready, _, _ = select.select([proc.stdout], [], [], 1.0)
        if ready:
            line = proc.stdout.readline()
            if line.startswith("READY"):
                return proc, f"opc.tcp://127.0.0.1:{port}"
            if not line and proc.poll() is not None:
                break
    proc.kill()
    raise RuntimeError(f"node-opcua server did not start (exit {proc.poll()})")


@pytest.fixture(scope="module")
def node_opcua(tmp_path_factory):
    """A node-opcua server with known variables, shared by a test module."""
    proc, url = start_node_opcua(tmp_path_factory.mktemp("node-pki"))
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except Exception:
        proc.kill()


INTEROP_PROFILE = """
id: node-opcua-interop
vendor: node-opcua
model: interop server
protocol: opcua
source: {title: adapters/opcua/tests/node_opcua_server.js}
namespaces:
  n: urn:kit-interop:node-opcua
defaults: {publishing_interval_ms: 100, sampling_interval_ms: 50}
points:
  - {name: x_constant_value, node: 'n;s=Constant', type: Double, unit: W}
  - {name: x_device_name, node: 'nsu=urn:kit-interop:node-opcua;s=Name', type: String}
  - {name: machine_running, browse_path: ['n:Interop', 'n:Flag'], type: Boolean}
  - {name: count_good, node: 'n;s=Counter', type: UInt32}
  - {name: x_stamped_value, node: 'n;s=Stamped', type: Double}
  - {name: x_broken_value, node: 'n;s=Broken', type: Double}
"""


@pytest.fixture
def interop_profile(tmp_path) -> Path:
    """The profile file describing the node-opcua server's variables."""
    f = tmp_path / "node-opcua-interop.yaml"
    f.write_text(INTEROP_PROFILE)
    return f
