"""Webhook routes on a real bus: filters, the sealed token, retry after the receiver was down,
and an undelivered message kept across a runtime restart (outbox in the component state)."""

from __future__ import annotations

from typing import Any

import pytest
from kit_notify.api import LOG, TEST
from kit_notify.secrets import set_secret

from kit import codec
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.errors import KitError
from kit.payloads import Health
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/assembly/line1/press1"
OTHER = "test/paint/line2/oven"


def notify_spec(mes_url: str, alarm_url: str) -> ComponentSpec:
    return ComponentSpec(
        name="notify",
        type="notify",
        config={
            "routes": [
                {
                    "name": "mes",
                    "type": "webhook",
                    "url": mes_url,
                    "token_secret": "mes_token",
                    "match": {"kinds": ["work_order"], "states": ["approved"]},
                },
                {
                    "name": "alarms",
                    "type": "webhook",
                    "url": alarm_url,
                    "match": {
                        "kinds": ["alarm"],
                        "types": ["alarm_raised"],
                        "min_priority": "high",
                        "areas": ["assembly"],
                    },
                    "retry": {"initial_s": 0.05, "max_s": 0.2},
                },
            ]
        },
    )


async def test_webhooks_filter_authenticate_retry_and_survive_a_restart(
    bus, kit_settings, make_runtime, receivers, port_later
):
    mes = receivers()
    down_port = port_later()  # nothing listens here until the receiver starts below
    set_secret(kit_settings.data_dir, "mes_token", "tok-123")
    settings = kit_settings.model_copy(
        update={"components": [notify_spec(mes.url, f"http://127.0.0.1:{down_port}/alarms")]}
    )
    health: list[Health] = []

    async def on_health(msg: Any) -> None:
        h = codec.decode_health(msg.data)
        if h.kind == "device":  # the routes' receivers, as kit status shows them
            health.append(h)

    await bus.nc.subscribe("kit.health.notify", cb=on_health)
    rt1 = await make_runtime(settings)
    n1 = rt1.supervisor.instances["notify"].component
    await wait_for(lambda: n1.ready, message="events consumer attached")

    models = ComponentContext("models", bus, asset=ASSET)
    plc = ComponentContext("alarms", bus, asset=ASSET)
    oven = ComponentContext("alarms", bus, asset=OTHER)
    approved = await models.publish_event(
        "work_order", "work_order_approved", data={"state": "approved", "work_order": "WO-7"}
    )
    await models.publish_event("work_order", "work_order_proposed", data={"state": "proposed"})
    await plc.publish_event("alarm", "alarm_raised", severity="medium", data={"priority": "medium"})
    await oven.publish_event(
        "alarm", "alarm_raised", severity="critical", data={"priority": "critical"}
    )
    await plc.publish_event("alarm", "alarm_cleared", data={"priority": "critical"})
    raised = await plc.publish_event(
        "alarm",
        "alarm_raised",
        severity="critical",
        message="pressure high",
        data={"priority": "critical"},
    )
    raised2 = await plc.publish_event(
        "alarm", "alarm_raised", severity="high", message="oil hot", data={"priority": "high"}
    )

    await wait_for(lambda: n1.stats["mes"].delivered == 1, message="work order delivered")
    assert len(mes.requests) == 1
    req = mes.requests[0]
    assert req["headers"]["Authorization"] == "Bearer tok-123"
    assert req["headers"]["Idempotency-Key"] == f"{approved.id}:mes"
    assert req["json"]["idempotency_key"] == f"{approved.id}:mes"
    assert req["json"]["event"]["id"] == approved.id
    assert req["json"]["event"]["data"] == {"state": "approved", "work_order": "WO-7"}

    # The alarm receiver is down: attempts fail and are retried; the delivery stays pending.
    await wait_for(lambda: n1.stats["alarms"].attempts_failed >= 3, message="retries")
    # Only the oldest delivery is tried while the receiver is down; the next one waits.
    head, nxt = n1.outbox.for_route("alarms")
    assert head.key == f"{raised.id}:alarms" and head.attempts == n1.stats["alarms"].attempts_failed
    assert nxt.attempts == 0 and nxt.due >= head.due
    m1 = n1.metrics()
    assert m1["routes"]["alarms"]["retrying"] == 1 and m1["routes"]["alarms"]["pending"] == 2
    assert m1["events"] == 7 and m1["matched"] == 3
    await rt1.stop()

    # A restart keeps the undelivered alarm (saved outbox) and resumes retrying it.
    rt2 = await make_runtime(settings)
    n2 = rt2.supervisor.instances["notify"].component
    await wait_for(lambda: n2.counts["restored"] == 2, message="outbox restored")
    await wait_for(lambda: n2.stats["alarms"].attempts_failed >= 1, message="retrying again")
    alarms = receivers(port=down_port)
    await wait_for(lambda: n2.stats["alarms"].delivered == 2, message="alarms delivered")
    assert [r["json"]["idempotency_key"] for r in alarms.requests] == [
        f"{raised.id}:alarms",
        f"{raised2.id}:alarms",
    ]
    assert alarms.requests[0]["json"]["event"]["message"] == "pressure high"
    assert "Authorization" not in alarms.requests[0]["headers"]
    # Nothing was sent twice: the work order was acknowledged before the restart.
    assert len(mes.requests) == 1 and n2.stats["mes"].delivered == 0
    m = n2.metrics()
    assert (m["delivered"], m["failed"], m["retrying"], m["pending"]) == (2, 0, 0, 0)
    assert [e["result"] for e in n2.journal][-1] == "delivered"
    # kit status saw the failing receiver as a degraded device, and its recovery.
    await wait_for(lambda: health and health[-1].status == "running", message="running again")
    degraded = [h for h in health if h.status == "degraded"]
    assert degraded and degraded[0].detail.startswith("receivers failing: alarms: ")
    assert "Connection refused" in degraded[0].detail


async def test_a_rejected_webhook_is_given_up_at_once_and_test_and_log_endpoints(
    bus, kit_settings, make_runtime, receivers, tls_files
):
    bad, good, secure = receivers(status=400), receivers(), receivers(tls=tls_files)
    spec = ComponentSpec(
        name="n400",
        type="notify",
        config={
            "routes": [
                {
                    "name": "mes",
                    "type": "webhook",
                    "url": bad.url,
                    "match": {"kinds": ["work_order"]},
                },
                {"name": "ok", "type": "webhook", "url": good.url, "match": {"kinds": []}},
                # HTTPS with a site-internal certificate: trusted through tls_ca only.
                {
                    "name": "tls",
                    "type": "webhook",
                    "url": secure.url,
                    "match": {"kinds": ["none"]},
                    "tls_ca": str(tls_files[0]),
                },
                {
                    "name": "untrusted",
                    "type": "webhook",
                    "url": secure.url,
                    "match": {"kinds": ["none"]},
                    "retry": {"initial_s": 60},
                },
            ]
        },
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
    n = rt.supervisor.instances["n400"].component
    await wait_for(lambda: n.ready, message="consumer attached")
    wo = await ComponentContext("models", bus, asset=ASSET).publish_event("work_order", "x")
    await wait_for(lambda: n.stats["mes"].failed == 1, message="given up")
    assert len(bad.requests) == 1 and n.stats["mes"].attempts_failed == 0
    assert "HTTP 400" in n.stats["mes"].last_error

    # notify.test sends a test event on one route (filters skipped) and reports the outcome.
    client = ControlClient(rt.bus)
    ok = await client.call(TEST, {"route": "ok"})
    assert ok.result == "delivered" and ok.key.endswith(":ok")
    test_events = [r for r in good.requests if r["json"]["event"]["type"] == "notify_test"]
    assert [r["json"]["idempotency_key"] for r in test_events] == [ok.key]
    assert test_events[0]["json"]["event"]["asset"] == "test/kit/notify/n400"
    bad_test = await client.call(TEST, {"route": "mes"})
    assert bad_test.result == "failed" and "HTTP 400" in bad_test.detail
    with pytest.raises(KitError, match="no running notify component has a route 'nope'"):
        await client.call(TEST, {"route": "nope"})

    tls = await client.call(TEST, {"route": "tls"})
    assert tls.result == "delivered" and [
        r["json"]["idempotency_key"] for r in secure.requests
    ] == [tls.key]
    untrusted = await client.call(TEST, {"route": "untrusted"})
    assert untrusted.result == "retrying" and "CERTIFICATE_VERIFY_FAILED" in untrusted.detail
    assert len(secure.requests) == 1

    log = await client.call(LOG, {"route": "mes"})
    assert [(e.key, e.result) for e in log.entries] == [
        (f"{wo.id}:mes", "failed"),
        (bad_test.key, "failed"),
    ]
    assert log.pending == {"n400/mes": 0, "n400/ok": 0, "n400/tls": 0, "n400/untrusted": 1}


async def test_a_missing_secret_is_a_clear_component_error(kit_settings, make_runtime):
    spec = ComponentSpec(
        name="nosecret",
        type="notify",
        config={
            "routes": [
                {
                    "name": "mes",
                    "type": "webhook",
                    "url": "http://127.0.0.1:9/x",
                    "token_secret": "nope",
                }
            ]
        },
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
    inst = rt.supervisor.instances["nosecret"]
    await wait_for(lambda: inst.last_error, message="component error")
    assert "secret 'nope' is not set" in inst.last_error
    assert "kit notify secret set nope" in inst.last_error


async def test_rate_limit_drops_or_defers(bus, kit_settings, make_runtime, receivers):
    rx = receivers()
    route = {"type": "webhook", "url": rx.url, "match": {"kinds": ["alarm"]}}
    spec = ComponentSpec(
        name="limited",
        type="notify",
        config={
            "routes": [
                {
                    **route,
                    "name": "drop",
                    "rate_limit": {"count": 2, "per_s": 3600, "over_limit": "drop"},
                },
                {**route, "name": "defer", "rate_limit": {"count": 1, "per_s": 3600}},
            ]
        },
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
    n = rt.supervisor.instances["limited"].component
    await wait_for(lambda: n.ready, message="consumer attached")
    plc = ComponentContext("alarms", bus, asset=ASSET)
    for k in range(5):
        await plc.publish_event("alarm", "alarm_raised", message=f"a{k}")
    await wait_for(lambda: n.stats["drop"].dropped == 3, message="three dropped")
    await wait_for(lambda: n.stats["defer"].rate_limited == 4, message="four deferred")
    m = n.metrics()["routes"]
    assert (m["drop"]["delivered"], m["drop"]["rate_limited"], m["drop"]["pending"]) == (2, 3, 0)
    assert (m["defer"]["delivered"], m["defer"]["dropped"], m["defer"]["pending"]) == (1, 0, 4)
    # The first events went out, in order; the deferred ones wait in the outbox, not lost.
    by_route: dict[str, list[str]] = {}
    for r in rx.requests:
        by_route.setdefault(r["json"]["route"], []).append(r["json"]["event"]["message"])
    assert by_route == {"drop": ["a0", "a1"], "defer": ["a0"]}
    assert sorted(d.event["message"] for d in n.outbox.for_route("defer")) == [
        "a1",
        "a2",
        "a3",
        "a4",
    ]
