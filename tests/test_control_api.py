"""The typed control API: envelope, validation before handlers, versioning, kit.cmd authority,
and CPU-heavy validation kept off the event loop. Real runtime, real nats-server."""

from __future__ import annotations

import asyncio
import json
import struct
import threading
from typing import Any, ClassVar

import orjson
import pytest
from pydantic import BaseModel, ConfigDict

import kit
import kit.recipes.api as recipes_api_module
import kit.trust.plugin
from kit.api import MAX_BODY_BYTES, SCHEMA, ErrorReply, Problem, problem_from_text
from kit.api import core as core_api
from kit.api import recipes as rec_api
from kit.api import writes as writes_api
from kit.bus import KV_DEPLOYMENTS
from kit.components import Adapter
from kit.control import ControlClient, ControlError, parse_envelope
from kit.errors import KitError
from kit.plugins import get_plugin_manager
from kit.settings import ComponentSpec
from kit.testing import wait_for


async def _raw(rt: Any, name: str, data: bytes) -> dict[str, Any]:
    msg = await rt.bus.nc.request(f"kit.control.{name}", data, timeout=10)
    return orjson.loads(msg.data)


async def test_bad_bodies_are_refused_before_the_handler_naming_the_field(
    kit_settings, make_runtime
):
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)

    with pytest.raises(ControlError) as wrong_type:
        await client.call(rec_api.SHOW, {"id": 5})
    assert wrong_type.value.kind == "invalid_request" and wrong_type.value.exit_code == 2
    assert [p.field for p in wrong_type.value.problems] == ["id"]

    with pytest.raises(ControlError) as typo:
        await client.call(rec_api.SHOW, {"id": "x", "idd": "x"})
    assert typo.value.field_problems()["idd"] == Problem(
        field="idd", message="unknown field", hint="did you mean 'id'?"
    )

    for data, message in (
        (b"[1, 2]", "the request body must be a JSON object"),
        (b"{not json", None),
        (b"[" * 10_000 + b"]" * 10_000, None),
    ):
        reply = await _raw(rt, "recipes.show", data)
        err = ErrorReply.model_validate(reply)
        assert reply["schema"] == SCHEMA and err.kind == "invalid_request"
        if message:
            assert err.problems[0].message == message
        else:
            assert err.error == "request body is not valid JSON"

    # A recipe text over the limit is refused by the model, before any YAML is parsed.
    with pytest.raises(ControlError) as big:
        await client.call("recipes.validate", {"text": "a" * (rec_api.MAX_TEXT_CHARS + 1)})
    assert [p.field for p in big.value.problems] == ["text"]
    # A body over the byte limit is refused before it is even decoded.
    reply = orjson.loads(await rt.control.dispatch("recipes.validate", b" " * (MAX_BODY_BYTES + 1)))
    assert reply["ok"] is False and "too large" in reply["error"]

    # Success replies carry the schema too, and parse into the reply model.
    assert (await _raw(rt, "ping", b""))["schema"] == SCHEMA
    status = await client.call(core_api.STATUS)
    assert status.site == kit_settings.site and status.bus.connected is True


async def test_runtime_errors_carry_structured_problems(kit_settings, make_runtime):
    rt = await make_runtime(kit_settings)
    client = ControlClient(rt.bus)
    text = "id: mine\nversion: '1'\ntitle: t\nkpi: {name: k}\nassetz: {}\n"
    res = await client.call(rec_api.VALIDATE, {"text": text, "filename": "mine.yaml"})
    assert res.ok is False and res.pass_ == "shape"
    typo = [p for p in res.problems if p.field == "assetz"]
    assert typo and typo[0].file == "mine.yaml" and typo[0].line == 5
    with pytest.raises(ControlError) as missing:
        await client.call(rec_api.UNINSTALL, {"deployment": "nope"})
    assert missing.value.kind == "error" and missing.value.problems[0].message.startswith(
        "no deployment 'nope'"
    )


def test_problem_text_round_trip():
    text = "r.yaml:12: assets.press.adapter: unknown adapter (did you mean 'modbus'?)"
    p = problem_from_text(text)
    assert (p.file, p.line, p.field, p.message, p.hint) == (
        "r.yaml",
        12,
        "assets.press.adapter",
        "unknown adapter",
        "did you mean 'modbus'?",
    )
    assert p.text() == text
    assert problem_from_text("something went wrong") == Problem(message="something went wrong")


def test_client_refuses_an_unknown_schema_major_and_accepts_an_old_runtime():
    with pytest.raises(KitError, match="kit.control/2"):
        parse_envelope({"schema": "kit.control/2", "ok": True, "result": {}})
    # A runtime older than the typed API sends no schema and a bare error string.
    old = parse_envelope({"ok": False, "error": "boom", "code": 3})
    assert isinstance(old, ErrorReply) and old.code == 3
    assert old.problems == [Problem(message="boom")]
    # Additive: unknown fields in a known major are kept, not refused.
    assert parse_envelope({"schema": SCHEMA, "ok": True, "result": 1, "new": 2}).result == 1


async def test_slow_validation_does_not_stop_other_endpoints_or_timers(
    kit_settings, make_runtime, monkeypatch
):
    """A validation in progress (held open here) must leave the event loop free."""
    rt = await make_runtime(kit_settings)
    entered, release = threading.Event(), threading.Event()
    real_parse = recipes_api_module.parse_recipe

    def held_parse(text: str, filename: str) -> Any:
        entered.set()
        release.wait(30)  # released by the test below; the timeout only breaks a deadlock
        return real_parse(text, filename)

    monkeypatch.setattr(recipes_api_module, "parse_recipe", held_parse)
    client = ControlClient(rt.bus, timeout=60)
    validating = asyncio.create_task(
        client.call(rec_api.VALIDATE, {"text": "id: x\n", "filename": "slow.yaml"})
    )
    try:
        await wait_for(entered.is_set, message="validation started")
        timer = asyncio.Event()
        asyncio.get_running_loop().call_later(0.01, timer.set)
        pong = await client.call(core_api.PING)  # another endpoint answers meanwhile
        await timer.wait()  # and timers fire
        assert pong.pong is True
        assert not validating.done(), "validation finished before ping: nothing was shown"
    finally:
        release.set()
    res = await validating
    assert res.ok is False and res.problems


# -- kit.cmd: the subject's asset is authoritative ---------------------------------------
REGISTERS: dict[str, list[int]] = {}
A, B = "test/area/line1/press1", "test/area/line1/press2"


class _Cfg(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str


class _Writer(Adapter):
    name: ClassVar[str] = "api-test-writer"
    can_write: ClassVar[bool] = True
    Config: ClassVar[type[BaseModel]] = _Cfg

    async def run(self) -> None:
        await asyncio.Event().wait()

    async def write(self, point: str, value: Any) -> None:
        REGISTERS[self.config.device] = list(struct.unpack(">2H", struct.pack(">f", value)))


class _WriterPlugin:
    kit_manifest = {
        "name": "kit-api-test-writer",
        "version": "1.0.0",
        "vendor": "test",
        "contact": "t@example.org",
        "kinds": ["adapter"],
        "components": ["api-test-writer"],
        "publishes": ["kit.data.>"],
        "device_writes": True,
    }

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(_Writer)


async def _cmd(rt: Any, asset: str, body: dict[str, Any]) -> dict[str, Any]:
    subject = "kit.cmd." + asset.replace("/", ".")
    msg = await rt.bus.nc.request(subject, json.dumps(body).encode(), timeout=10)
    return orjson.loads(msg.data)


async def test_cmd_body_cannot_override_the_subjects_asset(kit_settings, make_runtime):
    REGISTERS.clear()
    comps = [
        ComponentSpec(name=f"w-{d}", type="api-test-writer", asset=a, config={"device": d})
        for d, a in (("a", A), ("b", B))
    ]
    host = get_plugin_manager(
        load_entrypoints=False,
        extra=[("kit-trust", kit.trust.plugin), ("writer", _WriterPlugin())],
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": comps}), host=host)
    kv = await rt.bus.kv(KV_DEPLOYMENTS)
    rules = [{"asset": a, "point": "speed", "min": 0, "max": 100} for a in (A, B)]
    await kv.put("speeds", json.dumps({"recipe": "r", "writes": rules}).encode())
    await wait_for(lambda: all(rt.supervisor.instances[c.name].component for c in comps))

    # Sent on A's subject, naming B in the body: refused, nothing pending, nothing written.
    forged = await _cmd(rt, A, {"action": "request", "asset": B, "point": "speed", "value": 5})
    assert forged["ok"] is False and forged["schema"] == SCHEMA
    assert "subject" in forged["error"] and not rt.write_guard.pending

    # Without an asset in the body, the subject's asset is used.
    own = await _cmd(rt, A, {"action": "request", "point": "speed", "value": 5})
    assert own["ok"] is True and own["result"]["asset"] == A

    # A request pending for B cannot be confirmed on A's subject, only on B's.
    client = ControlClient(rt.bus)
    req = await client.call(
        writes_api.REQUEST, {"asset": B, "point": "speed", "value": 7.5, "who": "t"}
    )
    wrong = await _cmd(rt, A, {"action": "confirm", "request_id": req.request_id})
    assert wrong["ok"] is False and "b" not in REGISTERS
    right = await _cmd(rt, B, {"action": "confirm", "request_id": req.request_id})
    assert right["ok"] is True
    assert REGISTERS["b"] == list(struct.unpack(">2H", struct.pack(">f", 7.5)))
    # A malformed command is a structured error naming the field, and the guard keeps serving.
    bad = await _cmd(rt, A, {"action": "explode"})
    assert bad["ok"] is False and bad["kind"] == "invalid_request"
    assert [p["field"] for p in bad["problems"]] == ["action"]


def test_control_api_reference_in_bus_md_is_fresh():
    import importlib.util
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    spec = importlib.util.spec_from_file_location("gen", root / "scripts/gen_control_api_doc.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    text = (root / "docs" / "bus.md").read_text()
    assert text == gen.render(text), "run: uv run python scripts/gen_control_api_doc.py"
    # Every endpoint a real runtime serves is documented (checked by name in the table).
    for name in ("status", "ping", "recipes.validate", "writes.request", "alarms.ack"):
        assert f"| `{name}` |" in text
