"""A recipe's ``secret`` parameter never reaches a viewer (SECURITY.md: viewers cannot read
deployment secrets; operations.md: the viewer may call ``deployments.list``/``.show``).

The attack: an admin installs an OPC UA recipe whose server password is a ``secret``
parameter; the viewer then reads everything it is allowed to read about the deployment and
its components — ``deployments.list``, ``deployments.show``, ``components``, ``status`` and
the health feed. The password must appear in none of it (the runtime needs it, nobody is
shown it). Real embedded server with the generated permissions, real recipe engine, the real
OPC UA adapter against the OPC UA simulator on 127.0.0.1, which accepts only that password.
"""

from __future__ import annotations

import json

import nats
from kit_opcua.adapter import OpcuaAdapter
from kit_opcua.pki import Pki

from kit.control import ControlClient
from kit.plugins import get_plugin_manager
from kit.profiles import ProfileLibrary
from kit.settings import NatsSettings, Settings, SupervisorSettings
from kit.testing import wait_for
from kit.trust.busauth import client_options

PASSWORD = "opc-pw-91c2-never-shown"
RECIPE = """\
id: opcua-with-password
version: 1.0.0
title: OPC UA machine with a password
summary: s
kpi: {name: k, moves: m, evidence: e}
parameters:
  endpoint: {type: text, prompt: "OPC UA endpoint"}
  password: {type: secret, prompt: "OPC UA password"}
assets:
  machine:
    adapter: opcua
    profile: siemens-s7-1500-db
    path: "${site}/a/l/m1"
    connection:
      endpoint: "${endpoint}"
      security_policy: Basic256Sha256
      identity: username
      username: kit
      password: "${password}"
"""


async def test_viewer_never_reads_a_recipe_secret(tmp_path, make_runtime):
    data_dir = tmp_path / "data"
    library = ProfileLibrary(get_plugin_manager()).load()
    sim = OpcuaAdapter.simulator(
        library.get("siemens-s7-1500-db"),
        security_policy="Basic256Sha256",
        users={"kit": PASSWORD},
    )
    await sim.start()
    try:
        await _attack(tmp_path, data_dir, make_runtime, sim)
    finally:
        await sim.stop()


async def _attack(tmp_path, data_dir, make_runtime, sim) -> None:
    rt = await make_runtime(
        Settings(
            site="t",
            data_dir=data_dir,
            nats=NatsSettings(port=0),
            supervisor=SupervisorSettings(heartbeat_s=0.2, backoff_initial_s=0.05),
        )
    )
    Pki(data_dir).add_trusted(sim.certificate)  # the site trusted this server's certificate
    admin = ControlClient(rt.bus)
    res = await admin.call(
        "recipes.install",
        {
            "recipe": {"text": RECIPE, "filename": "opcua-with-password.yaml"},
            "params": {"endpoint": sim.url, "password": PASSWORD},
        },
    )
    dep = res["deployment"] if isinstance(res, dict) and "deployment" in res else None
    listed = await admin.call("deployments.list")
    dep = dep or listed[0]["id"]
    # The runtime does hold it: the component was configured with the password.
    comp = next(i for i in rt.supervisor.instances.values() if i.type == "opcua")
    assert comp.component.config.password == PASSWORD

    viewer = await nats.connect(rt.url, **client_options(data_dir, "viewer"))
    seen: list[bytes] = []

    async def on_msg(m) -> None:
        seen.append(m.data)

    await viewer.subscribe("kit.health.>", cb=on_msg)
    await viewer.subscribe("kit.event.>", cb=on_msg)
    await viewer.flush()
    await wait_for(
        lambda: any(comp.name.encode() in m for m in seen),
        message="the OPC UA component's health reached the viewer",
    )
    for endpoint, body in (
        ("deployments.list", {}),
        ("deployments.show", {"deployment": dep}),
        ("components", {}),
        ("status", {}),
    ):
        reply = await viewer.request(f"kit.control.{endpoint}", json.dumps(body).encode(), 10)
        assert json.loads(reply.data)["ok"], reply.data[:300]
        seen.append(reply.data)
    await viewer.close()
    leaked = [m[:300] for m in seen if PASSWORD.encode() in m]
    assert not leaked, f"the viewer read the recipe secret: {leaked}"
