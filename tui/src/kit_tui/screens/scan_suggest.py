"""Suggested recipes for the devices ticked on the scan screen (``scan.suggest``), highest
expected value first as ``kit scan opportunities`` ranks them, with the value range per
asset and year; Enter opens the install wizard with host, port, unit id and profile filled
in from the inventory."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from kit.api import scan as scan_api
from kit.scan.inventory import Inventory
from kit.scan.tables import money
from kit_tui.screens.base import KitScreen
from kit_tui.widgets.tables import row_table


def device_text(inv: Inventory, n: int) -> str:
    """``#1 127.0.0.2:502 unit 1 (eastron-sdm630)``."""
    devices = inv.devices()
    if not 1 <= n <= len(devices):
        return f"#{n}"
    ep, dev = devices[n - 1]
    unit = "" if dev.unit_id is None else f" unit {dev.unit_id}"
    return f"#{n} {ep.host}:{ep.port}{unit}" + (f" ({dev.profile})" if dev.profile else "")


def _short(x: float) -> str:
    """``110k``, ``2.6k``, ``740``: the ranges have two significant figures, the table is
    80 columns wide."""
    if abs(x) >= 1_000_000:
        return f"{x / 1_000_000:.3g}M"
    if abs(x) >= 1_000:
        return f"{x / 1_000:.3g}k"
    return f"{x:.3g}"


def value_text(s: scan_api.Suggestion) -> str:
    """``2.6k–4.3k EUR`` (per asset and year), or ``enabler`` without a business case."""
    if s.value_low is None or s.value_high is None:
        return "enabler"
    return f"{_short(s.value_low)}–{_short(s.value_high)} {s.currency}".strip()


class SuggestScreen(KitScreen):
    """Recipes that fit the ticked devices, highest expected value first."""

    TITLE_TEXT = "Suggested recipes"
    AUTO_FOCUS = "#suggestions"
    BINDINGS = [
        Binding("enter", "install", "Install", show=True),
        Binding("escape", "back", "Back", show=True),
    ]

    def __init__(self, inventory: Inventory, numbers: list[int]) -> None:
        super().__init__()
        self.inventory = inventory
        self.numbers = numbers
        self.reply: scan_api.SuggestReply | None = None

    def compose_body(self) -> ComposeResult:
        ticked = ", ".join(device_text(self.inventory, n) for n in self.numbers)
        yield Static(f"Recipes for {ticked}", id="suggest-head", markup=False)
        yield row_table(
            "suggestions",
            (
                ("recipe", "Recipe"),
                ("value", "Value/year"),
                ("devices", "Devices"),
                ("ready", "Ready"),
            ),
        )
        yield Static("loading suggestions…", id="suggest-detail")

    def reload(self) -> None:
        self.fetch()

    @work(exclusive=True, group="suggest")
    async def fetch(self) -> None:
        """``scan.suggest`` for the ticked devices."""
        detail = self.query_one("#suggest-detail", Static)
        try:
            self.reply = await self.call(
                scan_api.SUGGEST, scan_api.SuggestRequest(devices=self.numbers)
            )
        except Exception as exc:
            detail.update(escape(self.explain(exc)))
            return
        if not self.app.is_running or not self.is_attached:
            return
        table = self.query_one("#suggestions", DataTable)
        table.clear()
        for i, s in enumerate(self.reply.suggestions):
            table.add_row(
                s.recipe,
                value_text(s),
                ", ".join(f"{role} #{n}" for role, n in s.devices.items()),
                Text("✓ ready", style="green")
                if s.ready
                else Text(f"needs {', '.join(s.missing)}"),
                key=str(i),
            )
        self._detail()

    def _current(self) -> scan_api.Suggestion | None:
        table = self.query_one("#suggestions", DataTable)
        if self.reply is None or table.row_count == 0:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self.reply.suggestions[int(str(key))]

    def _detail(self) -> None:
        detail = self.query_one("#suggest-detail", Static)
        s = self._current()
        lines: list[str] = []
        if s is None:
            lines.append(
                "No recipe fits the ticked devices: an unknown device needs its profile "
                "(`kit profile add`), or no shipped recipe uses what it measures."
            )
        else:
            lines += [f"[b]{escape(s.title or s.recipe)}[/b]  {escape(s.recipe)}"]
            if s.value_low is not None and s.value_high is not None:
                low = money(s.value_low, "").strip()
                worth = f"{low} – {money(s.value_high, s.currency)}"
                lines.append(escape(f"Worth {worth} per asset and year (initial business case)"))
            for role, n in s.devices.items():
                lines.append(escape(f"  {role}: {device_text(self.inventory, n)}"))
            if s.params:
                lines.append(
                    "Pre-filled: " + escape(", ".join(f"{k}={v}" for k, v in s.params.items()))
                )
            if s.note:
                lines.append(escape(s.note))
            lines.append("Enter opens the install wizard; Esc goes back.")
        if self.reply is not None and self.reply.unmatched:
            lines.append(
                escape(
                    "No recipe for: "
                    + ", ".join(device_text(self.inventory, n) for n in self.reply.unmatched)
                )
            )
        detail.update("\n".join(lines))

    def on_data_table_row_highlighted(self, _e: DataTable.RowHighlighted) -> None:
        self._detail()

    def on_data_table_row_selected(self, _e: DataTable.RowSelected) -> None:
        self.action_install()

    def action_install(self) -> None:
        """Open the install wizard for the highlighted suggestion, pre-filled."""
        s = self._current()
        if s is None:
            return
        from kit_tui.screens.wizard import WizardScreen

        origin = "; ".join(f"{r}: {device_text(self.inventory, n)}" for r, n in s.devices.items())
        self.app.push_screen(WizardScreen(s.recipe, values=s.params, origin=origin))

    def action_back(self) -> None:
        """Back to the scan screen."""
        self.app.pop_screen()
