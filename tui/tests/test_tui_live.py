"""Pilot-driven tests of the TUI against a real runtime (real nats-server, synthetic sources)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kit_tui.app import KitApp
from kit_tui.data.link import RuntimeLink
from kit_tui.messages import LiveDataChanged
from kit_tui.screens.asset import AssetScreen
from kit_tui.screens.overview import OverviewScreen
from kit_tui.screens.plugins import PluginsScreen
from kit_tui.widgets.banner import ConnectionBanner
from textual.widgets import DataTable

from kit.natsserver import EmbeddedNats
from kit.settings import ComponentSpec, NatsSettings
from kit.testing import wait_for

ASSETS = ("test/assembly/line1/press1", "test/machining/line2/cnc2")


@pytest.fixture
def settings(kit_settings):
    comps = [
        ComponentSpec(
            name=f"m{i}", type="synthetic", asset=a, config={"interval_s": 0.1, "seed": i + 1}
        )
        for i, a in enumerate(ASSETS)
    ]
    return kit_settings.model_copy(update={"components": comps})


def cell(table: DataTable, row: str, col: str) -> str:
    """Plain text of one cell."""
    return str(table.get_cell(row, col))


async def test_overview_shows_synthetic_assets_and_live_values(settings, make_runtime):
    rt = await make_runtime(settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        assert isinstance(app.screen, OverviewScreen)
        table = app.screen.query_one("#assets", DataTable)
        await wait_for(
            lambda: all(a in table.rows for a in ASSETS), message="both assets in the overview"
        )
        await wait_for(
            lambda: "running" in cell(table, ASSETS[0], "health"), message="component health shown"
        )
        await wait_for(
            lambda: cell(table, ASSETS[0], "quality").endswith("ok"), message="good quality shown"
        )
        # Live values keep arriving: the count of received points grows while we watch.
        seen = app.source.store.points_received
        await wait_for(lambda: app.source.store.points_received > seen + 16, message="more points")
        # Open the first asset with the keyboard and find its live power value.
        table.focus()
        table.move_cursor(row=table.get_row_index(ASSETS[0]))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, AssetScreen), message="asset screen")
        points = app.screen.query_one("#points", DataTable)
        await wait_for(lambda: "power_active_total_w" in points.rows, message="power point listed")
        store_value = app.source.store.assets[ASSETS[0]].points["power_active_total_w"]
        await wait_for(
            lambda: cell(points, "power_active_total_w", "value").endswith(" W"),
            message="power with unit",
        )
        assert store_value.unit == "W"
        assert "ok" in cell(points, "power_active_total_w", "quality")
        await pilot.press("escape")
        await wait_for(lambda: isinstance(app.screen, OverviewScreen), message="back to overview")


async def test_plugins_screen_lists_installed_plugins(settings, make_runtime):
    rt = await make_runtime(settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("6")
        await wait_for(lambda: isinstance(app.screen, PluginsScreen), message="plugins screen")
        table = app.screen.query_one("#plugins-table", DataTable)
        expected = {p.name for p in rt.host.info()}
        await wait_for(
            lambda: {k.value[2:] for k in table.rows} >= expected, message="all plugins listed"
        )
        assert "synthetic" in expected
        # kit-opcua is installed, so the certificate panel is served (the "not available" path
        # is covered with a plugin-less runtime in test_tui_wizard_flow.py).
        assert "opcua" in expected


async def test_number_keys_navigate_every_screen(settings, make_runtime):
    rt = await make_runtime(settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        for key, mode, _ in KitApp.NAV:
            await pilot.press(key)
            await wait_for(lambda m=mode: app.current_mode == m, message=f"mode {mode}")
        await pilot.press("question_mark")
        await wait_for(lambda: app.screen.__class__.__name__ == "HelpScreen", message="help")
        await pilot.press("escape")
        await wait_for(lambda: app.screen.__class__.__name__ != "HelpScreen", message="help closed")
        await pilot.press("1")
        await wait_for(lambda: app.current_mode == "overview", message="overview again")
        # The catalog opens with its list focused (not the search field), so the next number
        # key still switches screens.
        await pilot.press("2")
        await wait_for(
            lambda: (
                app.current_mode == "catalog"
                and app.focused is not None
                and app.focused.id == "recipes"
            ),
            message="catalog list focused",
        )
        await pilot.press("3")
        await wait_for(
            lambda: app.current_mode == "deployments", message="number key from the catalog"
        )


async def test_disconnected_banner_while_the_bus_is_down_then_recovery(
    settings, make_runtime, nats_server, tmp_path
):
    rt = await make_runtime(settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for(lambda: app.link.connected, message="connected")
        banner = app.screen.query_one(ConnectionBanner)
        assert not banner.has_class("-down")
        port = nats_server.port
        await nats_server.stop()
        await wait_for(lambda: banner.has_class("-down"), message="disconnected banner")
        assert "DISCONNECTED, retrying" in str(banner.render())
        # The UI still answers keys while the bus is down.
        await pilot.press("6")
        await wait_for(lambda: app.current_mode == "plugins", message="navigation while down")
        banner = app.screen.query_one(ConnectionBanner)
        await wait_for(lambda: banner.has_class("-down"), message="banner on the new screen")
        # The bus comes back on the same port: the banner goes away without any key press.
        again = EmbeddedNats(
            NatsSettings(port=port), tmp_path / "nats-data", server_name="kit-test"
        )
        await again.start()
        try:
            await wait_for(lambda: app.link.connected, timeout=20, message="reconnected")
            await wait_for(lambda: not banner.has_class("-down"), message="banner gone")
            await rt.stop()
        finally:
            await again.stop()


async def test_command_palette_reaches_a_screen(settings, make_runtime):
    rt = await make_runtime(settings)
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("ctrl+p")
        await wait_for(
            lambda: app.screen.__class__.__name__ == "CommandPalette", message="palette open"
        )
        await pilot.press(*list("alarms"))
        await wait_for(
            lambda: (
                app.screen.query("CommandList")
                and app.screen.query_one("CommandList").option_count > 0
            ),
            message="palette hits",
        )
        await pilot.press("enter")
        await wait_for(lambda: app.current_mode == "alarms", message="alarms via the palette")


async def test_live_data_notices_are_coalesced_not_one_per_message(kit_settings, make_runtime):
    # A fast source: many bus messages per refresh tick.
    comps = [
        ComponentSpec(
            name=f"f{i}", type="synthetic", asset=f"test/a/l/f{i}", config={"interval_s": 0.01}
        )
        for i in range(4)
    ]
    rt = await make_runtime(kit_settings.model_copy(update={"components": comps}))
    notices: list[LiveDataChanged] = []
    app = KitApp(RuntimeLink(rt.url), refresh_s=0.1)
    async with app.run_test(
        size=(80, 24),
        message_hook=lambda m: notices.append(m) if isinstance(m, LiveDataChanged) else None,
    ):
        store = app.source.store
        await wait_for(lambda: store.messages >= 400, timeout=30, message="400 bus messages")
        assert len(notices) * 5 < store.messages, (len(notices), store.messages)
        versions = [n.version for n in notices]
        assert versions == sorted(versions) and len(set(versions)) == len(versions), (
            "each notice carries news"
        )


async def test_last_values_from_kv_are_shown_and_marked_stale(kit_settings, make_runtime, bus):
    import json
    import time

    from kit_tui.data.store import LiveStore

    from kit.bus import KV_LAST

    asset = "test/assembly/line1/old1"
    spec = ComponentSpec(
        name="old", type="synthetic", asset=asset, config={"interval_s": 0.05, "max_batches": 3}
    )
    rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
    kv = await bus.kv(KV_LAST)

    async def last():
        try:
            entry = await kv.get("test.assembly.line1.old1")
        except Exception:
            return None
        return json.loads(entry.value)

    saved = await wait_for(last, message="last values in KIT_LAST")
    await wait_for(
        lambda: rt.supervisor.instances["old"].component.batches == 3, message="source finished"
    )
    # The TUI starts after the data stopped: only KIT_LAST can tell it anything. Its clock
    # runs an hour ahead, so those values must read as stale, not as live.
    store = LiveStore(clock=lambda: time.time() + 3600)
    app = KitApp(RuntimeLink(rt.url, store=store), refresh_s=0.05)
    async with app.run_test(size=(100, 30)) as pilot:
        table = app.screen.query_one("#assets", DataTable)
        await wait_for(lambda: asset in table.rows, message="asset from KIT_LAST")
        assert store.assets[asset].points["count_good"].value == saved["count_good"]["value"]
        await wait_for(lambda: "STALE" in cell(table, asset, "quality"), message="stale marker")
        assert cell(table, asset, "quality").startswith("◌"), "a symbol, not only a colour"
        table.focus()
        table.move_cursor(row=table.get_row_index(asset))
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, AssetScreen), message="asset screen")
        points = app.screen.query_one("#points", DataTable)
        await wait_for(lambda: "temperature_c" in points.rows, message="points listed")
        assert "STALE" in cell(points, "temperature_c", "quality")
        assert (
            cell(points, "temperature_c", "value") == f"{saved['temperature_c']['value']:,.4g} °C"
        )


async def test_screens_are_built_in_the_background_and_switching_is_not_masked():
    """The other top-level screens are built behind the overview after start (the user's
    screen never changes), and switching to a built screen skips Textual's 50 ms display
    mask (that hold was most of a key press's latency in a real terminal)."""
    from kit_tui.data.fixed import FixedSource

    app = KitApp(FixedSource.from_file(Path(__file__).parent / "sample-configs" / "site.json"))
    async with app.run_test(size=(80, 24)):
        await wait_for(lambda: app.current_mode == "overview", message="overview")
        modes = [mode for _, mode, _ in app.NAV]
        await wait_for(lambda: not app._prebuild, timeout=20, message="every screen built")
        assert app.current_mode == "overview"
        assert set(modes) <= set(app._screen_stacks)
        for mode in modes[1:] + modes[:1]:
            app.action_go(mode)
            assert app.current_mode == mode and app._batch_count == 0, mode
