"""Bus hygiene of the data path (issue 18.6): KPIs/events resent once, state reads that fail.

Real nats-server throughout: the resend is the AckWindow's own reconnect path, the KV
outage is the server going away and coming back on the same store.
"""

import asyncio

from kit.components import ComponentContext
from kit.testing import wait_for


async def _resend_unacked(bus, publish) -> None:
    """Publish with the ack inbox muted (no ack arrives), then resend as after a reconnect."""
    await bus.acks._sub.unsubscribe()
    await publish()
    assert bus.acks.unacked, "the message is waiting for its ack"
    await bus.acks.resend()
    await bus.acks.start()  # acks of the resend arrive and empty the window
    await bus.sync_subscriptions()
    await bus.acks.resend()
    await bus.flush()


async def test_kpi_resent_after_reconnect_is_stored_once(bus):
    ctx = ComponentContext("oee-1", bus, asset="s/a/l/m")
    await _resend_unacked(bus, lambda: ctx.publish_kpi("oee", 0.5, window="rolling"))
    assert (await bus.js.stream_info("KIT_KPI")).state.messages == 1
    assert bus.acks.resent >= 1 and not bus.acks.unacked


async def test_event_resent_after_reconnect_is_stored_once(bus):
    ctx = ComponentContext("alarms-1", bus, asset="s/a/l/m")
    await _resend_unacked(bus, lambda: ctx.publish_event("alarm", "alarm_raised"))
    assert (await bus.js.stream_info("KIT_EVENTS")).state.messages == 1
    assert bus.acks.resent >= 1 and not bus.acks.unacked


async def test_state_read_during_an_outage_waits_instead_of_answering_none(
    bus, nats_server, caplog
):
    saved = {"shift_totals": [28800.0, 700.0], "shift_id": "2026-11-23/early"}
    await ComponentContext("oee-press1", bus).save_state(saved, "oee")
    await nats_server.stop()  # the KV is unavailable: reads time out / fail
    ctx = ComponentContext("oee-press1", bus)
    load = asyncio.get_running_loop().create_task(ctx.load_state("oee"))
    await wait_for(lambda: not bus.nc.is_connected, message="bus sees the outage")
    # The read fails at least once (its request times out) before the server returns.
    await wait_for(
        lambda: "saved state not readable yet" in caplog.text or load.done(),
        timeout=30,
        message="a failed state read",
    )
    assert not load.done(), f"answered {load.result()!r} while the KV was unreadable"
    await nats_server.start()  # same port, same store: the saved state is still there
    assert await asyncio.wait_for(load, 60) == saved
    # "No state" is still None, promptly.
    assert await ctx.load_state("never-saved") is None
