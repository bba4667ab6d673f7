"""The fleet screen: every site of a hub side by side (``kit tui --hub DIR|URL``).

The same view as ``kit fleet`` (:func:`kit.hub.view.fleet_view`): per site its kit version,
plugins, deployments with their commissioning result, health and when it last reported;
below, the KPIs per shift (OEE and kWh per part by default) per site and asset. It runs as
its own small app on an admin connection to the hub — a hub is not a runtime, so the
runtime screens (overview, catalog …) do not apply there.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Header, Static

from kit_tui.widgets.tables import row_table

#: Seconds between reloads of the view (the hub's data changes at the sites' pace).
RELOAD_S = 15.0

Loader = Callable[[], Awaitable[dict[str, Any]]]


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


class FleetScreen(Screen):
    """Sites table and KPIs-per-shift table, reloaded every :data:`RELOAD_S`."""

    BINDINGS = [Binding("r", "reload", "Refresh"), Binding("q", "app.quit", "Quit")]

    def __init__(self, load: Loader) -> None:
        super().__init__()
        self.load = load
        self.view: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield Static("Sites", classes="section")
        yield row_table(
            "fleet-sites",
            [
                ("site", "Site"),
                ("kit", "Kit"),
                ("deployments", "Deployments"),
                ("health", "Health"),
                ("plugins", "Plugins"),
                ("seen", "Last report"),
            ],
        )
        yield Static("KPIs per shift", classes="section")
        yield DataTable(id="fleet-shifts", cursor_type="row")
        yield Static("", id="fleet-status")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = "Fleet"
        self.action_reload()
        self.set_interval(RELOAD_S, self.action_reload)

    def action_reload(self) -> None:
        """Fetch the view again (in a worker: a slow hub never blocks a key press)."""
        self._fetch()

    @work(exclusive=True, group="fleet")
    async def _fetch(self) -> None:
        status = self.query_one("#fleet-status", Static)
        try:
            view = await self.load()
        except Exception as exc:  # shown, and the next reload tries again
            status.update(f"hub not reachable: {exc}")
            return
        self.show(view)
        status.update(f"{len(view['sites'])} site(s); r refreshes, q quits")

    def show(self, view: dict[str, Any]) -> None:
        """Fill both tables from a :func:`kit.hub.view.fleet_view` result."""
        self.view = view
        sites = self.query_one("#fleet-sites", DataTable)
        sites.clear()
        for c in view["sites"]:
            deps = ", ".join(
                f"{d['id']} {d['version']}" + (f" ({d['result']})" if d.get("result") else "")
                for d in c["deployments"]
            )
            plugins = ", ".join(f"{p['distribution']} {p['version']}" for p in c["plugins"])
            sites.add_row(
                c["site"],
                c["kit_version"] or "—",
                deps or "—",
                c["health"],
                plugins or "—",
                c["seen"] or "never",
                key=c["site"],
            )
        shifts = self.query_one("#fleet-shifts", DataTable)
        shifts.clear(columns=True)
        shifts.add_column("Shift", key="shift")
        shifts.add_column("Site", key="site")
        shifts.add_column("Asset", key="asset")
        for k in view["kpis"]:
            shifts.add_column(k, key=k)
        for r in view["shifts"]:
            shifts.add_row(
                r["shift"], r["site"], r["asset"], *(_fmt(r["values"].get(k)) for k in view["kpis"])
            )


class FleetApp(App[None]):
    """The fleet screen as its own app (``kit tui --hub``)."""

    TITLE = "Fast-Track Kit · fleet"

    def __init__(self, load: Loader) -> None:
        super().__init__()
        self.load = load

    def on_mount(self) -> None:
        self.push_screen(FleetScreen(self.load))


def hub_loader(url: str, options: dict[str, Any]) -> Loader:
    """A loader that reads the fleet view from the hub at ``url`` (one connection per load:
    a view every few seconds does not need a standing connection)."""
    from kit.cli.fleet_cmds import hub_connection
    from kit.hub.view import fleet_view

    async def load() -> dict[str, Any]:
        async with hub_connection(url, options) as nc:
            return await fleet_view(nc)

    return load
