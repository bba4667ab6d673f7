"""Component users against the real server (issue 19 item 10 and the component side of 9/12).

``src-1`` is bound to asset m1 and ``src-2`` to m2; both come from a plugin whose manifest
declares ``kit.data.>`` and ``kit.kpi.>``. Each instance may publish for its own asset only.
"""

from __future__ import annotations

import json

from kit.testing import wait_for

from .conftest import quick_request, refused

M1, M2 = "t.a.l.m1", "t.a.l.m2"


async def test_component_cannot_publish_for_another_asset(site, connect):
    c = await connect("c-src-1")
    cases = {
        f"kit.data.{M2}": b"{}",
        f"$KV.KIT_LAST.{M2}": b"{}",
        f"kit.kpi.{M2}.oee": b"{}",
        f"kit.event.alarm.{M2}": b"{}",
        "kit.health.src-2": b"{}",
        "kit.data.t.a.l.m1x": b"{}",
    }
    for subject, data in cases.items():
        await refused(
            c, subject, lambda s=subject, d=data: c.nc.publish(s, d), f"src-1: publish {subject}"
        )
    # Its own asset still works, on the same connection: data, KPI, event and last value.
    for subject in (f"kit.data.{M1}", f"kit.kpi.{M1}.oee"):  # events: not declared
        await c.nc.publish(subject, b"{}")
    kv = await site.bus.kv("KIT_LAST")

    async def own_last() -> bool:
        try:
            return bool((await kv.get(M1)).value)
        except Exception:  # KeyNotFoundError until the first flush
            return False

    await wait_for(own_last, message="src-1's own last value stored")
    await c.nc.flush()
    assert not [v for v in c.violations() if M1 + '"' in v], c.errors
    # Nothing for m2 came from src-1: every m2 batch in the stream was published by src-2.
    info = await site.bus.js.stream_info("KIT_DATA", subjects_filter=f"kit.data.{M2}")
    assert info.state.messages > 0
    psub = await site.bus.js.pull_subscribe(f"kit.data.{M2}", stream="KIT_DATA")
    msgs = await psub.fetch(min(50, info.state.messages), timeout=5)
    assert {json.loads(m.data)["source"] for m in msgs} == {"src-2"}


async def test_running_components_are_not_denied(site):
    """The narrowed grants still let the real components do their work."""

    async def both_published() -> bool:
        for a in (M1, M2):
            i = await site.bus.js.stream_info("KIT_DATA", subjects_filter=f"kit.data.{a}")
            if not i.state.messages:
                return False
        return True

    await wait_for(both_published, message="both sources stored data")
    await wait_for(lambda: site.supervisor.instances["hist"].component is not None)
    assert not any(site.component_buses.violations.values()), (
        site.component_buses.violation_subjects
    )


async def test_component_cannot_read_secrets_or_call_the_control_api(site, connect):
    c = await connect("c-src-1")
    await refused(
        c,
        "$JS.API.DIRECT.GET.KV_KIT_DEPLOYMENTS",
        lambda: quick_request(
            c, "$JS.API.DIRECT.GET.KV_KIT_DEPLOYMENTS.$KV.KIT_DEPLOYMENTS.line-1"
        ),
        "src-1: read deployment secrets",
    )
    await refused(
        c,
        "kit.control.components.restart",
        lambda: quick_request(c, "kit.control.components.restart", b'{"name": "hist"}'),
        "src-1: control API",
    )
    await refused(
        c, "_INBOX.>", lambda: c.nc.subscribe("_INBOX.>"), "src-1: snoop the default inbox"
    )
    await refused(
        c,
        "_INBOX_c_src_2.>",
        lambda: c.nc.subscribe("_INBOX_c_src_2.>"),
        "src-1: snoop another component's inbox",
    )
    await refused(
        c,
        "CONSUMER.DELETE.KIT_DATA",
        lambda: c.nc.jetstream(timeout=1).delete_consumer("KIT_DATA", "hist-durable"),
        "src-1: delete the historian's durable",
    )
    assert (await site.bus.js.consumer_info("KIT_DATA", "hist-durable")).name == "hist-durable"
