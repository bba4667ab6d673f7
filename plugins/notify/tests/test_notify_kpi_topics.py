"""KPIs per window on retained MQTT topics, read by a `kit users add --role viewer` account
that can do nothing else (abuse checks over NATS and MQTT). One embedded runtime."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiomqtt
import nats
import orjson
import pytest
from click.testing import CliRunner
from kit_notify.config import MqttRoute
from kit_notify.kpi_topics import window_class
from kit_notify.mqtt import publish_event
from kit_notify.senders import Permanent

from kit.cli import cli as kit_cli
from kit.components import ComponentContext
from kit.settings import ComponentSpec, NatsSettings
from kit.testing import wait_for
from kit.trust.users import load_users

ASSET = "test/assembly/line1/press1"


def test_window_classes() -> None:
    assert window_class("hour:2026-12-06T05") == "hour"
    assert window_class("shift:2026-11-22/early") == "shift"
    assert window_class(None) == "now" and window_class("rolling") == "rolling"


async def retained(port: int, user: str, pw: str, want: int) -> dict[str, Any]:
    """Topics and payloads a fresh subscription to kit/out/kpi/# receives as retained."""
    got: dict[str, Any] = {}
    async with aiomqtt.Client(
        "127.0.0.1", port, username=user, password=pw, identifier=f"t-{user}"
    ) as c:
        granted = await c.subscribe("kit/out/kpi/#", qos=1)
        assert [getattr(g, "value", g) for g in granted] == [1]  # QoS 1 granted
        async with asyncio.timeout(15):
            async for m in c.messages:
                assert m.retain, f"{m.topic} not retained"
                got[str(m.topic)] = orjson.loads(bytes(m.payload))  # type: ignore[arg-type]
                if len(got) >= want:
                    return got
    return got


async def test_kpis_per_window_reach_a_viewer_account_that_can_do_nothing_else(
    kit_settings, make_runtime, tmp_path
):
    settings = kit_settings.model_copy(
        update={
            "nats_url": None,
            "data_dir": tmp_path / "site",
            "nats": NatsSettings(port=0, mqtt_port=0),
            "components": [
                ComponentSpec(name="mqtt-out", type="kpi-topics", config={}),
                ComponentSpec(
                    name="notify",
                    type="notify",
                    config={
                        "routes": [{"name": "mqtt", "type": "mqtt", "match": {"kinds": ["alarm"]}}]
                    },
                ),
            ],
        }
    )
    rt = await make_runtime(settings)
    port = rt.embedded.mqtt_port
    out = rt.supervisor.instances["mqtt-out"].component
    await wait_for(lambda: out.connected, message="kpi-topics connected to the MQTT listener")

    # One KPI, three windows on the same bus subject (the gauge that jumped), plus one
    # without a window.
    energy = ComponentContext("energy", rt.bus, asset=ASSET)
    sent = {
        "hour:2026-12-06T05": 12.5,
        "day:2026-12-06": 181.0,
        "shift:2026-12-06/early": 96.25,
    }
    for window, v in sent.items():
        await energy.publish_kpi("energy_kwh", v, unit="kWh", window=window, attrs={"final": False})
    await energy.publish_kpi(
        "energy_kwh", 11.0, unit="kWh", window="hour:2026-12-06T04", attrs={"final": True}
    )
    await energy.publish_kpi(
        "energy_kwh", 13.0, unit="kWh", window="hour:2026-12-06T05", attrs={"final": False}
    )
    await energy.publish_kpi("oee", 0.71)
    await wait_for(lambda: out.counts["received"] == 6, message="KPIs received")
    await wait_for(lambda: not out.latest and out.counts["published"] >= 5, message="published")

    # kit users add: a viewer account, loaded by the running runtime (users.reload).
    env = {"KIT_DATA_DIR": str(settings.data_dir)}
    res = await asyncio.to_thread(
        CliRunner().invoke, kit_cli, ["users", "add", "nodered", "--role", "viewer"], env=env
    )
    assert res.exit_code == 0, res.output
    assert "the running runtime has loaded it" in res.output and f":{port}" in res.output
    pw = load_users(settings.data_dir)["nodered"]["password"]
    assert f"password: {pw}" in res.output
    assert f"mosquitto_sub -h 127.0.0.1 -p {port} -u nodered -P '{pw}'" in res.output

    base = f"kit/out/kpi/{ASSET}/energy_kwh"
    got = await retained(port, "nodered", pw, 5)
    assert set(got) == {
        f"{base}/hour/final",
        f"{base}/hour",
        f"{base}/day",
        f"{base}/shift",
        f"kit/out/kpi/{ASSET}/oee/now",
    }
    assert got[f"{base}/hour"]["value"] == 13.0  # the newest hour, not the closed 04:00 one
    assert got[f"{base}/hour"]["window"] == "hour:2026-12-06T05"
    # The closed 04:00 hour stays readable beside the running one.
    assert got[f"{base}/hour/final"]["value"] == 11.0 and got[f"{base}/hour/final"]["final"]
    assert got[f"{base}/day"]["value"] == 181.0 and got[f"{base}/day"]["unit"] == "kWh"
    assert got[f"{base}/shift"]["value"] == 96.25 and got[f"{base}/shift"]["final"] is False
    assert got[f"kit/out/kpi/{ASSET}/oee/now"]["value"] == 0.71

    # Abuse: over MQTT the viewer account cannot overwrite a retained value …
    async with aiomqtt.Client(
        "127.0.0.1", port, username="nodered", password=pw, identifier="evil"
    ) as c:
        try:
            await c.publish(f"{base}/hour", b'{"value": 999}', qos=1, retain=True, timeout=5)
        except aiomqtt.MqttError:
            pass  # refused by closing the session: also a refusal
    # … nor read raw data or events (its subscription there gets nothing; checked over NATS).
    errors: list[str] = []

    async def on_error(e: Exception) -> None:
        errors.append(str(e))

    nc = await nats.connect(
        rt.url, user="nodered", password=pw, error_cb=on_error, allow_reconnect=False
    )
    try:
        await nc.subscribe("kit.data.>")
        await nc.subscribe("kit.event.>")
        await nc.subscribe("$MQTT.sub.>")  # other MQTT clients' QoS 1 deliveries
        await nc.publish("kit.control.deployments.list", b"{}")
        await nc.publish(
            "$JS.API.STREAM.MSG.GET.KV_KIT_DEPLOYMENTS",
            b'{"last_by_subj": "$KV.KIT_DEPLOYMENTS.x"}',
        )
        await nc.publish("$KV.KIT_STATE.mqtt-out.x", b"{}")
        await nc.flush()
        await wait_for(lambda: len(errors) >= 6, message="six permission violations")
    finally:
        await nc.close()
    assert sum("subscription" in e.lower() for e in errors) == 3, errors
    assert sum("publish" in e.lower() for e in errors) == 3, errors
    assert not any("kit.kpi" in e for e in errors)

    again = await retained(port, "nodered", pw, 5)
    assert again[f"{base}/hour"]["value"] == 13.0  # still the kit's value

    # A live value reaches the account at QoS 1 (no $MQTT.> grant needed for that).
    async with aiomqtt.Client(
        "127.0.0.1", port, username="nodered", password=pw, identifier="live", clean_session=True
    ) as c:
        await c.subscribe(f"{base}/day", qos=1)
        async with asyncio.timeout(15):
            first = await anext(c.messages)  # the retained value
            assert first.retain and orjson.loads(bytes(first.payload))["value"] == 181.0  # type: ignore[arg-type]
            await energy.publish_kpi("energy_kwh", 190.0, unit="kWh", window="day:2026-12-06")
            m = await anext(c.messages)
    assert m.qos == 1 and not m.retain and orjson.loads(bytes(m.payload))["value"] == 190.0  # type: ignore[arg-type]

    # The mqtt notification route publishes on the embedded listener (as the component's own
    # user); the built-in viewer role (the TUI's, MQTT tools') reads kit/out/notify/#.
    n = rt.supervisor.instances["notify"].component
    await wait_for(lambda: n.ready, message="notify consumer attached")
    viewer_pw = json.loads((settings.data_dir / "nats" / "auth.json").read_text())["users"][
        "viewer"
    ]
    async with aiomqtt.Client(
        "127.0.0.1", port, username="viewer", password=viewer_pw, identifier="v"
    ) as c:
        await c.subscribe("kit/out/notify/#", qos=1)
        ev = await ComponentContext("alarms", rt.bus, asset=ASSET).publish_event(
            "alarm", "alarm_raised", severity="high", message="door open"
        )
        async with asyncio.timeout(15):
            m = await anext(c.messages)
    assert str(m.topic) == f"kit/out/notify/alarm/{ASSET}"
    body = orjson.loads(bytes(m.payload))  # type: ignore[arg-type]
    assert body["idempotency_key"] == f"{ev.id}:mqtt" and body["event"]["message"] == "door open"
    await wait_for(lambda: n.stats["mqtt"].delivered == 1, message="delivery counted")

    # A refused MQTT login is given up at once (fix the account), not retried for a day.
    route = MqttRoute(name="scada", type="mqtt", host="127.0.0.1", port=port)
    wrong = {"hostname": "127.0.0.1", "port": port, "username": "nodered", "password": "wrong"}
    with pytest.raises(Permanent, match="login refused"):
        await publish_event(route, "k:scada", {"kind": "alarm", "asset": ASSET}, wrong)
