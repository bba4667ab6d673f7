"""The TUI's fleet screen against a real 1-node hub and a real site server (leaf node).

The site's streams get an inventory event and shift KPIs as a site runtime would publish
them; the hub sources them; the screen shows them through ``kit.hub.view.fleet_view``.
"""

from __future__ import annotations

import json
from pathlib import Path

import nats
from kit_tui.screens.fleet import FleetApp, FleetScreen, hub_loader
from textual.widgets import DataTable

from kit.hub.config import HubState, add_site, site_credentials, write_credentials
from kit.hub.leaf import apply_link
from kit.hub.server import LocalHub
from kit.hub.sources import ensure_streams
from kit.hub.view import fleet_view
from kit.natsserver import EmbeddedNats
from kit.settings import HubLinkSettings, NatsSettings
from kit.testing import wait_for

INVENTORY = {
    "kind": "inventory",
    "type": "site_inventory",
    "asset": "plant-t/kit/runtime/site",
    "ts": "2026-12-07T06:00:00+00:00",
    "source": "runtime",
    "data": {
        "kit_version": "9.8.7",
        "plugins": [{"distribution": "kit-oee", "version": "1.2.3"}],
        "deployments": [
            {"id": "oee-cell", "recipe": "oee-machine", "version": "1.0.0", "result": "pass"}
        ],
        "components": {"oee-cell-machine": "running", "oee-cell-oee": "failed"},
    },
}


async def test_fleet_screen_shows_sites_and_shift_kpis(tmp_path: Path):
    state = HubState.create(1, client_port=0, leaf_port=0)
    add_site(state, "plant-t")
    hub = LocalHub(tmp_path / "hub", state)
    await hub.start()
    site = None
    try:
        creds = write_credentials(
            tmp_path / "t.json", site_credentials(state, "plant-t", hub.leaf_urls)
        )
        site = EmbeddedNats(NatsSettings(port=0), tmp_path / "plant-t")
        apply_link(site, "plant-t", HubLinkSettings(credentials=creds))
        await site.start()
        snc = await nats.connect(site.url)
        sjs = snc.jetstream()
        await sjs.add_stream(name="KIT_EVENTS", subjects=["kit.event.>"])
        await sjs.add_stream(name="KIT_KPI", subjects=["kit.kpi.>"])
        await sjs.publish(
            "kit.event.inventory.plant-t.kit.runtime.site", json.dumps(INVENTORY).encode()
        )
        for kpi, value in (("oee", 0.72), ("energy_per_part_kwh", 2.5)):
            v = {
                "asset": "plant-t/press/l1/m1",
                "kpi": kpi,
                "value": value,
                "ts": "2026-12-07T06:00:00+00:00",
                "window": "shift:2026-12-07/early",
                "source": "t",
            }
            await sjs.publish(f"kit.kpi.plant-t.press.l1.m1.{kpi}", json.dumps(v).encode())
        await snc.close()
        hnc = await nats.connect(hub.client_urls, **hub.connect_options())
        await ensure_streams(hnc.jetstream(), state)

        async def arrived():
            v = await fleet_view(hnc)
            return v if v["sites"][0]["seen"] and len(v["shifts"]) == 1 else None

        await wait_for(arrived, timeout=60, message="inventory and KPIs at the hub")
        await hnc.close()

        app = FleetApp(hub_loader(",".join(hub.client_urls), hub.connect_options()))
        async with app.run_test(size=(160, 40)) as pilot:
            screen = app.screen
            assert isinstance(screen, FleetScreen)
            await wait_for(lambda: screen.view is not None, timeout=30, message="first load")
            await pilot.pause()
            sites = screen.query_one("#fleet-sites", DataTable)
            row = [str(c) for c in sites.get_row("plant-t")]
            assert row[:4] == ["plant-t", "9.8.7", "oee-cell 1.0.0 (pass)", "oee-cell-oee failed"]
            assert row[4] == "kit-oee 1.2.3"
            shifts = screen.query_one("#fleet-shifts", DataTable)
            assert shifts.row_count == 1
            assert [str(c) for c in shifts.get_row_at(0)] == [
                "2026-12-07/early",
                "plant-t",
                "plant-t/press/l1/m1",
                "0.720",
                "2.500",
            ]
    finally:
        if site:
            await site.stop()
        await hub.stop()
