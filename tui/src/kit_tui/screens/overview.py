"""Overview: every site, line and asset with connection health, data quality and the
headline KPIs (OEE, kWh today, active alarms), plus the installed deployments. On a wide
terminal the "Today" panel beside the table shows today's OEE and energy trend of the
highlighted asset and the active alarms (:mod:`kit_tui.screens.overview_side`).

The asset column is cropped to what the terminal leaves beside the other columns, so a
long site › area › line name never pushes the Alarms column off screen.

Stale or bad data is marked with a symbol and a word, not colour alone.
"""

from __future__ import annotations

import time
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.events import Resize
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
from kit_tui.data.store import AssetState, LiveStore, window_kind
from kit_tui.messages import OpenAsset
from kit_tui.screens.base import KitScreen
from kit_tui.screens.overview_side import WIDE, TodayPanel, local_midnight, series
from kit_tui.widgets.pilots import PilotPanel
from kit_tui.widgets.tables import row_table

#: The "Today" trends are fetched from the historian at most this often (seconds).
TODAY_EVERY_S = 60.0
#: The asset column is never narrower than this (characters).
MIN_ASSET_W = 12

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


def doubtful(kpi: dict[str, Any] | None, text: str) -> Any:
    """A KPI published with a quality other than good (e.g. an OEE window above 100 %, which
    the OEE plugin marks ``uncertain`` with its reason) reads as doubtful: ``?`` in yellow."""
    if kpi and kpi.get("quality") not in (None, "good"):
        return Text(f"{text} ?", style="yellow")
    return text


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
        self._today_at = 0.0

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="overview-main"):
            yield row_table("assets", COLUMNS, zebra_stripes=False)
            yield TodayPanel(id="today")
        yield Static("", id="deployments-summary", markup=False)
        yield PilotPanel(id="pilots")

    def on_resize(self, event: Resize) -> None:
        self.query_one("#today", TodayPanel).display = event.size.width >= WIDE
        self._shown = {}  # widths change: every cell is cropped again
        self.live_update()

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
        rows = self._rows(assets, store)
        self._crop_names(rows)
        layout = [key for key, _ in rows]
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
        self._update_today(table, store)

    def _rows(self, assets: list[AssetState], store: LiveStore) -> list[tuple[str, list[Any]]]:
        """Table rows: a bold header per site › area › line, then its assets."""
        rows: list[tuple[str, list[Any]]] = []
        group = None
        for a in assets:
            site, area, line, _name = a.parts
            if (site, area, line) != group:
                group = (site, area, line)
                rows.append(
                    (
                        f"hdr:{site}/{area}/{line}",
                        [Text(f"{site} › {area} › {line}", style="bold"), "", "", "", "", "", ""],
                    )
                )
            rows.append((a.path, self._asset_row(a, store)))
        return rows

    def _crop_names(self, rows: list[tuple[str, list[Any]]]) -> None:
        """Crop the asset column so every other column fits the table's width."""
        width = self.query_one("#assets", DataTable).size.width or self.size.width
        if not width or not rows:
            return
        others = sum(
            max(len(label), *(len(str(cells[i])) for _, cells in rows)) + 2
            for i, (_key, label) in enumerate(COLUMNS)
            if i > 0
        )
        budget = max(MIN_ASSET_W, width - others - 3)
        for _key, cells in rows:
            name = cells[0]
            if isinstance(name, Text) and name.cell_len > budget:
                name = name.copy()
                name.truncate(budget, overflow="ellipsis")
                cells[0] = name

    def _highlighted(self, table: DataTable) -> str | None:
        """The asset under the cursor (the first asset when the cursor is on a header)."""
        keys = [k for k in self._layout if not k.startswith("hdr:")]
        if not keys:
            return None
        if table.row_count:
            key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
            if key in keys:
                return key
        return keys[0]

    def _update_today(self, table: DataTable, store: LiveStore) -> None:
        panel = self.query_one("#today", TodayPanel)
        if not panel.display:
            return
        assets = [k for k in self._layout if not k.startswith("hdr:")]
        if time.monotonic() - self._today_at > TODAY_EVERY_S and assets:
            self._today_at = time.monotonic()
            self.fetch_today(assets)
        panel.show(store, assets, self._highlighted(table), self.alarms)

    @work(exclusive=True, group="overview-today")
    async def fetch_today(self, assets: list[str]) -> None:
        """Today's OEE (15-min means) and kWh per hour of each asset from the historian."""
        panel = self.query_one("#today", TodayPanel)
        store = self.kit.source.store
        try:
            query = plugin_api.spec("history.query")
        except Exception:  # no historian package here: the panel shows what the TUI received
            return
        since = local_midnight().isoformat()
        for asset in assets:
            head = headline_oee(store, asset)
            try:
                if head:
                    # One OEE window only (a shift's OEE and the rolling one differ).
                    body = {"asset": asset, "points": ["oee"], "from": since, "to": "now"}
                    body |= {"every": "15m", "window": window_kind(head) or None}
                    panel.oee_today[asset] = series(await self.call(query, body), "oee")
                if energy_today(store, asset):
                    body = {"asset": asset, "points": ["energy_kwh"], "from": since, "to": "now"}
                    body |= {"every": "1h", "agg": "last", "window": "hour"}
                    panel.kwh_hours[asset] = series(await self.call(query, body), "energy_kwh")
            except Exception:  # no historian on this runtime, or it cannot answer now
                return
        found = self.query("#assets")
        if found:
            panel.show(store, assets, self._highlighted(found.first(DataTable)), self.alarms)

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        found = self.query("#assets")
        if found:
            self._update_today(found.first(DataTable), self.kit.source.store)

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
            doubtful(oee, percent_text(oee.get("value"), oee.get("unit"))) if oee else "—",
            doubtful(kwh, value_text(kwh.get("value"), computed=True)) if kwh else "—",
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
                    head = f" {k['kpi']} {percent_text(k['value'], k.get('unit'))}"
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
