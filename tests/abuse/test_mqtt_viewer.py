"""The built-in ``viewer`` on the MQTT listener reads and cannot write (docs/bus.md, "Reading
the bus with other tools"; operations.md: MQTT clients log in as one of the roles).

The attack: ``mosquitto_sub``'s credentials used for ``mosquitto_pub`` — a forged sample batch
on ``kit/data/…``, a retained KPI on ``kit/out/kpi/…`` and a guarded-write command on
``kit/cmd/…``. The server must refuse each (its log names the subject) and nothing may reach
the bus or the data stream, while the same login still reads ``kit/data/#``.
"""

from __future__ import annotations

import asyncio
import json

import aiomqtt

from kit import subjects
from kit.settings import NatsSettings, Settings
from kit.testing import wait_for

from .conftest import REFUSED

FORGED = {
    "kit/data/t/a/l/m1": "kit.data.t.a.l.m1",
    "kit/out/kpi/t/a/l/m1/oee/now": "kit.out.kpi.t.a.l.m1.oee.now",
    "kit/cmd/t/a/l/m1": "kit.cmd.t.a.l.m1",
}


async def test_mqtt_viewer_cannot_publish(tmp_path, make_runtime):
    data_dir = tmp_path / "data"
    rt = await make_runtime(
        Settings(site="t", data_dir=data_dir, nats=NatsSettings(port=0, mqtt_port=0))
    )
    port = rt.embedded.mqtt_port
    pw = json.loads((data_dir / "nats" / "auth.json").read_text())["users"]["viewer"]
    reached: list[str] = []

    async def on_msg(m) -> None:
        reached.append(m.subject)

    for s in ("kit.data.>", "kit.out.>", "kit.cmd.>"):
        await rt.bus.nc.subscribe(s, cb=on_msg)
    await rt.bus.nc.flush()
    log = rt.embedded.log_path

    for topic, subj in FORGED.items():
        try:
            async with aiomqtt.Client(
                "127.0.0.1", port, username="viewer", password=pw, identifier="forger"
            ) as c:
                await c.publish(topic, b'{"value": 999}', qos=1, retain=True, timeout=5)
        except aiomqtt.MqttError:
            pass  # the server may answer by closing the session: a refusal too
        await wait_for(
            lambda subj=subj: log.exists() and f'"{subj}"' in log.read_text(),
            timeout=10,
            message=f"server log names the refused publish to {subj}",
        )
        REFUSED.append(f"mqtt viewer: publish {topic}")

    # The same login still reads: a batch published by the kit reaches kit/data/#.
    async with aiomqtt.Client(
        "127.0.0.1", port, username="viewer", password=pw, identifier="reader"
    ) as c:
        await c.subscribe("kit/data/#", qos=0)
        await rt.bus.nc.publish("kit.data.t.a.l.m2", b'{"probe": true}')
        async with asyncio.timeout(10):
            m = await anext(c.messages)
    assert str(m.topic) == "kit/data/t/a/l/m2"
    # The MQTT reader can see it before this connection's own subscriber has run its
    # callback (two deliveries, no order between them): wait for the probe, then check that
    # it is the only message the bus carried — none of the forged ones came before it.
    await wait_for(lambda: "kit.data.t.a.l.m2" in reached, message="the probe on the bus")
    assert reached == ["kit.data.t.a.l.m2"], reached
    info = await rt.bus.js.stream_info(subjects.STREAM_DATA, subjects_filter="kit.data.t.a.l.m1")
    assert not (info.state.subjects or {}).get("kit.data.t.a.l.m1")
