"""The hub's control API and lag alarm: a site goes away, the hub raises a kit alarm event;
it comes back and catches up, the alarm clears. Real 1-node hub and a real site server."""

from __future__ import annotations

import json
from pathlib import Path

import nats

from kit.hub.config import HubState, add_site, site_credentials, write_credentials
from kit.hub.leaf import apply_link
from kit.hub.server import LocalHub
from kit.hub.service import ALARM_STREAM, STATUS_SUBJECT, HubService, LagMonitor
from kit.hub.sources import ensure_streams, restart_site_sources
from kit.hub.status import REPLY_PREFIX, SourceStatus
from kit.hub.watch import reachable
from kit.natsserver import EmbeddedNats
from kit.settings import HubLinkSettings, NatsSettings
from kit.testing import wait_for


def test_monitor_raises_once_and_clears():
    state = HubState(max_lag_msgs=10, max_lag_s=None)
    mon = LagMonitor(state)
    row = SourceStatus(site="s1", stream="KIT_KPI", hub_stream="FLEET_KPI", lag_msgs=11)
    (ev,) = mon.update([row])
    assert (ev.kind, ev.type, ev.asset) == ("alarm", "alarm_raised", "hub/fleet/s1/kit_kpi")
    assert "lag 11 messages > 10" in ev.message and ev.data["site"] == "s1"
    assert mon.update([row]) == []  # still over: no repeat
    row.lag_msgs = 10  # at the limit is within it
    (ev,) = mon.update([row])
    assert ev.type == "alarm_cleared"


async def _site(tmp: Path, site: str, creds: Path) -> EmbeddedNats:
    srv = EmbeddedNats(NatsSettings(port=0), tmp / site)
    apply_link(srv, site, HubLinkSettings(credentials=creds))
    await srv.start()
    return srv


async def _send(url: str, site: str, n: int) -> None:
    nc = await nats.connect(url)
    js = nc.jetstream()
    try:
        await js.stream_info("KIT_KPI")
    except Exception:
        await js.add_stream(name="KIT_KPI", subjects=["kit.kpi.>"])
    for i in range(n):
        await js.publish(f"kit.kpi.{site}.a.l.m.oee", str(i).encode())
    await nc.close()


async def test_lag_alarm_raised_and_cleared_and_status_served(tmp_path: Path):
    state = HubState.create(1, client_port=0, leaf_port=0)
    state.max_lag_s = 1.0
    add_site(state, "plant-x")
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    site = None
    nc = client = None
    try:
        creds = write_credentials(
            tmp_path / "x.json", site_credentials(state, "plant-x", hub.leaf_urls)
        )
        site = await _site(tmp_path, "plant-x", creds)
        await _send(site.url, "plant-x", 5)
        nc = await nats.connect(hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options())
        await ensure_streams(nc.jetstream(), state)
        service = HubService(nc, state, interval=0.2)
        await service.start()
        client = await nats.connect(
            hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options()
        )

        async def status() -> dict:
            msg = await client.request(STATUS_SUBJECT, b"{}", timeout=10)
            return json.loads(msg.data)

        async def in_sync():
            st = await status()
            kpi = [s for s in st["sources"] if s["stream"] == "KIT_KPI"]
            return (
                st
                if kpi and kpi[0]["completeness_pct"] == 100.0 and kpi[0]["lag_msgs"] == 0
                else None
            )

        st = await wait_for(in_sync, timeout=60, message="site in sync, via the control API")
        assert st["alarms"] == [] and st["limits"] == {"max_lag_msgs": None, "max_lag_s": 1.0}
        assert await service.check_once() == []

        # The site goes away; once the hub has not heard from it for over 1 s: alarm.
        await site.stop()
        site = None

        async def raised():
            return [e for e in await service.check_once() if e.type == "alarm_raised"]

        (ev,) = await wait_for(raised, timeout=60, message="lag alarm")
        assert ev.data["site"] == "plant-x" and ev.data["stream"] == "KIT_KPI"
        assert ev.data["lag_s"] > 1.0 and not ev.data["site_reachable"]
        st = await status()
        assert any(a.startswith("ALARM plant-x KIT_KPI: lag") for a in st["alarms"])
        # Kept at the hub as a kit event.
        stored = await nc.jetstream().get_last_msg(
            ALARM_STREAM, "kit.event.alarm.hub.fleet.plant-x.kit_kpi"
        )
        assert json.loads(stored.data)["type"] == "alarm_raised"

        # It comes back (same data) and catches up: the alarm clears.
        site = await _site(tmp_path, "plant-x", creds)
        await _send(site.url, "plant-x", 3)
        await wait_for(lambda: reachable(nc, "plant-x"), timeout=60, message="link back")
        await restart_site_sources(nc.jetstream(), state, "plant-x")

        async def cleared():
            return [e for e in await service.check_once() if e.type == "alarm_cleared"]

        (ev,) = await wait_for(cleared, timeout=60, message="alarm cleared")
        assert ev.data["lag_msgs"] == 0 and ev.data["site_reachable"]
    finally:
        for c in (client, nc):
            if c is not None:
                await c.close()
        if site:
            await site.stop()
        await hub.stop()


async def test_site_limits_hold_while_the_hub_is_away_and_losses_are_named(tmp_path: Path):
    """The site's own retention limits apply while its link is down (here: the hub is away);
    what the site dropped before the hub had it is named as lost, not hidden. Also: bytes/s
    on the leaf link from the hub nodes' counters."""
    import asyncio

    from kit.hub.link import link_rates
    from kit.hub.status import alarms, fleet_status

    state = HubState.create(1, client_port=0, leaf_port=0)
    add_site(state, "plant-x")
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    assert state.monitor_bound and state.monitor_bound[0] > 0
    site = snc = nc = None
    try:
        creds = write_credentials(
            tmp_path / "x.json", site_credentials(state, "plant-x", hub.leaf_urls)
        )
        site = await _site(tmp_path, "plant-x", creds)
        snc = await nats.connect(site.url)
        sjs = snc.jetstream()
        await sjs.add_stream(name="KIT_KPI", subjects=["kit.kpi.>"], max_msgs=50)
        nc = await nats.connect(hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options())
        await ensure_streams(nc.jetstream(), state)

        async def publish(start: int, n: int) -> None:
            for i in range(start, start + n):
                await sjs.publish("kit.kpi.plant-x.a.l.m.oee", b"x" * 200 + str(i).encode())

        # Bytes/s on the link while the site sends (the sources carry them to the hub).
        sending = asyncio.get_running_loop().create_task(publish(0, 10))
        rates = await link_rates(state, window=0.5)
        await sending
        assert rates["plant-x"].in_bytes > 0 and rates["plant-x"].out_bytes > 0

        async def kpi_row():
            return next(r for r in await fleet_status(nc) if r.stream == "KIT_KPI")

        async def complete_to(n):
            r = await kpi_row()
            return r if r.site_reachable and r.site_last_seq == n and r.lag_msgs == 0 else None

        await wait_for(lambda: complete_to(10), timeout=60, message="first 10 at the hub")

        # The hub goes away; the site keeps 50 messages at most and receives 90 more.
        await nc.close()
        nc = None
        await hub.stop()
        await publish(10, 90)
        info = await sjs.stream_info("KIT_KPI")
        assert (info.state.first_seq, info.state.last_seq, info.state.messages) == (51, 100, 50)

        hub = LocalHub(tmp_path / "hub", HubState.load(tmp_path / "hub"))
        await hub.start()
        nc = await nats.connect(hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options())
        await wait_for(lambda: reachable(nc, "plant-x"), timeout=60, message="link back")
        await restart_site_sources(nc.jetstream(), hub.state, "plant-x")
        row = await wait_for(lambda: complete_to(100), timeout=60, message="caught up")
        assert row.lost == [(11, 50)]  # dropped by the site's limit before the hub had them
        assert row.completeness_pct == 100.0 and row.gaps == []  # of what the site still has
        assert any("lost at the site before delivery: 11-50" in a for a in alarms([row]))
    finally:
        for c in (snc, nc):
            if c is not None:
                await c.close()
        if site:
            await site.stop()
        await hub.stop()


async def test_sampled_raw_data_reaches_the_hub(tmp_path: Path):
    """``--raw-data sampled``: the hub gets one raw batch per asset per ``raw_sample_s``
    (by the batches' own timestamps), byte for byte, complete by sequence."""
    from datetime import datetime

    from kit.hub.status import fleet_status
    from kit.runtime import Runtime
    from kit.settings import ComponentSpec, Settings, SupervisorSettings

    state = HubState.create(1, client_port=0, leaf_port=0)
    add_site(state, "plant-s", raw_data="sampled")
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    rt = nc = None
    try:
        creds = write_credentials(
            tmp_path / "s.json", site_credentials(state, "plant-s", hub.leaf_urls)
        )
        rt = Runtime(
            Settings(
                site="plant-s",
                data_dir=tmp_path / "plant-s",
                nats=NatsSettings(port=0),
                hub=HubLinkSettings(credentials=creds, raw_sample_s=0.5),
                supervisor=SupervisorSettings(heartbeat_s=0.5),
                history=False,
                components=[
                    ComponentSpec(
                        name="m1",
                        type="synthetic",
                        asset="plant-s/area/line/m1",
                        config={"interval_s": 0.05},
                    )
                ],
            )
        )
        await rt.start()
        nc = await nats.connect(hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options())
        await ensure_streams(nc.jetstream(), state)

        async def five_sampled():
            rows = [r for r in await fleet_status(nc) if r.stream == "KIT_DATA_SAMPLED"]
            ok = rows and rows[0].site_reachable and rows[0].present >= 5 and rows[0].lag_msgs == 0
            return rows[0] if ok else None

        row = await wait_for(five_sampled, timeout=60, message="5 sampled batches at the hub")
        assert row.hub_stream == "FLEET_DATA" and row.duplicates == 0 and row.gaps == []
        js = nc.jetstream()
        sub = await js.subscribe(
            "kit.sampled.plant-s.>", stream="FLEET_DATA", ordered_consumer=True
        )
        got = [await sub.next_msg(timeout=5) for _ in range(5)]
        await sub.unsubscribe()
        stamps = [datetime.fromisoformat(json.loads(m.data)["ts"]) for m in got]
        assert all((b - a).total_seconds() >= 0.5 for a, b in zip(stamps, stamps[1:]))
        # Byte for byte one of the site's raw batches (original timestamps).
        raw = {
            (await rt.bus.js.get_msg("KIT_DATA", s)).data
            for s in range(1, (await rt.bus.js.stream_info("KIT_DATA")).state.last_seq + 1)
        }
        assert all(m.data in raw for m in got)
        # Far fewer than the raw batches: the point of sampling (10x here, by timestamps).
        assert (await js.stream_info("FLEET_DATA")).state.messages < len(raw) / 4
    finally:
        if nc is not None:
            await nc.close()
        if rt is not None:
            await rt.stop()
        await hub.stop()
