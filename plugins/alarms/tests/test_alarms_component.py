"""The alarms component on a real bus: events, control API (list/ack/shelve/unshelve),
duplicates and bad quality, shelving expiry and state across a runtime restart."""

from __future__ import annotations

from datetime import datetime, timedelta

from kit import codec
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.payloads import Point, utcnow
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/area/line/press"
RULES = [
    {"type": "hi", "input": "temperature_c", "limit": 80, "deadband": 2, "priority": "high"},
    {"type": "bad_quality", "input": "pressure_bar", "priority": "low"},
]


def spec(tick_s: float = 60.0) -> ComponentSpec:
    return ComponentSpec(
        name="press-alarms", type="alarms", asset=ASSET, config={"rules": RULES, "tick_s": tick_s}
    )


async def collect_events(bus) -> list:
    events: list = []

    async def on(ev, _msg):
        events.append(ev)

    await bus.subscribe("kit.event.alarm.>", codec.decode_event, on)
    return events


async def test_alarm_lifecycle_over_the_bus(bus, kit_settings, make_runtime) -> None:
    kit_settings.components = [spec()]
    events = await collect_events(bus)
    rt = await make_runtime(kit_settings)
    comp = await wait_for(
        lambda: rt.supervisor.instances["press-alarms"].component, message="component"
    )
    await wait_for(lambda: comp.ctx._subs, message="subscribed")
    plc = ComponentContext("plc", bus, asset=ASSET)
    api = ControlClient(bus)
    t0 = utcnow() - timedelta(seconds=100)

    await plc.publish_samples([Point(name="temperature_c", value=70.0)], ts=t0)
    await plc.publish_samples(
        [
            Point(name="temperature_c", value=85.0),
            Point(name="pressure_bar", quality="bad", reason="timeout"),
        ],
        ts=t0 + timedelta(seconds=1),
    )
    raised = await wait_for(
        lambda: [e for e in events if e.type == "alarm_raised"], message="alarm raised"
    )
    assert {e.data["alarm_id"] for e in raised} == {
        "press-alarms/hi_temperature_c",
        "press-alarms/bad_quality_pressure_bar",
    }
    hi = next(e for e in raised if e.data["rule"] == "hi_temperature_c")
    assert hi.severity == "high" and hi.data["value"] == 85.0 and hi.asset == ASSET

    # A duplicate of seq 1 (same source and seq) with a normal value must not clear the alarm.
    await bus.publish(
        "kit.data.test.area.line.press",
        codec.encode(
            __import__("kit.payloads", fromlist=["SampleBatch"]).SampleBatch(
                asset=ASSET,
                ts=t0 + timedelta(seconds=1),
                seq=1,
                source="plc",
                points=[Point(name="temperature_c", value=70.0)],
            )
        ),
    )
    await wait_for(lambda: comp.intake.counters.duplicates == 1, message="duplicate counted")
    assert comp.engine.status["hi_temperature_c"].active
    assert comp.metrics()["excluded_bad"] == 1

    listed = await api.call("alarms.list", {"active_only": True})
    assert {a["id"]: a["state"] for a in listed} == {
        "press-alarms/hi_temperature_c": "unacknowledged",
        "press-alarms/bad_quality_pressure_bar": "unacknowledged",
    }

    before = utcnow()
    res = await api.call("alarms.ack", {"id": "press-alarms/hi_temperature_c", "who": "maria"})
    after = utcnow()
    assert res["state"] == "acknowledged" and res["acked_by"] == "maria"
    assert before <= datetime.fromisoformat(res["acked_at"]) <= after  # recorded when it happened
    acked = await wait_for(
        lambda: [e for e in events if e.type == "alarm_acknowledged"], message="ack event"
    )
    assert acked[0].data["who"] == "maria"

    # Acknowledging twice is refused with a clear message.
    try:
        await api.call("alarms.ack", {"id": "press-alarms/hi_temperature_c", "who": "maria"})
        raise AssertionError("second ack accepted")
    except Exception as exc:
        assert "only an unacknowledged alarm" in str(exc)

    res = await api.call(
        "alarms.shelve",
        {"id": "press-alarms/bad_quality_pressure_bar", "who": "jo", "duration_s": 3600},
    )
    assert res["state"] == "shelved" and res["shelved_by"] == "jo"
    res = await api.call(
        "alarms.unshelve", {"id": "press-alarms/bad_quality_pressure_bar", "who": "jo"}
    )
    assert res["state"] == "unacknowledged"

    # Runtime restart: the acknowledged alarm comes back acknowledged, acked by maria.
    await rt.stop()
    rt2 = await make_runtime(kit_settings)
    await wait_for(
        lambda: rt2.supervisor.instances["press-alarms"].component,
        message="component after restart",
    )
    after = {a["id"]: a for a in await api.call("alarms.list", {})}
    assert after["press-alarms/hi_temperature_c"]["state"] == "acknowledged"
    assert after["press-alarms/hi_temperature_c"]["acked_by"] == "maria"
    assert after["press-alarms/bad_quality_pressure_bar"]["state"] == "unacknowledged"

    # The value returns below limit - deadband: acknowledged alarm goes back to normal.
    plc2 = ComponentContext("plc", bus, asset=ASSET)
    plc2._seq["test.area.line.press"] = 2
    comp2 = rt2.supervisor.instances["press-alarms"].component
    await wait_for(lambda: comp2.ctx._subs, message="subscribed after restart")
    await plc2.publish_samples(
        [Point(name="temperature_c", value=78.5)], ts=t0 + timedelta(seconds=2)
    )
    await plc2.publish_samples(
        [Point(name="temperature_c", value=77.0)], ts=t0 + timedelta(seconds=3)
    )
    cleared = await wait_for(
        lambda: [e for e in events if e.type == "alarm_cleared"], message="cleared"
    )
    assert cleared[0].data["value"] == 77.0


async def test_shelving_expires_by_itself(bus, kit_settings, make_runtime) -> None:
    kit_settings.components = [spec(tick_s=0.05)]
    rt = await make_runtime(kit_settings)
    comp = await wait_for(
        lambda: rt.supervisor.instances["press-alarms"].component, message="component"
    )
    await wait_for(lambda: comp.ctx._subs, message="subscribed")
    plc = ComponentContext("plc", bus, asset=ASSET)
    await plc.publish_samples(
        [Point(name="temperature_c", value=90.0)], ts=utcnow() - timedelta(seconds=5)
    )
    await wait_for(lambda: comp.engine.status["hi_temperature_c"].active, message="active")
    api = ControlClient(bus)
    res = await api.call(
        "alarms.shelve", {"id": "press-alarms/hi_temperature_c", "who": "jo", "duration_s": 0.3}
    )
    assert res["state"] == "shelved"
    await wait_for(
        lambda: comp.engine.status["hi_temperature_c"].state.value == "unacknowledged",
        message="expired",
    )
    try:
        await api.call("alarms.ack", {"id": "press-alarms/nope", "who": "x"})
        raise AssertionError("unknown id accepted")
    except Exception as exc:
        assert "no alarm with id" in str(exc)


def test_config_errors_name_the_field(tmp_path) -> None:
    from kit.errors import ConfigError
    from kit.runtime import Runtime
    from kit.settings import Settings

    rt = Runtime(Settings(data_dir=tmp_path))
    bad = {"rules": [{"type": "hi", "input": "t", "limti": 3}, {"type": "hot", "input": "t"}]}
    try:
        rt.validate_spec(ComponentSpec(name="a", type="alarms", asset=ASSET, config=bad))
        raise AssertionError("invalid config accepted")
    except ConfigError as exc:
        assert exc.problems == [
            "site config:1: rules[0].limit: Field required",
            "site config:1: rules[0].limti: unknown field",
            "site config:1: rules[1]: type must be one of hihi, hi, lo, lolo, rate, deviation, stale, bad_quality",
        ]
