"""Audit identity is the authenticated NATS user, not what the client says (issue 19 item 12).

A technician once appeared in the audit trail as ``admin:plant-manager`` because ``source``
was copied from the request body. Now the identified endpoints live under
``kit.control.as.<role>.`` and only that role may publish there: the subject proves the
caller, the body's ``who`` is kept only as the *claimed* operator name.
"""

from __future__ import annotations

import json

import pytest

import kit.trust.plugin
from kit.bus import KV_DEPLOYMENTS
from kit.plugins import get_plugin_manager
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings
from kit.testing import wait_for

from ..trust.test_trust_writes import ASSET, REGISTERS, RULE, RecPlugin, encode_f32
from .conftest import SrcPlugin, quick_request, refused


@pytest.fixture
async def site(tmp_path, make_runtime):
    REGISTERS.clear()
    settings = Settings(
        site="test",
        data_dir=tmp_path / "data",
        nats=NatsSettings(port=0),
        supervisor=SupervisorSettings(backoff_initial_s=0.05, heartbeat_s=0.5),
        components=[
            ComponentSpec(name="plc-1", type="rec-adapter", asset=ASSET, config={"device": "plc"}),
            ComponentSpec(name="src-1", type="abuse-src", asset="test/area/line1/other"),
        ],
    )
    host = get_plugin_manager(
        load_entrypoints=False,
        extra=[("kit-trust", kit.trust.plugin), ("rec", RecPlugin()), ("src", SrcPlugin())],
    )
    rt = await make_runtime(settings, host=host)
    kv = await rt.bus.kv(KV_DEPLOYMENTS)
    await kv.put("press1-speed", json.dumps({"recipe": "speed-control", "writes": [RULE]}).encode())
    rt.audits = []

    async def on_audit(msg) -> None:
        rt.audits.append(json.loads(msg.data))

    await rt.bus.nc.subscribe("kit.event.audit.>", cb=on_audit)
    await rt.bus.nc.flush()
    await wait_for(lambda: rt.supervisor.instances["plc-1"].component is not None)
    return rt


def _body(**kw) -> bytes:
    return json.dumps({"asset": ASSET, "point": "speed_setpoint", **kw}).encode()


async def test_technician_is_recorded_as_technician_whatever_it_claims(site, connect):
    tech = await connect("technician")
    r = await tech.nc.request(
        "kit.control.as.technician.writes.request",
        _body(value=42.0, who="admin:plant-manager"),
        timeout=5,
    )
    req = json.loads(r.data)
    assert req["ok"], req
    r = await tech.nc.request(
        "kit.control.as.technician.writes.confirm",
        json.dumps({"request_id": req["result"]["request_id"], "who": "admin"}).encode(),
        timeout=5,
    )
    assert json.loads(r.data)["ok"]
    assert REGISTERS["plc"][100:102] == encode_f32(42.0)
    await wait_for(lambda: any(a["type"] == "write_executed" for a in site.audits))
    writes = [a for a in site.audits if a["type"].startswith("write_")]
    assert {a["source"] for a in writes} == {"technician"}, writes
    claimed = {a["type"]: a["data"]["operator"] for a in writes}
    assert claimed["write_requested"] == "admin:plant-manager"  # kept, but only as a claim
    assert claimed["write_confirmed"] == "admin"


async def test_admin_is_recorded_as_admin(site, connect):
    admin = await connect("admin")
    r = await admin.nc.request("kit.control.writes.request", _body(value=3.0, who="x"), timeout=5)
    assert json.loads(r.data)["ok"]
    await wait_for(lambda: site.audits)
    assert site.audits[-1]["source"] == "admin"


async def test_nobody_can_claim_another_roles_identity(site, connect):
    tech = await connect("technician")
    # The plain subject would be recorded as admin: the technician may not publish there.
    await refused(
        tech,
        "kit.control.writes.request",
        lambda: quick_request(tech, "kit.control.writes.request", _body(value=1.0)),
        "technician: write request recorded as admin",
    )
    viewer = await connect("viewer")
    await refused(
        viewer,
        "kit.control.as.technician.writes.request",
        lambda: quick_request(viewer, "kit.control.as.technician.writes.request", _body(value=1.0)),
        "viewer: write request as technician",
    )
    admin = await connect("admin")
    await refused(
        admin,
        "kit.control.as.technician.writes.confirm",
        lambda: quick_request(admin, "kit.control.as.technician.writes.confirm", b"{}"),
        "admin: confirm as technician",
    )
    comp = await connect("c-src-1")
    await refused(
        comp,
        "kit.control.writes.request",
        lambda: quick_request(comp, "kit.control.writes.request", _body(value=1.0)),
        "component: control API write request",
    )
    await refused(
        comp,
        f"kit.cmd.{ASSET.replace('/', '.')}",
        lambda: quick_request(
            comp, f"kit.cmd.{ASSET.replace('/', '.')}", json.dumps({"action": "request"}).encode()
        ),
        "component: kit.cmd write request",
    )
    await comp.nc.flush()
    assert not [a for a in site.audits if a["type"] == "write_requested"]


async def test_kit_write_as_technician_is_recorded_as_technician(site):
    """The real CLI: ``KIT_ROLE=technician kit write …`` uses the role's identified subject."""
    import asyncio

    from click.testing import CliRunner

    from kit.cli import cli

    env = {"KIT_DATA_DIR": str(site.settings.data_dir), "KIT_ROLE": "technician"}
    res = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["write", ASSET, "speed_setpoint", "7", "--yes", "--who", "admin:plant-manager"],
        env=env,
    )
    assert res.exit_code == 0, res.output
    assert REGISTERS["plc"][100:102] == encode_f32(7.0)
    await wait_for(lambda: any(a["type"] == "write_executed" for a in site.audits))
    done = next(a for a in site.audits if a["type"] == "write_executed")
    assert done["source"] == "technician" and done["data"]["operator"] == "cli:admin:plant-manager"
