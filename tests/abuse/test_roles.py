"""Roles against the real server and the real generated permissions (issue 19 item 9).

The viewer (and the technician) must not read secrets, create or delete consumers on streams
they have no business with, or read anyone else's replies; and they still must be able to do
their job (control API calls, last values).
"""

from __future__ import annotations

import json

import pytest

from kit.bus import KV_LAST
from kit.testing import wait_for

from .conftest import SECRET, quick_request, refused


@pytest.mark.parametrize("role", ["viewer", "technician"])
async def test_role_cannot_read_deployment_secrets(site, connect, role):
    c = await connect(role)
    js = c.nc.jetstream(timeout=1)

    async def get_record():
        kv = await js.key_value("KIT_DEPLOYMENTS")
        return await kv.get("line-1")

    await refused(c, "$JS.API.STREAM.INFO.KV_KIT_DEPLOYMENTS", get_record, f"{role}: KV info")

    async def direct_get():
        return await quick_request(
            c, "$JS.API.DIRECT.GET.KV_KIT_DEPLOYMENTS.$KV.KIT_DEPLOYMENTS.line-1"
        )

    await refused(c, "$JS.API.DIRECT.GET.KV_KIT_DEPLOYMENTS", direct_get, f"{role}: direct get")

    async def msg_get():
        return await quick_request(
            c, "$JS.API.STREAM.MSG.GET.KV_KIT_DEPLOYMENTS", json.dumps({"seq": 1}).encode()
        )

    await refused(c, "$JS.API.STREAM.MSG.GET.KV_KIT_DEPLOYMENTS", msg_get, f"{role}: msg get")

    async def consumer():
        return await js.add_consumer("KV_KIT_DEPLOYMENTS")

    await refused(
        c, "$JS.API.CONSUMER.CREATE.KV_KIT_DEPLOYMENTS", consumer, f"{role}: consumer on secrets"
    )
    # Nor through a raw subscription on the bucket's subjects.
    await refused(
        c,
        "$KV.KIT_DEPLOYMENTS.>",
        lambda: c.nc.subscribe("$KV.KIT_DEPLOYMENTS.>"),
        f"{role}: subscribe KV subjects",
    )
    assert not any(SECRET in e for e in c.errors)


@pytest.mark.parametrize("role", ["viewer", "technician"])
async def test_role_cannot_create_or_delete_consumers_on_streams(site, connect, role):
    c = await connect(role)
    js = c.nc.jetstream(timeout=1)
    for stream in ("KIT_DATA", "KIT_EVENTS", "KV_KIT_STATE", "KV_KIT_CONFIG"):

        async def create(stream=stream):
            return await js.add_consumer(stream, durable_name=f"{role}-snoop")

        await refused(c, f"CONSUMER.DURABLE.CREATE.{stream}", create, f"{role}: durable {stream}")

        async def ephemeral(stream=stream):
            return await js.add_consumer(stream)

        await refused(c, f"CONSUMER.CREATE.{stream}", ephemeral, f"{role}: ephemeral {stream}")

    async def delete():
        return await js.delete_consumer("KIT_DATA", "hist-durable")

    await refused(c, "CONSUMER.DELETE.KIT_DATA", delete, f"{role}: delete historian durable")
    # The historian's durable consumer is still there, untouched.
    info = await site.bus.js.consumer_info("KIT_DATA", "hist-durable")
    assert info.config.durable_name == "hist-durable"

    # The one stream a viewer may read (last values) refuses a durable name even on the
    # ephemeral create subject: the server checks it, so no durable can be made or replaced.
    reply = await quick_request(
        c,
        f"$JS.API.CONSUMER.CREATE.{'KV_' + KV_LAST}",
        json.dumps(
            {"stream_name": "KV_" + KV_LAST, "config": {"durable_name": "x", "ack_policy": "none"}}
        ).encode(),
    )
    assert "error" in json.loads(reply.data)


@pytest.mark.parametrize("role", ["viewer", "technician"])
async def test_role_cannot_snoop_inboxes(site, connect, role):
    c = await connect(role)
    for pattern in ("_INBOX.>", "_INBOX_admin.>", "_INBOX_c_src_1.>", ">"):
        await refused(
            c, pattern, lambda p=pattern: c.nc.subscribe(p), f"{role}: subscribe {pattern}"
        )
    other = "technician" if role == "viewer" else "viewer"
    await refused(
        c,
        f"_INBOX_{other}.>",
        lambda: c.nc.subscribe(f"_INBOX_{other}.>"),
        f"{role}: subscribe {other}'s inbox",
    )


async def test_viewer_replies_go_only_to_its_own_inbox(site, connect):
    """An admin watching everything sees the viewer's reply under _INBOX_viewer, and a
    technician subscribed to every subject it may read never receives it."""
    tech = await connect("technician")
    got: list[str] = []

    async def on_msg(m) -> None:
        got.append(m.subject)

    for s in ("kit.data.>", "kit.kpi.>", "kit.event.>", "kit.health.>", "_INBOX_technician.>"):
        await tech.nc.subscribe(s, cb=on_msg)
    await tech.nc.flush()
    v = await connect("viewer")
    reply = await v.nc.request("kit.control.status", b"", timeout=5)
    assert json.loads(reply.data)["ok"]
    assert reply.subject.startswith("_INBOX_viewer.")
    await tech.nc.flush()
    assert not [s for s in got if s.startswith("_INBOX_viewer")]


async def test_viewer_still_does_its_job(site, connect):
    """Least privilege must not break the viewer: control API reads and last values work."""
    v = await connect("viewer")
    reply = await v.nc.request("kit.control.components", b"", timeout=5)
    assert json.loads(reply.data)["ok"]
    kv = await v.nc.jetstream().key_value("KIT_LAST")

    async def has_keys() -> bool:
        try:
            return bool(await kv.keys())
        except Exception:  # NoKeysError before the first last value
            return False

    await wait_for(has_keys, timeout=10, message="viewer lists last values")
    key = (await kv.keys())[0]
    assert (await kv.get(key)).value
    assert not v.violations(), v.errors
