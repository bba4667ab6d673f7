"""A hub stream the hub cannot read now never makes a site's stream vanish from the proof of
delivery: its rows stay, each saying why (``hub_stream_error``), in the table, in ``--json``
and as an alarm line. Real 1-node hub, a real site server on its leaf link, the hub streams
deleted (the readable stand-in for a stream lost during a leader election)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats
from click.testing import CliRunner

from kit.cli import cli
from kit.cli.hub_cmds import render_status
from kit.hub.config import HubState, add_site, site_credentials, write_credentials
from kit.hub.leaf import apply_link
from kit.hub.server import LocalHub
from kit.hub.service import LagMonitor
from kit.hub.sources import ensure_streams
from kit.hub.status import REPLY_PREFIX, SourceStatus, alarms, fleet_status
from kit.natsserver import EmbeddedNats
from kit.settings import HubLinkSettings, NatsSettings
from kit.testing import wait_for

SENT = 3


def _rows(rows: list[SourceStatus]) -> dict[tuple[str, str, str], SourceStatus]:
    return {(r.site, r.stream, r.hub_stream): r for r in rows}


async def test_unreadable_hub_stream_keeps_its_rows_with_the_reason(tmp_path: Path):
    state = HubState.create(1, client_port=0, leaf_port=0)
    add_site(state, "plant-a", raw_data=True)
    add_site(state, "plant-b")  # never connects
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    site = hnc = None
    try:
        creds = write_credentials(
            tmp_path / "a.json", site_credentials(state, "plant-a", hub.leaf_urls)
        )
        site = EmbeddedNats(NatsSettings(port=0), tmp_path / "plant-a")
        apply_link(site, "plant-a", HubLinkSettings(credentials=creds))
        await site.start()
        snc = await nats.connect(site.url)
        sjs = snc.jetstream()
        await sjs.add_stream(name="KIT_KPI", subjects=["kit.kpi.>"])
        for i in range(SENT):
            await sjs.publish("kit.kpi.plant-a.a.l.m.oee", str(i).encode())
        await snc.close()

        hnc = await nats.connect(
            hub.client_urls, inbox_prefix=REPLY_PREFIX, **hub.connect_options()
        )
        hjs = hnc.jetstream()
        await ensure_streams(hjs, state)

        async def a_in_sync():
            rows = _rows(await fleet_status(hnc))
            r = rows.get(("plant-a", "KIT_KPI", "FLEET_KPI"))
            return rows if r and r.site_reachable and r.lag_msgs == 0 else None

        before = await wait_for(a_in_sync, timeout=60, message="plant-a's KPIs at the hub")
        assert not any(r.hub_stream_error for r in before.values())

        # FLEET_KPI is gone: both sites' KPI rows are still there, saying why; the site's
        # own view is still shown; the other hub streams are unaffected.
        await hjs.delete_stream("FLEET_KPI")
        rows = await fleet_status(hnc)
        by = _rows(rows)
        assert set(by) == set(before)
        for s in ("plant-a", "plant-b"):
            err = by[(s, "KIT_KPI", "FLEET_KPI")].hub_stream_error
            assert err is not None and "stream not found" in err and "10059" in err
        a_kpi = by[("plant-a", "KIT_KPI", "FLEET_KPI")]
        assert a_kpi.site_reachable and a_kpi.site_last_seq == SENT
        assert a_kpi.hub_seq is None and a_kpi.completeness_pct is None  # unknown, not 0
        assert not by[("plant-b", "KIT_KPI", "FLEET_KPI")].site_reachable
        assert not any(r.hub_stream_error for r in rows if r.hub_stream != "FLEET_KPI")
        assert "ALARM plant-a KIT_KPI: hub stream FLEET_KPI not readable: stream not found" in (
            "\n".join(alarms(rows))
        )
        table = render_status(rows)
        a_line = next(
            ln for ln in table.splitlines() if ln.startswith("plant-a") and "KIT_KPI" in ln
        )
        assert "hub stream not readable: stream not found" in a_line

        # One site asked for: its row only, still there.
        (only_b,) = [r for r in await fleet_status(hnc, site="plant-b") if r.stream == "KIT_KPI"]
        assert only_b.site == "plant-b" and only_b.hub_stream_error

        # The command's --json carries it (the hub's state from its directory).
        out = await asyncio.to_thread(
            CliRunner().invoke, cli, ["fleet", "status", "--dir", str(tmp_path / "hub"), "--json"]
        )
        assert out.exit_code == 1  # a monitoring check: delivery cannot be proven now
        got = {(x["site"], x["stream"]): x["hub_stream_error"] for x in json.loads(out.output)}
        assert "stream not found" in got[("plant-a", "KIT_KPI")]
        assert "stream not found" in got[("plant-b", "KIT_KPI")]

        # Raw data only some sites send: which ones, only the hub's state knows.
        await hjs.delete_stream("FLEET_DATA")
        with_state = _rows(await fleet_status(hnc, state=state))
        assert "stream not found" in (
            with_state[("plant-a", "KIT_DATA", "FLEET_DATA")].hub_stream_error or ""
        )
        assert ("plant-b", "KIT_DATA", "FLEET_DATA") not in with_state  # plant-b sends none
    finally:
        if hnc is not None:
            await hnc.close()
        if site is not None:
            await site.stop()
        await hub.stop()


def test_monitor_keeps_an_alarm_while_the_hub_stream_is_unreadable():
    """An unreadable hub stream is no news: a raised lag alarm is not cleared by it."""
    mon = LagMonitor(HubState(max_lag_msgs=10, max_lag_s=None))
    (raised,) = mon.update(
        [SourceStatus(site="s1", stream="KIT_KPI", hub_stream="FLEET_KPI", lag_msgs=11)]
    )
    assert raised.type == "alarm_raised"
    unreadable = SourceStatus(
        site="s1", stream="KIT_KPI", hub_stream="FLEET_KPI", hub_stream_error="no answer"
    )
    assert mon.update([unreadable]) == []
    (cleared,) = mon.update(
        [SourceStatus(site="s1", stream="KIT_KPI", hub_stream="FLEET_KPI", lag_msgs=0)]
    )
    assert cleared.type == "alarm_cleared"
