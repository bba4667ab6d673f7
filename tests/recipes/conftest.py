"""Test-only plugin for the recipe engine tests: a TCP "probe" adapter with its own profile
format, an analytics component that publishes a KPI from a bound input, and one that
crashes on start. They are real components run by the real supervisor on a real
nats-server — test plugins, not mocks of the kit's infrastructure."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, ClassVar

import pytest
import pytest_asyncio
from pydantic import BaseModel, ConfigDict, Field

import kit
from kit.bindings import Binding
from kit.components import Adapter, Analytics
from kit.errors import AdapterError
from kit.payloads import Point
from kit.profiles import Profile


class ProbePoint(BaseModel):
    """One point a probe device serves."""

    model_config = ConfigDict(extra="forbid")
    semantic: str
    start: float = 0.0
    step: float = 0.0
    unit: str | None = None


class ProbeProfile(Profile):
    """Profile format of the probe protocol."""

    points: list[ProbePoint]


class ProbeConfig(BaseModel):
    """Connection settings of a probe device."""

    model_config = ConfigDict(extra="forbid")
    profile: str
    host: str
    port: int = Field(ge=1, le=65535)
    interval_s: float = Field(0.1, gt=0)
    password: str | None = None


class ProbeAdapter(Adapter):
    """Connects to a TCP port (the "device") and publishes the profile's points."""

    name: ClassVar[str] = "probe"
    protocol: ClassVar[str] = "probe"
    Profile: ClassVar[type] = ProbeProfile
    Config: ClassVar[type[BaseModel]] = ProbeConfig
    profiles: ClassVar[dict[str, ProbeProfile]] = {}

    @classmethod
    async def test_connection(cls, config: ProbeConfig) -> str:
        try:
            # 10 s like the engine's own bound: on a loaded CI box 2 s once ran out for a
            # listening port (a closed one is refused at once either way).
            _r, w = await asyncio.wait_for(asyncio.open_connection(config.host, config.port), 10)
        except (TimeoutError, OSError) as exc:
            raise AdapterError(
                f"cannot connect to {config.host}:{config.port}: {exc}; check the IP address "
                "and that the device is powered"
            ) from None
        w.close()
        return f"probe device {config.profile} at {config.host}:{config.port}"

    async def run(self) -> None:

        prof = ProbeAdapter.profiles[self.config.profile]
        n = 0
        while True:
            await self.ctx.publish_samples(
                [
                    Point(name=p.semantic, value=p.start + p.step * n, unit=p.unit)
                    for p in prof.points
                ]
            )
            n += 1
            await self.ctx.clock.sleep(self.config.interval_s)


class DoublerInputs(BaseModel):
    """Inputs of the doubler."""

    model_config = ConfigDict(extra="forbid")
    value: Binding


class DoublerConfig(BaseModel):
    """Publishes ``factor`` × its input as KPI ``doubled``."""

    model_config = ConfigDict(extra="forbid")
    inputs: DoublerInputs
    factor: float = Field(2.0, ge=0, le=10)


class Doubler(Analytics):
    """A tiny analytics component: KPI = factor × the bound input."""

    name: ClassVar[str] = "doubler"
    Config: ClassVar[type[BaseModel]] = DoublerConfig

    async def run(self) -> None:
        b = self.config.inputs.value.resolve(str(self.ctx.asset))
        from kit import subjects

        async def on(batch: Any) -> None:
            for p in batch.points:
                if p.name == b.point and p.quality.value == "good":
                    await self.ctx.publish_kpi("doubled", p.value * self.config.factor)

        await self.ctx.subscribe_samples(
            subjects.data_subject(subjects.AssetPath.parse(b.asset)), on
        )
        await asyncio.Event().wait()


class Crashy(Analytics):
    """Fails on start (to prove rollback)."""

    name: ClassVar[str] = "crashy"

    async def run(self) -> None:
        raise RuntimeError("cannot start: simulated plugin bug")


PROFILE = """\
id: probe-meter
vendor: Test
model: Probe meter
protocol: probe
source: {title: "test profile"}
points:
  - {semantic: power_active_total_w, start: 1000, step: 10, unit: W}
  - {semantic: energy_active_import_total_kwh, start: 5, step: 0.5, unit: kWh}
"""


class ProbePlugin:
    """Hook implementations registering the test components and a profile directory."""

    def __init__(self, profile_dir: Path) -> None:
        self.profile_dir = profile_dir

    @kit.hookimpl
    def register_components(self, register: Any) -> None:
        for cls in (ProbeAdapter, Doubler, Crashy):
            register.add(cls)

    @kit.hookimpl
    def register_resources(self, register: Any) -> None:
        register.profiles(self.profile_dir)


@pytest.fixture
def probe_host(tmp_path: Path, temp_plugin: Any) -> Any:
    """A plugin host with the installed plugins plus the probe test plugin and profile."""
    d = tmp_path / "probe-profiles"
    d.mkdir()
    (d / "probe-meter.yaml").write_text(PROFILE)
    from kit.profiles import load_profile

    host = temp_plugin(ProbePlugin(d), name="probe-test")
    ProbeAdapter.profiles["probe-meter"] = load_profile(d / "probe-meter.yaml", host)
    return host


@pytest_asyncio.fixture
async def device() -> Any:
    """A listening TCP port on 127.0.0.1 that stands for a reachable device."""

    async def _serve(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    server = await asyncio.start_server(_serve, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (bound then released)."""
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


RECIPE = """\
id: probe-energy
version: 1.0.0
title: Energy of a probe meter
summary: Test recipe.
kpi: {name: doubled, moves: up, evidence: a KPI on the bus}
parameters:
  meter_host: {type: host, prompt: "IP address of the meter"}
  meter_port: {type: port, prompt: "Port", default: 502}
  factor: {type: number, prompt: "Factor", default: 2, min: 0, max: 10}
  meter: {type: text, prompt: "Meter name", default: meter1}
assets:
  meter:
    adapter: probe
    profile: probe-meter
    path: "${site}/hall/line1/${meter}"
    requires: [power_active_total_w]
    connection: {host: "${meter_host}", port: "${meter_port}", interval_s: 0.05}
analytics:
  - plugin: doubler
    asset: meter
    inputs: {value: power_active_total_w}
    params: {factor: "${factor}"}
checks:
  - {check: range, asset: meter, point: power_active_total_w, min: 0, max: 1000000, unit: W}
  - {check: updates, asset: meter, every_s: 2}
  - {check: increases, asset: meter, point: energy_active_import_total_kwh}
  - {check: quality_good, asset: meter}
commissioning: {duration_s: 1}
"""


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    """The probe test recipe as a file."""
    p = tmp_path / "probe-energy.yaml"
    p.write_text(RECIPE)
    return p
