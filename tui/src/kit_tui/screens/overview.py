"""Overview: every site, line and asset with connection health, data quality and the
headline KPIs (OEE, kWh today, active alarms), plus the installed deployments.

Stale or bad data is marked with a symbol and a word, not colour alone.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from kit.api import core as core_api
from kit.api import deployments as dep_api
from kit_tui.data import plugin_api
from kit_tui.data.format import (
    HEALTH,
    age_text,
    percent_text,
    quality_text,
    value_text,
)
from kit_tui.data.store import AssetState, LiveStore
from kit_tui.messages import OpenAsset
from kit_tui.screens.base import KitScreen
from kit_tui.widgets.pilots import PilotPanel
from kit_tui.widgets.tables import row_table

#: Headline OEE: the OEE plugin's ``oee`` of the current shift, else of its rolling window.
OEE_KPIS = ("oee",)
OEE_WINDOWS = ("shift", "rolling", "")
#: Headline energy today: the energy plugin's ``energy_kwh`` of its ``day:`` window (the
#: same KPI is also published per hour and per shift, which must not be shown as "today").
ENERGY_TODAY_KPIS = ("energy_kwh",)
ENERGY_TODAY_WINDOWS = ("day",)


def headline_oee(store: LiveStore, asset: str) -> dict[str, Any] | None:
    """The OEE shown on the overview for ``asset`` (None: no OEE published)."""
    return store.kpi(asset, *OEE_KPIS, windows=OEE_WINDOWS)


def energy_today(store: LiveStore, asset: str) -> dict[str, Any] | None:
    """Today's energy of ``asset`` (None: no day window published yet)."""
    return store.kpi(asset, *ENERGY_TODAY_KPIS, windows=ENERGY_TODAY_WINDOWS)


COLUMNS = (
    ("asset", "Asset"),
    ("health", "Health"),
    ("quality", "Quality"),
    ("age", "Age"),
    ("oee", "OEE"),
    ("kwh", "kWh today"),
    ("alarms", "Alarms"),
)


def asset_health(
    path: str, components: list[core_api.ComponentSummary], store: LiveStore
) -> tuple[str, str]:
    """Worst health of the components feeding ``path`` (live health messages win)."""
    order = ["failed", "backoff", "degraded", "starting", "stopped", "running"]
    statuses = []
    for c in components:
        if c.asset == path:
            live = store.health.get(c.name, {})
            statuses.append(live.get("status") or c.status or "stopped")
    if not statuses:
        return "—", "bright_black"
    worst = min(statuses, key=lambda s: order.index(s) if s in order else 0)
    sym, style = HEALTH.get(worst, ("?", "yellow"))
    return f"{sym} {worst}", style


def asset_quality(a: AssetState, store: LiveStore) -> tuple[str, str]:
    """One label for the asset: stale beats bad beats uncertain beats ok."""
    if not a.points:
        return quality_text("none")
    if store.is_stale(a):
        return quality_text("stale")
    q = store.quality_summary(a)
    if q["bad"]:
        label, style = quality_text("bad")
        return f"{label} {q['bad']}/{len(a.points)}", style
    if q["uncertain"] or q["stale"]:
        label, style = quality_text("uncertain" if q["uncertain"] else "stale")
        return f"{label} {q['uncertain'] + q['stale']}", style
    return quality_text("good")


class OverviewScreen(KitScreen):
    """Sites → lines → assets, live."""

    TITLE_TEXT = "Overview"
    BINDINGS = [Binding("enter", "open_asset", "Open asset", show=True)]

    def __init__(self) -> None:
        super().__init__()
        self.components: list[core_api.ComponentSummary] = []
        self.alarms: list[Any] | None = None
        self.deployments: list[dep_api.DeploymentSummary] | None = None
        self._layout: tuple[str, ...] = ()
        self._shown: dict[str, list[Any]] = {}

    def compose_body(self) -> ComposeResult:
        table = row_table("assets", COLUMNS, zebra_stripes=False)
        yield table
        yield Static("", id="deployments-summary", markup=False)
        yield PilotPanel(id="pilots")

    def reload(self) -> None:
        self.fetch()

    @work(exclusive=True, group="overview")
    async def fetch(self) -> None:
        """Components, alarms and deployments from the control API (each optional)."""
        try:
            self.components = (await self.call(core_api.COMPONENTS)).root
        except Exception as exc:
            self.notify(self.explain(exc), severity="warning")
        # Optional endpoints: the columns show "—" when a runtime lacks them.
        try:
            self.alarms = (
                await self.call(plugin_api.spec("alarms.list"), {"active_only": True})
            ).root
        except Exception:
            self.alarms = None
        try:
            self.deployments = (await self.call(dep_api.LIST)).deployments
        except Exception:
            self.deployments = None
        try:  # optional: the pilot plugin's endpoint
            pilots = (await self.call(plugin_api.spec("pilots.progress"), {})).root
        except Exception:
            pilots = None
        if found := self.query("#pilots"):
            found.first(PilotPanel).show(pilots)
        self.live_update()

    def alarm_count(self, path: str) -> str:
        """Active alarms of ``path``, or ``—`` when the runtime has no alarms endpoint."""
        if self.alarms is None:
            return "—"
        n = sum(1 for a in self.alarms if a.asset == path and a.state not in ("normal", "cleared"))
        return str(n)

    def live_update(self) -> None:
        store = self.kit.source.store
        found = self.query("#assets")
        if not found:  # a refresh tick can land while the screen is mounting or being torn down
            return
        table = found.first(DataTable)
        assets = sorted(store.assets.values(), key=lambda a: a.parts)
        layout: list[str] = []
        rows: list[tuple[str, list[Any]]] = []
        group = None
        for a in assets:
            site, area, line, name = a.parts
            if (site, area, line) != group:
                group = (site, area, line)
                key = f"hdr:{site}/{area}/{line}"
                layout.append(key)
                rows.append(
                    (key, [Text(f"{site} › {area} › {line}", style="bold"), "", "", "", "", "", ""])
                )
            layout.append(a.path)
            rows.append((a.path, self._asset_row(a, store)))
        if tuple(layout) != self._layout:
            cursor = table.cursor_row
            table.clear()
            for key, cells in rows:
                table.add_row(*cells, key=key)
            self._layout = tuple(layout)
            if rows:
                table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))
        else:
            for key, cells in rows:
                old = self._shown.get(key)
                for i, ((col, _), cell) in enumerate(zip(COLUMNS, cells, strict=True)):
                    # Touch only cells whose text changed: each update re-measures the column.
                    if (
                        old is None
                        or str(old[i]) != str(cell)
                        or getattr(old[i], "style", None) != getattr(cell, "style", None)
                    ):
                        table.update_cell(key, col, cell, update_width=True)
        self._shown = dict(rows)
        self._update_deployments(store)

    def _asset_row(self, a: AssetState, store: LiveStore) -> list[Any]:
        health, hstyle = asset_health(a.path, self.components, store)
        qual, qstyle = asset_quality(a, store)
        oee = headline_oee(store, a.path)
        kwh = energy_today(store, a.path)
        return [
            Text("  " + a.parts[3]),
            Text(health, style=hstyle),
            Text(qual, style=qstyle),
            age_text(store.age(a.last_ts)),
            percent_text(oee.get("value")) if oee else "—",
            value_text(kwh.get("value"), computed=True) if kwh else "—",
            self.alarm_count(a.path),
        ]

    def _update_deployments(self, store: LiveStore) -> None:
        summary = self.query_one("#deployments-summary", Static)
        if self.deployments is None:
            summary.update("Deployments: not available on this runtime")
            return
        if not self.deployments:
            summary.update("Deployments: none installed — press 2 for the recipe catalog")
            return
        parts = []
        for d in self.deployments[:4]:
            name = d.deployment
            asset = next(iter(d.assets), None)
            head = ""
            if asset:
                if k := headline_oee(store, asset):
                    head = f" {k['kpi']} {percent_text(k['value'])}"
                elif k := energy_today(store, asset):
                    head = f" today {value_text(k['value'], k.get('unit'), computed=True)}"
            parts.append(f"{name} [{d.status}]{head}")
        more = f" (+{len(self.deployments) - 4})" if len(self.deployments) > 4 else ""
        summary.update("Deployments: " + " · ".join(parts) + more)

    def action_open_asset(self) -> None:
        """Open the asset under the cursor."""
        table = self.query_one("#assets", DataTable)
        if table.row_count == 0:
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        if key and not key.startswith("hdr:"):
            self.post_message(OpenAsset(key))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value and not event.row_key.value.startswith("hdr:"):
            self.post_message(OpenAsset(event.row_key.value))
