"""Guarded device writes: allow-list, bounds, rate limit, confirmation, audit, encoding.

The Modbus adapter is built on another branch; this test uses a small writing adapter whose
"device" is a register bank and whose codec encodes float32 big-endian into two registers
(the Modbus convention). The expected registers are computed independently with ``struct``.
"""

from __future__ import annotations

import asyncio
import json
import struct
from typing import Any, ClassVar

import pytest
from pydantic import BaseModel, ConfigDict

import kit
import kit.trust.plugin
from kit.bus import KV_DEPLOYMENTS
from kit.components import Adapter
from kit.control import ControlClient
from kit.errors import KitError
from kit.plugins import get_plugin_manager
from kit.settings import ComponentSpec
from kit.testing import wait_for

REGISTERS: dict[str, list[int]] = {}
ADDRESS = {"speed_setpoint": 100}


def encode_f32(value: float) -> list[int]:
    """The adapter's codec (what reads decode, writes encode)."""
    raw = struct.pack(">f", float(value))
    return [int.from_bytes(raw[0:2], "big"), int.from_bytes(raw[2:4], "big")]


class RecConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str = "plc"


class RecordingAdapter(Adapter):
    name: ClassVar[str] = "rec-adapter"
    can_write: ClassVar[bool] = True
    Config: ClassVar[type[BaseModel]] = RecConfig

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def write(self, point: str, value: Any) -> None:
        REGISTERS.setdefault(self.config.device, [0] * 256)
        regs = REGISTERS[self.config.device]
        addr = ADDRESS[point]
        regs[addr : addr + 2] = encode_f32(value)


class RecPlugin:
    kit_manifest = {
        "name": "kit-rec",
        "version": "1.0.0",
        "vendor": "test",
        "contact": "t@example.org",
        "kinds": ["adapter"],
        "components": ["rec-adapter"],
        "publishes": ["kit.data.>"],
        "device_writes": True,
    }

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(RecordingAdapter)


ASSET = "test/area/line1/press1"
RULE = {"asset": ASSET, "point": "speed_setpoint", "min": 0, "max": 100, "max_per_minute": 2}


@pytest.fixture
async def setup(kit_settings, make_runtime):
    REGISTERS.clear()
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(
                    name="plc-1", type="rec-adapter", asset=ASSET, config={"device": "plc"}
                )
            ]
        }
    )
    host = get_plugin_manager(
        load_entrypoints=False, extra=[("kit-trust", kit.trust.plugin), ("rec", RecPlugin())]
    )
    rt = await make_runtime(settings, host=host)
    kv = await rt.bus.kv(KV_DEPLOYMENTS)
    await kv.put("press1-speed", json.dumps({"recipe": "speed-control", "writes": [RULE]}).encode())
    await kv.put(
        "other", json.dumps({"recipe": "oee", "params": {}}).encode()
    )  # declares no writes
    await kv.put("junk", b"not json")  # a broken record allows nothing and breaks nothing
    audits: list[dict] = []

    async def on_audit(msg) -> None:
        audits.append(json.loads(msg.data))

    await rt.bus.nc.subscribe("kit.event.audit.>", cb=on_audit)
    await rt.bus.nc.flush()
    await wait_for(
        lambda: "plc-1" in rt.supervisor.instances and rt.supervisor.instances["plc-1"].component
    )
    return rt, ControlClient(rt.bus), audits


def _check_cr28(ev: dict) -> None:
    for f in ("ts", "source", "category", "type", "id", "result"):
        assert ev.get(f), f"audit record lacks CR 2.8 field {f}: {ev}"


async def test_write_outside_allow_list_or_bounds_is_refused_and_audited(setup):
    rt, api, audits = setup
    with pytest.raises(KitError, match="above the maximum"):
        await api.call(
            "writes.request",
            {"asset": ASSET, "point": "speed_setpoint", "value": 150.0, "who": "alice"},
        )
    with pytest.raises(KitError, match="allow-list"):
        await api.call(
            "writes.request", {"asset": ASSET, "point": "mode", "value": 1, "who": "alice"}
        )
    with pytest.raises(KitError, match="not a finite number"):
        await api.call(
            "writes.request",
            {"asset": ASSET, "point": "speed_setpoint", "value": "fast", "who": "bob"},
        )
    await wait_for(lambda: len(audits) >= 3, message="three audit records")
    refused = [a for a in audits if a["type"] == "write_refused"]
    assert len(refused) == 3
    for ev in refused:
        _check_cr28(ev)
        assert ev["result"] == "refused" and ev["category"] == "access_control"
    # source: the authenticated caller (this client uses the runtime's own connection, which
    # reaches the admin-only plain subject); the body's "who" is kept as the claimed operator.
    assert {ev["source"] for ev in refused} == {"admin"}
    assert {ev["data"]["operator"] for ev in refused} == {"alice", "bob"}
    assert REGISTERS == {}  # nothing reached the device
    # The records are in the KIT_EVENTS stream, not only on the wire.
    info = await rt.bus.js.stream_info("KIT_EVENTS")
    assert info.state.messages == 3


async def test_accepted_write_reaches_device_with_right_encoding(setup):
    rt, api, audits = setup
    value = 42.5
    req = await api.call(
        "writes.request",
        {"asset": ASSET, "point": "speed_setpoint", "value": value, "who": "alice"},
    )
    assert REGISTERS == {}  # not before confirmation
    res = await api.call("writes.confirm", {"request_id": req["request_id"], "who": "alice"})
    assert res["executed"] is True
    expected = struct.unpack(">HH", struct.pack(">f", value))
    assert tuple(REGISTERS["plc"][100:102]) == expected
    await wait_for(
        lambda: any(a["type"] == "write_executed" for a in audits), message="executed record"
    )
    types = [a["type"] for a in audits]
    assert types == ["write_requested", "write_confirmed", "write_executed"]
    for a in audits:
        _check_cr28(a)
    # A confirmation cannot be replayed.
    with pytest.raises(KitError, match="no pending write request"):
        await api.call("writes.confirm", {"request_id": req["request_id"], "who": "mallory"})


async def test_rate_limit_and_cmd_subject(setup):
    rt, api, audits = setup
    # Two writes per minute are allowed, via the kit.cmd subject this time.
    for v in (10.0, 20.0):
        r = await rt.bus.request_json(
            "kit.cmd.test.area.line1.press1",
            {"action": "request", "point": "speed_setpoint", "value": v, "who": "op"},
        )
        assert r["ok"], r
        c = await rt.bus.request_json(
            "kit.cmd.test.area.line1.press1",
            {"action": "confirm", "request_id": r["result"]["request_id"], "who": "op"},
        )
        assert c["ok"], c
    assert tuple(REGISTERS["plc"][100:102]) == struct.unpack(">HH", struct.pack(">f", 20.0))
    r = await rt.bus.request_json(
        "kit.cmd.test.area.line1.press1",
        {"action": "request", "point": "speed_setpoint", "value": 30.0, "who": "op"},
    )
    assert not r["ok"] and "rate limit" in r["error"]
    await wait_for(
        lambda: any(a["type"] == "write_refused" and "rate limit" in a["message"] for a in audits),
        message="rate-limit refusal audited",
    )


class NoWritePlugin(RecPlugin):
    kit_manifest = {**RecPlugin.kit_manifest, "device_writes": False}


async def test_adapter_whose_manifest_declares_no_writes_is_never_used(kit_settings, make_runtime):
    REGISTERS.clear()
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(
                    name="plc-1", type="rec-adapter", asset=ASSET, config={"device": "plc"}
                )
            ]
        }
    )
    host = get_plugin_manager(
        load_entrypoints=False, extra=[("kit-trust", kit.trust.plugin), ("rec", NoWritePlugin())]
    )
    rt = await make_runtime(settings, host=host)
    await (await rt.bus.kv(KV_DEPLOYMENTS)).put("d", json.dumps({"writes": [RULE]}).encode())
    await wait_for(lambda: rt.supervisor.instances["plc-1"].component is not None)
    api = ControlClient(rt.bus)
    req = await api.call(
        "writes.request", {"asset": ASSET, "point": "speed_setpoint", "value": 5, "who": "op"}
    )
    with pytest.raises(KitError, match="device_writes"):
        await api.call("writes.confirm", {"request_id": req["request_id"], "who": "op"})
    assert REGISTERS == {}
