"""No audit record, no write (threat model T5, operations.md: "If a record cannot be stored,
the write is not carried out"; IEC 62443-4-2 CR 2.10).

The attack: between a technician's request and confirmation the audit stream stops taking
records — here ``KIT_EVENTS`` is full and refuses new messages (the server's answer to a
quota, the same refusal a full store gives). The confirmation must be refused with a reason
and the device must not be touched; once the stream takes records again, the same write goes
through. Real server, real runtime, a writing adapter whose "device" is a register list.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, ClassVar

import orjson
import pytest
from nats.js.api import DiscardPolicy
from pydantic import BaseModel

import kit
import kit.trust.plugin
from kit import subjects
from kit.bus import KV_DEPLOYMENTS
from kit.components import Adapter
from kit.control import ControlClient, ControlError
from kit.plugins import get_plugin_manager
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "chaos/area/line1/press1"
RULE = {"asset": ASSET, "point": "speed", "min": 0, "max": 100}
DEVICE: list[int] = []


class NoConfig(BaseModel):
    pass


class RegisterAdapter(Adapter):
    """A device that is two holding registers (float32, big-endian)."""

    name: ClassVar[str] = "chaos-reg"
    can_write: ClassVar[bool] = True
    Config: ClassVar[type[BaseModel]] = NoConfig

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def write(self, point: str, value: Any) -> None:
        DEVICE[:] = list(struct.unpack(">HH", struct.pack(">f", float(value))))


class RegPlugin:
    kit_manifest = {
        "name": "kit-chaos-reg",
        "version": "1.0.0",
        "vendor": "test",
        "contact": "t@example.org",
        "kinds": ["adapter"],
        "components": ["chaos-reg"],
        "publishes": ["kit.data.>"],
        "device_writes": True,
    }

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(RegisterAdapter)


async def _write(api: ControlClient, value: float) -> Any:
    body = {"asset": ASSET, "point": "speed", "value": value, "who": "chaos"}
    req = await api.call("writes.request", body)
    return await api.call("writes.confirm", {"request_id": req["request_id"], "who": "chaos"})


async def test_full_audit_stream_means_no_write(kit_settings, make_runtime):
    DEVICE[:] = [0, 0]
    settings = kit_settings.model_copy(
        update={"components": [ComponentSpec(name="plc", type="chaos-reg", asset=ASSET)]}
    )
    host = get_plugin_manager(
        load_entrypoints=False, extra=[("kit-trust", kit.trust.plugin), ("reg", RegPlugin())]
    )
    rt = await make_runtime(settings, host=host)
    kv = await rt.bus.kv(KV_DEPLOYMENTS)
    await kv.put("press-speed", orjson.dumps({"recipe": "speed", "writes": [RULE]}))
    await wait_for(lambda: rt.supervisor.instances["plc"].component is not None)
    api = ControlClient(rt.bus)

    req = await api.call(
        "writes.request", {"asset": ASSET, "point": "speed", "value": 42.0, "who": "chaos"}
    )
    # The audit stream fills up: it keeps what it has and refuses anything new.
    js = rt.bus.js
    info = await js.stream_info(subjects.STREAM_EVENTS)
    full = info.config
    full.max_msgs = info.state.messages
    full.discard = DiscardPolicy.NEW
    await js.update_stream(full)
    with pytest.raises(ControlError) as refused:
        await api.call("writes.confirm", {"request_id": req["request_id"], "who": "chaos"})
    assert "audit record could not be stored" in str(refused.value)
    assert DEVICE == [0, 0], "the device was written without an audit record"

    # Space again: the same write is carried out, and its records are stored.
    before = (await js.stream_info(subjects.STREAM_EVENTS)).state.messages
    full.max_msgs = -1
    await js.update_stream(full)
    done = await _write(api, 42.0)
    assert done["executed"] is True
    assert DEVICE == list(struct.unpack(">HH", struct.pack(">f", 42.0)))
    assert (await js.stream_info(subjects.STREAM_EVENTS)).state.messages >= before + 3
