"""A secret written *inside* a longer setting is still never shown (recipes: "secrets never
appear in a plan"; SECURITY.md: viewers cannot read deployment secrets).

The attack: a recipe puts its ``secret`` parameter into a URL (``opc.tcp://kit:${password}@…``,
the way many tools take credentials) instead of a field of its own. The plan shown to the
technician (``recipes.plan``, ``kit install`` before confirming) and the error of a failed
connection test must hide it, while the component still gets it. The real plugin host with the real OPC UA adapter and its profiles.
"""

from __future__ import annotations

import nats
import pytest

from kit.control import ControlClient, ControlError
from kit.plugins import get_plugin_manager
from kit.recipes.loader import parse_recipe
from kit.recipes.plan import build_plan
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings
from kit.testing import wait_for
from kit.trust.busauth import client_options

PASSWORD = "pw-inside-a-url-5d1"
RECIPE = """\
id: secret-in-url
version: 1.0.0
title: t
summary: s
kpi: {name: k, moves: m, evidence: e}
parameters:
  password: {type: secret, prompt: "Password"}
assets:
  machine:
    adapter: opcua
    profile: siemens-s7-1500-db
    path: "${site}/a/l/m1"
    connection: {endpoint: "opc.tcp://kit:${password}@127.0.0.1:4840"}
"""


def test_a_secret_inside_a_url_is_hidden_in_the_plan():
    plan = build_plan(
        parse_recipe(RECIPE, "secret-in-url.yaml"), get_plugin_manager(), {"password": PASSWORD}
    )
    assert plan.problems == []
    endpoint = plan.components[0].config["endpoint"]
    assert endpoint == f"opc.tcp://kit:{PASSWORD}@127.0.0.1:4840"  # the runtime needs it …
    shown = repr(plan.describe())
    assert PASSWORD not in shown, shown  # … nobody is shown it
    assert "opc.tcp://kit:***@127.0.0.1:4840" in shown


async def test_a_failed_connection_test_does_not_quote_the_secret(kit_settings, make_runtime):
    """``recipes.test_connection`` (technician) and ``kit install`` quote the endpoint when the
    device does not answer; the password inside it must not be quoted."""
    rt = await make_runtime(kit_settings)
    with pytest.raises(ControlError) as failed:
        await ControlClient(rt.bus).call(
            "recipes.test_connection",
            {
                "recipe": {"text": RECIPE.replace("4840", "9"), "filename": "secret-in-url.yaml"},
                "params": {"password": PASSWORD},
            },
        )
    text = str(failed.value)
    assert "connection test failed" in text and "127.0.0.1:9" in text
    assert PASSWORD not in text, text


async def test_an_endpoint_password_never_reaches_the_viewer(tmp_path, make_runtime):
    """An OPC UA endpoint with ``user:password@`` in it, its server down: the adapter's errors,
    health detail and metrics (all viewer-readable) name the endpoint without the password."""
    data_dir = tmp_path / "data"
    rt = await make_runtime(
        Settings(
            site="t",
            data_dir=data_dir,
            nats=NatsSettings(port=0),
            supervisor=SupervisorSettings(heartbeat_s=0.2, backoff_initial_s=0.05),
            components=[
                ComponentSpec(
                    name="opc",
                    type="opcua",
                    asset="t/a/l/m1",
                    config={
                        "profile": "siemens-s7-1500-db",
                        "endpoint": f"opc.tcp://kit:{PASSWORD}@127.0.0.1:9",
                    },
                )
            ],
        )
    )
    viewer = await nats.connect(rt.url, **client_options(data_dir, "viewer"))
    seen: list[bytes] = []

    async def on_msg(m) -> None:
        seen.append(m.data)

    await viewer.subscribe("kit.health.>", cb=on_msg)
    await viewer.subscribe("kit.event.>", cb=on_msg)
    await viewer.flush()
    await wait_for(
        lambda: any(b"cannot reach" in m for m in seen), message="the outage reached the viewer"
    )
    reply = await viewer.request("kit.control.components", b"{}", timeout=10)
    seen.append(reply.data)
    await viewer.close()
    assert b"127.0.0.1:9" in reply.data
    leaked = [m[:300] for m in seen if PASSWORD.encode() in m]
    assert not leaked, f"the viewer read the endpoint password: {leaked}"
