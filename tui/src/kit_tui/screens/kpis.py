"""KPI views: OEE with its three factors and the downtime list (assign a reason code),
energy per shift and per part, condition scores against baselines, SPC chart with rule
violations marked. Values come live from ``kit.kpi.>``; downtimes from ``oee.downtimes``."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from kit.api import core as core_api
from kit_tui.data import plugin_api
from kit_tui.data.format import percent_text, short, value_text
from kit_tui.data.store import LiveStore
from kit_tui.screens.base import KitScreen
from kit_tui.screens.dialogs import PromptDialog
from kit_tui.widgets.chart import ChartData, ControlChart
from kit_tui.widgets.tables import row_table

#: KPI names of the OEE plugin (ISO 22400-2 factors); ``performance`` is accepted as an alias.
OEE_FACTORS = (
    ("availability", ("availability",)),
    ("effectiveness", ("effectiveness", "performance")),
    ("quality", ("quality", "quality_rate")),
    ("oee", ("oee",)),
)


def is_energy(name: str) -> bool:
    """Energy KPIs: energy totals, per-part figures, idle energy, peak demand."""
    return any(w in name for w in ("energy", "kwh", "per_part", "demand", "idle"))


def is_condition(name: str, k: dict[str, Any]) -> bool:
    """Condition-monitoring KPIs: scores, zones, anything carrying a baseline or a baseline
    model (the condition plugin's ``<signal>_z``/``_ewma``/``_drift_z`` carry ``model_version``)."""
    attrs = k.get("attrs") or {}
    return (
        any(w in name for w in ("score", "condition", "zone", "deviation"))
        or "baseline" in attrs
        or "model_version" in attrs
    )


def condition_state(k: dict[str, Any]) -> str:
    """State column of a condition KPI: its zone and what it means, or that it is learning."""
    attrs = k.get("attrs") or {}
    if attrs.get("learning"):
        return "learning baseline"
    state = str(attrs.get("state") or attrs.get("zone") or "")
    return f"{state} — {attrs['meaning']}" if state and attrs.get("meaning") else state


def learning_rows(
    store: LiveStore, components: list[core_api.ComponentSummary], shown: set[tuple[str, str]]
) -> list[list[Any]]:
    """Rows for signals still learning their baseline, from the components' health metrics
    (the condition plugin publishes no score until a baseline exists, which can take an hour)."""
    rows = []
    for c in components:
        asset = c.asset or c.name
        learning = ((store.health.get(c.name) or {}).get("metrics") or {}).get("learning") or []
        for signal in learning if isinstance(learning, list) else []:
            if not any(a == asset and kpi.startswith(f"{signal}_") for a, kpi in shown):
                rows.append([short(asset, 28), str(signal), "—", "—", "learning baseline"])
    return rows


def is_spc(name: str, k: dict[str, Any]) -> bool:
    """SPC KPIs: chart statistics or anything carrying control limits."""
    attrs = k.get("attrs") or {}
    return name.startswith("spc") or any(x in attrs for x in ("ucl", "lcl"))


def spc_chart(store: LiveStore, key: tuple[str, str, str]) -> ChartData:
    """Chart data for one SPC KPI: history, limits from the latest attrs, violations from events."""
    hist = list(store.kpi_history.get(key, []))
    attrs = (hist[-1][2].get("attrs") or {}) if hist else {}
    viol_ts = {
        e.get("data", {}).get("ts") or e.get("ts")
        for e in store.events
        if e.get("kind") == "spc" and e.get("asset") == key[0]
    }
    violations = {
        i
        for i, (ts, _v, k) in enumerate(hist)
        if ts in viol_ts or (k.get("attrs") or {}).get("violations")
    }
    return ChartData(
        title=f"{key[0]} · {key[1]}",
        values=[v for _, v, _ in hist],
        violations=violations,
        cl=attrs.get("cl", attrs.get("center")),
        ucl=attrs.get("ucl"),
        lcl=attrs.get("lcl"),
    )


#: Component types whose instances serve ``oee.downtimes`` (a vendor's OEE plugin can be added).
OEE_COMPONENT_TYPES = {"oee"}
#: Component types whose health metrics list the signals still learning (``learning``).
CONDITION_COMPONENT_TYPES = {"condition"}


class KpiScreen(KitScreen):
    """Tabs: OEE, Energy, Condition, SPC."""

    TITLE_TEXT = "KPIs"
    BINDINGS = [
        Binding("a", "assign_reason", "Assign reason"),
        Binding("t", "app.trend", "Trend"),
        Binding("left", "tab(-1)", "◀ tab", priority=True),
        Binding("right", "tab(1)", "tab ▶", priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.oee_components: list[core_api.ComponentSummary] = []
        self.condition_components: list[core_api.ComponentSummary] = []
        self.downtimes: list[Any] = []
        self.downtime_component: str | None = None
        #: selector → the (text, style) of each cell last put in that table.
        self._filled: dict[str, list[list[tuple[str, Any]]]] = {}

    def compose_body(self) -> ComposeResult:
        with TabbedContent(id="kpi-tabs"):
            with TabPane("OEE", id="tab-oee"):
                t = row_table(
                    "oee-table",
                    (
                        ("asset", "Asset"),
                        ("availability", "Avail"),
                        ("effectiveness", "Perf"),
                        ("quality", "Quality"),
                        ("oee", "OEE"),
                        ("window", "Window"),
                    ),
                )
                yield t
                yield Static("Downtimes", classes="section-title")
                d = row_table(
                    "downtimes",
                    (
                        ("start", "Start"),
                        ("dur", "Duration"),
                        ("reason", "Reason"),
                        ("asset", "Asset"),
                    ),
                )
                yield d
            with TabPane("Energy", id="tab-energy"):
                yield self._kv_table(
                    "energy-table",
                    (("asset", "Asset"), ("kpi", "KPI"), ("value", "Value"), ("window", "Window")),
                )
            with TabPane("Condition", id="tab-condition"):
                yield self._kv_table(
                    "condition-table",
                    (
                        ("asset", "Asset"),
                        ("kpi", "Signal"),
                        ("value", "Score"),
                        ("baseline", "Baseline"),
                        ("state", "State"),
                    ),
                )
            with TabPane("SPC", id="tab-spc"):
                yield ControlChart(id="spc-chart")

    @staticmethod
    def _kv_table(table_id: str, cols: tuple[tuple[str, str], ...]) -> DataTable:
        t = row_table(table_id, cols)
        return t

    def reload(self) -> None:
        self.fetch_downtimes()

    @work(exclusive=True, group="kpi-downtimes")
    async def fetch_downtimes(self) -> None:
        """Downtimes of every OEE component (``oee.downtimes``)."""
        table = self.query_one("#downtimes", DataTable)
        try:
            comps = (await self.call(core_api.COMPONENTS)).root
            self.oee_components = [c for c in comps if c.type in OEE_COMPONENT_TYPES]
            self.condition_components = [c for c in comps if c.type in CONDITION_COMPONENT_TYPES]
        except Exception:
            self.oee_components, self.condition_components = [], []
        rows: list[tuple[core_api.ComponentSummary, Any]] = []
        note = None
        for c in self.oee_components:
            try:
                reply = await self.call(plugin_api.spec("oee.downtimes"), {"component": c.name})
                rows += [(c, d) for d in reply.root]
            except Exception as exc:
                note = self.explain(exc)
        self.downtimes = rows
        table.clear()
        for c, d in rows:
            dur = d.duration_s
            # Seconds from ``oee.downtimes``; a short stop reads "4 s", not "0.1 min".
            dur_text = (
                "ongoing" if dur is None else f"{dur:.0f} s" if dur < 60 else f"{dur / 60:.1f} min"
            )
            table.add_row(
                d.start[:19],
                dur_text,
                Text(d.reason or "— unassigned", style="" if d.reason else "yellow"),
                short(c.asset or "", 28),
                key=f"{c.name}|{d.id}",
            )
        if note and not rows:
            table.add_row(note, "", "", "")
        elif not self.oee_components:
            table.add_row("no OEE component installed", "", "", "")

    def live_update(self) -> None:
        store = self.kit.source.store
        self._oee(store)
        energy, cond = [], []
        for k in store.kpis_of():
            name = k.get("kpi", "")
            if is_energy(name):
                energy.append(k)
            elif is_condition(name, k):
                cond.append(k)
        self._fill(
            "#energy-table",
            [
                [
                    short(k["asset"], 28),
                    k["kpi"],
                    value_text(k.get("value"), k.get("unit"), computed=True),
                    str(k.get("window") or ""),
                ]
                for k in energy
            ],
        )
        self._fill(
            "#condition-table",
            [
                [
                    short(k["asset"], 28),
                    k["kpi"],
                    value_text(k.get("value"), k.get("unit"), computed=True),
                    value_text((k.get("attrs") or {}).get("baseline"), computed=True),
                    condition_state(k),
                ]
                for k in cond
            ]
            + learning_rows(
                store, self.condition_components, {(k["asset"], k["kpi"]) for k in cond}
            ),
        )
        spc = [key for key, k in store.kpis.items() if is_spc(key[1], k)]
        if spc:
            self.query_one("#spc-chart", ControlChart).show(spc_chart(store, spc[0]))

    def _oee(self, store: LiveStore) -> None:
        rows = []
        every = [n for _, names in OEE_FACTORS for n in names]
        # One row per asset and window kind: the OEE plugin publishes the current shift and
        # a rolling window side by side; mixing their factors in one row would be wrong.
        for asset, window_kind in (
            (a, w)
            for a in sorted({key[0] for key in store.kpis})
            for w in store.kpi_windows(a, *every)
        ):
            vals = {
                col: store.kpi(asset, *names, windows=(window_kind,)) for col, names in OEE_FACTORS
            }
            flag = (
                " ⚠>100%"
                if (vals["effectiveness"] or {}).get("attrs", {}).get("effectiveness_over_100")
                else ""
            )
            window = str((vals["oee"] or next(v for v in vals.values() if v)).get("window") or "")
            rows.append(
                [
                    short(asset, 28),
                    *(_pct(vals[c]) for c, _ in OEE_FACTORS[:2]),
                    _pct(vals["quality"]),
                    Text(_pct(vals["oee"]) + flag, style="bold"),
                    window,
                ]
            )
        self._fill("#oee-table", rows)

    def _fill(self, selector: str, rows: list[list[Any]]) -> None:
        # Rebuilding a table re-renders every cell; live ticks come 4× a second while KPIs
        # change every few seconds, so an unchanged table is left alone.
        shown = [[(str(c), getattr(c, "style", None)) for c in r] for r in rows]
        if self._filled.get(selector) == shown:
            return
        self._filled[selector] = shown
        table = self.query_one(selector, DataTable)
        cursor = table.cursor_row
        table.clear()
        for r in rows:
            table.add_row(*r)
        if rows:
            table.move_cursor(row=min(max(cursor, 0), len(rows) - 1))

    def trend_series(self) -> list[Any]:
        """Series for the trend screen (``t``): the OEE of every asset on the OEE tab, else the
        KPI of the highlighted row (its window when it is a fixed one such as ``rolling``)."""
        from kit_tui.screens.trend import Series

        store = self.kit.source.store
        tab = self.query_one("#kpi-tabs", TabbedContent).active
        if tab == "tab-oee":
            assets = sorted({a for (a, n, _w) in store.kpis if n == "oee"})
            return [Series(a, "oee", "rolling") for a in assets]
        table_id = {"tab-energy": "#energy-table", "tab-condition": "#condition-table"}.get(tab)
        if table_id is None:
            spc = [key for key, k in store.kpis.items() if is_spc(key[1], k)]
            return [Series(spc[0][0], spc[0][1], "point")] if spc else []
        rows = [
            k
            for k in store.kpis_of()
            if (
                is_energy(k.get("kpi", ""))
                if tab == "tab-energy"
                else is_condition(k.get("kpi", ""), k)
            )
        ]
        row = self.query_one(table_id, DataTable).cursor_row
        if not rows or not 0 <= row < len(rows):
            return []
        k = rows[row]
        window = str(k.get("window") or "")
        return [Series(k["asset"], k["kpi"], window if window and ":" not in window else None)]

    def action_tab(self, step: int) -> None:
        """Switch tab left/right."""
        tabs = self.query_one("#kpi-tabs", TabbedContent)
        ids = ["tab-oee", "tab-energy", "tab-condition", "tab-spc"]
        tabs.active = (
            ids[(ids.index(tabs.active) + step) % len(ids)] if tabs.active in ids else ids[0]
        )

    def action_assign_reason(self) -> None:
        """Assign a reason code to the highlighted downtime."""
        table = self.query_one("#downtimes", DataTable)
        if not self.downtimes or table.row_count == 0:
            self.notify("no downtime selected")
            return
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value or ""
        component, _, downtime_id = key.partition("|")

        def answer(reason: str | None) -> None:
            if reason:
                self._assign(component, downtime_id, reason)

        self.app.push_screen(
            PromptDialog(
                "Reason code for this downtime (e.g. changeover, no_material, breakdown):"
            ),
            answer,
        )

    @work(group="kpi-actions")
    async def _assign(self, component: str, downtime_id: str, reason: str) -> None:
        try:
            await self.call(
                plugin_api.spec("oee.assign_reason"),
                {
                    "component": component,
                    "downtime_id": downtime_id,
                    "reason": reason,
                    "who": self.kit.operator,
                },
            )
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        self.notify(f"reason '{reason}' recorded")
        self.fetch_downtimes()


def _pct(kpi: dict[str, Any] | None) -> str:
    """A ratio KPI (or ``—``) as a percentage, read with its own unit."""
    return percent_text((kpi or {}).get("value"), (kpi or {}).get("unit"))
