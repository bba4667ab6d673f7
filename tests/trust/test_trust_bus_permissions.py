"""Least privilege on the bus: the embedded server enforces each component's manifest."""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar

import nats
import pytest

import kit
from kit.components import Source
from kit.payloads import Point
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings
from kit.testing import wait_for
from kit.trust.busauth import client_options

MANIFEST = {
    "name": "kit-rogue",
    "version": "1.0.0",
    "vendor": "test",
    "contact": "test@example.org",
    "kinds": ["source"],
    "components": ["rogue"],
    "publishes": ["kit.data.>"],
    "subscribes": [],
}


class Rogue(Source):
    """Publishes its declared data, then a KPI it never declared."""

    name: ClassVar[str] = "rogue"
    done: ClassVar[asyncio.Event]

    async def run(self) -> None:
        await self.ctx.publish_samples([Point(name="x", value=1.0)])
        await self.ctx.publish_kpi("stolen", 42.0)  # not in the manifest
        await self.ctx.bus.publish_core("kit.control.components.restart", b"{}")  # nor this
        await self.ctx.bus.flush()
        await asyncio.Event().wait()


class RoguePlugin:
    kit_manifest = MANIFEST

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(Rogue)


def _settings(tmp_path) -> Settings:
    return Settings(
        site="t",
        data_dir=tmp_path / "data",
        nats=NatsSettings(port=0),
        supervisor=SupervisorSettings(backoff_initial_s=0.05, heartbeat_s=0.5),
        components=[ComponentSpec(name="rogue-1", type="rogue", asset="t/a/l/m1")],
    )


async def test_publish_outside_manifest_is_denied_by_the_server(
    tmp_path, make_runtime, temp_plugin
):
    settings = _settings(tmp_path)
    # An observer with the admin role sees everything that really reaches the server.
    rt = await make_runtime(
        settings, host=temp_plugin(RoguePlugin(), name="rogue", load_entrypoints=False)
    )
    seen: list[str] = []
    nc = await nats.connect(rt.url, **client_options(settings.data_dir, "admin"))
    try:

        async def on_msg(m) -> None:
            seen.append(m.subject)

        await nc.subscribe(">", cb=on_msg)
        await nc.flush()
        cb = rt.component_buses
        await wait_for(
            lambda: (
                {"kit.kpi.t.a.l.m1.stolen", "kit.control.components.restart"}
                <= cb.violation_subjects.get("rogue-1", set())
            ),
            timeout=10,
            message=f"both denials reported {cb.violation_subjects} {cb.violations} {rt.supervisor.instances}",
        )
        # The declared publish went through on the component's own connection ...
        stream = await rt.bus.js.stream_info("KIT_DATA")
        assert stream.state.messages == 1
        kpi = await rt.bus.js.stream_info("KIT_KPI")
        assert kpi.state.messages == 0  # ... the undeclared one never reached the stream
        await nc.flush()
        assert not [s for s in seen if s.startswith("kit.kpi.")]
    finally:
        await nc.close()


async def test_roles_limit_control_api(tmp_path, make_runtime, temp_plugin):
    settings = Settings(site="t", data_dir=tmp_path / "data", nats=NatsSettings(port=0))
    rt = await make_runtime(settings, host=temp_plugin(load_entrypoints=False))
    errors: list[str] = []

    async def on_err(e: Exception) -> None:
        errors.append(str(e))

    viewer = await nats.connect(
        rt.url, error_cb=on_err, **client_options(settings.data_dir, "viewer")
    )
    try:
        reply = await viewer.request("kit.control.status", b"", timeout=5)
        assert json.loads(reply.data)["ok"] is True
        with pytest.raises((nats.errors.TimeoutError, nats.errors.NoRespondersError)):
            await viewer.request("kit.control.components.restart", b'{"name": "x"}', timeout=1)
        await wait_for(
            lambda: any("permissions violation" in e.lower() for e in errors),
            message="violation reported",
        )
    finally:
        await viewer.close()
    # Without credentials nobody gets in.
    with pytest.raises(Exception):
        await nats.connect(
            rt.url, connect_timeout=1, max_reconnect_attempts=0, allow_reconnect=False
        )


class Good(Source):
    """Publishes only what it declares."""

    name: ClassVar[str] = "good-src"

    async def run(self) -> None:
        while True:
            await self.ctx.publish_samples([Point(name="x", value=2.0)])
            await self.ctx.save_state({"n": 1})  # its own KV keys are allowed
            await self.ctx.clock.sleep(0.05)


class GoodPlugin:
    kit_manifest = {**MANIFEST, "name": "kit-good", "components": ["good-src"]}

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(Good)


async def test_component_added_later_gets_its_own_user_by_reload(
    tmp_path, make_runtime, temp_plugin
):
    settings = Settings(site="t", data_dir=tmp_path / "data", nats=NatsSettings(port=0))
    rt = await make_runtime(
        settings, host=temp_plugin(GoodPlugin(), name="good", load_entrypoints=False)
    )
    await rt.add_component(ComponentSpec(name="late-1", type="good-src", asset="t/a/l/m2"))
    bus = rt.component_buses.buses["late-1"]
    assert bus is not rt.bus and bus.nc.is_connected
    await wait_for(lambda: rt.supervisor.instances["late-1"].component is not None)

    async def stored() -> bool:
        return (await rt.bus.js.stream_info("KIT_DATA")).state.messages >= 3

    await wait_for(stored, message="three batches stored")
    state = await rt.supervisor.instances["late-1"].context.load_state()
    assert state == {"n": 1}
    assert rt.component_buses.violations["late-1"] == 0


async def test_tools_without_credentials_get_the_local_ones_only_for_that_server(
    tmp_path, make_runtime, temp_plugin, nats_server
):
    from kit.bus import Bus
    from kit.trust.busauth import default_client_options

    settings = Settings(site="t", data_dir=tmp_path / "data", nats=NatsSettings(port=0))
    rt = await make_runtime(settings, host=temp_plugin(load_entrypoints=False))
    tool = await Bus.connect(rt.url, name="a-tool")  # e.g. the TUI: no credentials passed
    try:
        reply = await tool.request_json("kit.control.status")
        assert reply["ok"] and reply["result"]["site"] == "t"
    finally:
        await tool.close()
    # Nothing is offered to another server, nor when the caller brings its own credentials.
    assert default_client_options(nats_server.url, {}) == {}
    assert default_client_options(rt.url, {"user": "viewer", "password": "x"}) == {}


class Reader(Source):
    """Catches up on the KIT_DATA stream with a durable pull consumer (like a historian)."""

    name: ClassVar[str] = "reader"
    got: ClassVar[list] = []

    async def run(self) -> None:
        psub = await self.ctx.bus.js.pull_subscribe(
            "kit.data.>", durable=f"rd-{self.ctx.name}", stream="KIT_DATA"
        )
        while True:
            try:
                msgs = await psub.fetch(10, timeout=0.5)
            except Exception:  # nats TimeoutError: nothing new yet
                continue
            for m in msgs:
                Reader.got.append(m.subject)
                await m.ack()


class ReaderPlugin:
    kit_manifest = {
        **MANIFEST,
        "name": "kit-reader",
        "kinds": ["source"],
        "components": ["reader"],
        "publishes": [],
        "subscribes": ["kit.data.>"],
    }

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(Reader)


async def test_stream_consumer_allowed_for_declared_subscriptions(
    tmp_path, make_runtime, temp_plugin
):
    Reader.got = []
    settings = Settings(
        site="t",
        data_dir=tmp_path / "data",
        nats=NatsSettings(port=0),
        components=[ComponentSpec(name="rd", type="reader")],
    )
    rt = await make_runtime(
        settings, host=temp_plugin(ReaderPlugin(), name="reader", load_entrypoints=False)
    )
    for i in range(3):
        await rt.bus.js.publish(f"kit.data.t.a.l.m{i}", b"{}")
    await wait_for(lambda: len(Reader.got) == 3, message="three stream messages read")
    assert rt.component_buses.violations["rd"] == 0
    assert not rt.supervisor.instances["rd"].last_error
