"""The model_scoring component on a real bus: shadow, promotion, drift and the rule fallback."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from kit_models import artefact
from kit_models.train import train

from kit import codec
from kit.cli import cli as kit_cli
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.errors import KitError
from kit.payloads import Point
from kit.settings import ComponentSpec
from kit.testing import FakeClock, wait_for
from kit.trust.signing import load_private_key, new_keypair
from kit.trust.truststore import trust_key

ASSET = "test/util/pumps/p1"
T0 = 1_790_000_000.0
DAY = 86400.0


def _spec(name: str, policy: str, drift_windows: int) -> ComponentSpec:
    return ComponentSpec(
        name=name,
        type="model_scoring",
        asset=ASSET,
        config={
            "model": "pump1",
            "inputs": {
                "vib": "vibration_velocity_rms_mm_s",
                "current": "current_a",
                "temp": "winding_temperature_c",
            },
            "fallback": {"signal": "vib", "zones": {"machine_class": "II"}},
            "policy": policy,
            "drift_windows": drift_windows,
        },
    )


async def test_shadow_promotion_drift_and_fallback(
    bus, kit_settings, make_runtime, bearing, tmp_path
) -> None:
    data = kit_settings.data_dir
    new_keypair(tmp_path / "k", "site")
    trust_key(data, tmp_path / "k" / "site.pub", "vendor")
    # Trained on the same sampling as the live stream below (a value every 20 s).
    history = bearing.simulate(T0, DAY, seed=1, step_s=20)
    v1 = train(history, name="pump1", version=1, points=bearing.POINTS, asset=ASSET)
    artefact.store(data, artefact.sign(v1, load_private_key(tmp_path / "k" / "site.key")))
    artefact.promote(data, "pump1", 1)
    # v2: a hair-trigger candidate, unsigned; it becomes the shadow.
    artefact.store(
        data,
        train(history, name="pump1", version=2, points=bearing.POINTS, asset=ASSET, margin=0.3),
    )

    kit_settings.components = [
        _spec("p1-model", "warn", 120),
        _spec("strict", "require-certified", 120),
    ]
    events = []

    async def on_ev(ev, _m):
        events.append(ev)

    await bus.subscribe("kit.event.>", codec.decode_event, on_ev)
    clock = FakeClock(datetime.fromtimestamp(T0 + DAY, UTC))
    rt = await make_runtime(kit_settings, clock=clock)
    comp = await wait_for(
        lambda: rt.supervisor.instances["p1-model"].component, message="component"
    )
    await wait_for(lambda: comp.ctx._subs, message="subscribed")
    strict = await wait_for(lambda: rt.supervisor.instances["strict"].component, message="strict")
    await wait_for(lambda: strict.ctx._subs, message="strict subscribed")

    def of(type_: str, component: str = "p1-model") -> list:
        return [e for e in events if e.type == type_ and e.data.get("component") == component]

    # Unsigned shadow: warned under warn, refused under require-certified; signed v1 runs in both.
    warned = await wait_for(lambda: of("model_unverified"), message="unsigned warning")
    assert warned[0].data["version"] == 2 and warned[0].data["status"] == "Unsigned"
    refused = await wait_for(lambda: of("model_refused", "strict"), message="strict refusal")
    assert refused[0].data["version"] == 2 and "require-certified" in refused[0].message
    assert comp.metrics()["loaded"] == {
        "active": {"version": 1, "status": "Signed"},
        "shadow": {"version": 2, "status": "Unsigned"},
    }
    assert strict.metrics()["loaded"] == {"active": {"version": 1, "status": "Signed"}}

    dev = ComponentContext("dev", bus, asset=ASSET)
    live = bearing.simulate(T0 + DAY, 1200, seed=2, step_s=20)
    drifted = bearing.simulate(T0 + DAY + 1200, 7200, seed=5, step_s=20, temp_offset=15.0)

    async def send(rows) -> None:
        for i in range(0, len(rows), 3):
            ts = rows[i][0]
            clock.at = datetime.fromtimestamp(ts, UTC)
            await dev.publish_samples(
                [Point(name=bearing.POINTS[s], value=v) for _t, s, v in rows[i : i + 3]],
                ts=clock.at,
            )

    # Healthy stream: the shadow alerts (recorded, kind "model"), nothing of v2 is an alarm.
    await send(live)
    shadow = await wait_for(lambda: of("shadow_alert_raised"), message="shadow alert")
    assert shadow[0].kind == "model" and shadow[0].data["version"] == 2
    assert [e for e in events if e.kind == "alarm" and e.data.get("version") == 2] == []
    assert of("model_degraded") == []

    # A temperature sensor reading 15 °C high: PSI on temp crosses 0.25, v1 is degraded and
    # the ISO zone rule takes over, with an event saying so.
    await send(drifted)
    degraded = await wait_for(lambda: of("model_degraded"), message="degraded")
    assert degraded[0].data["version"] == 1 and degraded[0].data["signal"] == "temp"
    psi = degraded[0].data["psi"]
    assert psi["temp"] >= 0.25 and psi["vib"] < 0.25 and psi["current"] < 0.25
    fb = await wait_for(lambda: of("fallback_active"), message="fallback event")
    assert "degraded" in fb[0].data["reason"]
    assert [e for e in events if e.kind == "alarm" and e.type == "fallback_alarm_raised"] == []
    ts = T0 + DAY + 1200 + 7200 + 20
    clock.at = datetime.fromtimestamp(ts, UTC)
    await dev.publish_samples([Point(name="vibration_velocity_rms_mm_s", value=8.0)], ts=clock.at)
    raised = await wait_for(
        lambda: [
            e
            for e in events
            if e.type == "fallback_alarm_raised" and e.data["component"] == "p1-model"
        ],
        message="fallback alarm",
    )
    assert raised[0].kind == "alarm" and raised[0].data["zone"] == "D"
    # Hovering around the zone C boundary (2.8 mm/s) within the 5 % hysteresis: the alarm
    # stays raised instead of clearing and raising again at every crossing.
    for v in (2.9, 2.7, 2.85, 2.7, 2.9, 1.0):
        ts += 20
        clock.at = datetime.fromtimestamp(ts, UTC)
        await dev.publish_samples([Point(name="vibration_velocity_rms_mm_s", value=v)], ts=clock.at)

    def rule(type_: str) -> list:
        return [e for e in events if e.type == type_ and e.data.get("component") == "p1-model"]

    # Back in zone B (1.0) clears it; every earlier event of this publisher came before.
    await wait_for(lambda: rule("fallback_alarm_cleared"), message="rule alarm cleared")
    assert len(rule("fallback_alarm_raised")) == 1 and len(rule("fallback_alarm_cleared")) == 1

    # Promotion needs a named person and is audited; the new active model is not degraded.
    api = ControlClient(bus)
    with pytest.raises(KitError, match="person"):
        await api.call("models.promote", {"model": "pump1", "version": 2})
    res = await api.call("models.promote", {"model": "pump1", "version": 2, "who": "ana"})
    assert res == {"model": "pump1", "active": 2, "previous": 1}
    audit = await wait_for(
        lambda: [e for e in events if e.kind == "audit" and e.type == "model_promoted"],
        message="audit record",
    )
    assert audit[0].data["who"] == "ana" and audit[0].category == "config_change"
    status = await api.call("models.status", {})
    assert status["p1-model"]["loaded"]["active"] == {"version": 2, "status": "Unsigned"}
    assert status["p1-model"]["degraded"] == ["1"]
    await wait_for(lambda: of("fallback_ended"), message="model carries alerts again")
    assert artefact.registry(data, "pump1")["active"] == 2

    # The CLI goes through the same audited endpoint.
    out = await asyncio.to_thread(
        CliRunner().invoke,
        kit_cli,
        ["model", "retire", "pump1", "1", "--who", "bo", "--url", bus.url],
    )
    assert out.exit_code == 0, out.output
    retired = await wait_for(
        lambda: [e for e in events if e.kind == "audit" and e.type == "model_retired"],
        message="retire audited",
    )
    assert retired[0].data["who"] == "bo" and artefact.registry(data, "pump1")["retired"] == [1]
