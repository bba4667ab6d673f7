"""Asset view: every point with value, unit, quality, age and a sparkline, and an
"explain this value" panel for the highlighted point.

For Modbus points the panel walks from raw registers through word/byte order to the
decoded and scaled value, when the adapter sends those details (``raw``/``modbus`` fields
of the point). For OPC UA points it shows the NodeId, status code and source timestamp.
Only the visible rows are refreshed, so a 10,000-point asset costs what fits on screen.
"""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from kit_tui.data.format import age_text, quality_text, sparkline, value_text
from kit_tui.data.store import AssetState, LiveStore, PointState
from kit_tui.screens.base import KitScreen
from kit_tui.widgets.tables import row_table

COLUMNS = (
    ("point", "Point"),
    ("value", "Value"),
    ("quality", "Quality"),
    ("age", "Age"),
    ("trend", "Trend"),
)


def point_quality(a: AssetState, p: PointState, store: LiveStore) -> tuple[str, str]:
    """Quality label of one point, stale when it stopped updating while marked good."""
    if p.quality == "good" and store.point_is_stale(a, p):
        return quality_text("stale")
    return quality_text(p.quality, p.reason)


def explain_point(p: PointState) -> str:
    """Multi-line explanation of where the value came from (protocol details if sent)."""
    lines = [
        f"[b]{escape(p.name)}[/b] = {escape(value_text(p.value, p.unit))}   quality {escape(quality_text(p.quality, p.reason)[0])}"
    ]
    x = p.extra
    mb = x.get("modbus") if isinstance(x.get("modbus"), dict) else {}
    raw = x.get("raw", mb.get("raw"))
    if raw is not None or mb:
        regs = " ".join(f"0x{r:04X}" if isinstance(r, int) else str(r) for r in (raw or []))
        addr = mb.get("address", x.get("address"))
        lines.append(
            f"raw registers {regs or '—'}"
            + (
                f"  @ {addr}" + (f" (FC{mb['function']})" if mb.get("function") else "")
                if addr is not None
                else ""
            )
        )
        order = mb.get("word_order") or mb.get("order") or x.get("order")
        lines.append(
            f"→ order {order or '—'}  byte order {mb.get('byte_order', '—')}  type {mb.get('datatype', x.get('datatype', '—'))}"
        )
        lines.append(f"→ decoded {mb.get('decoded', x.get('decoded', '—'))}")
        scale, offset = mb.get("scale", x.get("scale")), mb.get("offset", x.get("offset"))
        lines.append(
            f"→ × scale {scale if scale is not None else 1} + offset {offset if offset is not None else 0}"
            f" = {value_text(p.value, p.unit)}"
        )
    ua = x.get("opcua") if isinstance(x.get("opcua"), dict) else {}
    node = ua.get("node_id", x.get("node_id"))
    if node is not None or ua:
        lines.append(
            f"NodeId {node or '—'}   status {ua.get('status_code', x.get('status_code', p.reason or 'Good'))}"
        )
        lines.append(f"source timestamp {p.device_ts or '—'}")
    elif p.device_ts:
        lines.append(f"device timestamp {p.device_ts}")
    lines = [lines[0], *(escape(x) for x in lines[1:])]
    if len(lines) == 1:
        lines.append("[dim]no protocol details in the data for this point[/dim]")
    return "\n".join(lines)


class AssetScreen(KitScreen):
    """All points of one asset."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("x", "toggle_explain", "Explain"),
        Binding("t", "app.trend", "Trend"),
    ]

    def __init__(self, asset: str) -> None:
        super().__init__()
        self.asset = asset
        self.TITLE_TEXT = f"Asset {asset}"
        self._names: list[str] = []
        self._shown: dict[str, list[Any]] = {}

    def compose_body(self) -> ComposeResult:
        yield Static(f"[b]{escape(self.asset)}[/b]", id="asset-head")
        table = row_table("points", COLUMNS)
        yield table
        yield Static("", id="explain")

    def live_update(self) -> None:
        store = self.kit.source.store
        a = store.assets.get(self.asset)
        head = self.query_one("#asset-head", Static)
        if a is None:
            head.update(f"[b]{escape(self.asset)}[/b]  (no data yet)")
            return
        q = store.quality_summary(a)
        head.update(
            f"[b]{escape(self.asset)}[/b]  {len(a.points)} pts  ● {q['good']} ok  ? {q['uncertain']}  "
            f"✗ {q['bad']}  ◌ {q['stale']} stale  last {age_text(store.age(a.last_ts))} ago"
        )
        table = self.query_one("#points", DataTable)
        names = sorted(a.points)
        if names != self._names:
            table.clear()
            self._shown = {}
            for n in names:
                self._shown[n] = row = self._row(a, a.points[n], store)
                table.add_row(*row, key=n)
            self._names = names
        else:
            top = int(table.scroll_offset.y)
            for n in names[top : top + table.size.height + 1]:
                row = self._row(a, a.points[n], store)
                old = self._shown.get(n)
                for i, ((col, _), cell) in enumerate(zip(COLUMNS, row, strict=True)):
                    if old is None or str(old[i]) != str(cell):
                        table.update_cell(n, col, cell)
                self._shown[n] = row
        self._explain()

    def _row(self, a: AssetState, p: PointState, store: LiveStore) -> list[Any]:
        label, style = point_quality(a, p, store)
        value = Text(
            value_text(p.value, p.unit), style="dim" if label.startswith(("◌", "✗")) else ""
        )
        return [
            p.name,
            value,
            Text(label, style=style),
            age_text(store.age(p.ts)),
            sparkline(p.history, 16),
        ]

    def _explain(self) -> None:
        panel = self.query_one("#explain", Static)
        table = self.query_one("#points", DataTable)
        a = self.kit.source.store.assets.get(self.asset)
        if a is None or table.row_count == 0 or panel.has_class("-hidden"):
            return
        name = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        p = a.points.get(name or "")
        if p is not None:
            panel.update(explain_point(p))

    def on_data_table_row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self._explain()

    def trend_series(self) -> list[Any]:
        """The highlighted point, for the trend screen (``t``)."""
        from kit_tui.screens.trend import Series

        table = self.query_one("#points", DataTable)
        if table.row_count == 0:
            return []
        name = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return [Series(self.asset, name)] if name else []

    def action_toggle_explain(self) -> None:
        """Show or hide the explain panel (more rows for the table when hidden)."""
        panel = self.query_one("#explain", Static)
        panel.toggle_class("-hidden")
        self._explain()
