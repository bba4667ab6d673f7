"""Model alerts and work orders: label an anomaly alert, approve / reject / close a work order.

Two tables: the anomaly alerts of the governed models (kit-models), newest first, with their
label; and the work orders drafted from them. ``l`` labels the highlighted alert (``real``,
``none`` or ``unsure``, then an optional note), ``a`` approves the highlighted work order
(it is then sent), ``x`` rejects it, ``c`` closes it once the work is done. Every action
goes to the runtime's ``models.label`` / ``workorders.*`` endpoints under the operator's
name, where it is audited. Tab moves between the tables.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.validation import Regex
from textual.widgets import DataTable, Static

from kit_tui.data import plugin_api
from kit_tui.data.format import short
from kit_tui.screens.base import KitScreen
from kit_tui.screens.dialogs import ConfirmDialog, PromptDialog
from kit_tui.widgets.banner import Unavailable
from kit_tui.widgets.tables import row_table

LABEL_STYLE = {"real": "bold red", "none": "green", "unsure": "yellow"}
STATE_STYLE = {"draft": "bold yellow", "approved": "bold", "rejected": "dim", "closed": "green"}


class ModelsScreen(KitScreen):
    """Anomaly alerts (label them) and work orders (approve before they are sent)."""

    TITLE_TEXT = "Model alerts and work orders"
    BINDINGS = [
        Binding("l", "label", "Label alert"),
        Binding("a", "approve", "Approve WO"),
        Binding("x", "reject", "Reject WO"),
        Binding("c", "close_order", "Close WO"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.alerts: list[Any] = []
        self.orders: list[Any] = []
        self._events_seen = -1

    def compose_body(self) -> ComposeResult:
        yield Unavailable(id="models-unavailable")
        yield Static("Anomaly alerts (l: label real / none / unsure)", classes="section-title")
        yield row_table(
            "model-alerts",
            (
                ("raised", "Raised (UTC)"),
                ("asset", "Asset"),
                ("model", "Model"),
                ("role", "Role"),
                ("score", "Score"),
                ("label", "Label"),
                ("wo", "Work order"),
            ),
        )
        yield Static(
            "Work orders (a: approve and send, x: reject, c: close)", classes="section-title"
        )
        yield row_table(
            "work-orders",
            (
                ("id", "Work order"),
                ("state", "State"),
                ("priority", "Prio"),
                ("asset", "Asset"),
                ("title", "What"),
            ),
        )
        yield Static("", id="model-detail", markup=False)

    def reload(self) -> None:
        self.fetch()

    def live_update(self) -> None:
        # A model or work-order event means the lists changed: fetch them again (rare).
        store = self.kit.source.store
        n = sum(1 for e in store.events if e.get("kind") in ("work_order", "model", "alarm"))
        if n != self._events_seen:
            first_time = self._events_seen < 0
            self._events_seen = n
            if not first_time:
                self.fetch()

    @work(exclusive=True, group="models")
    async def fetch(self) -> None:
        """Load ``models.alerts`` and ``workorders.list``."""
        banner = self.query_one("#models-unavailable", Unavailable)
        try:
            alerts = await self.call(plugin_api.spec("models.alerts"), {"limit": 200})
            orders = await self.call(plugin_api.spec("workorders.list"), {})
            banner.show(None)
            self.alerts, self.orders = list(alerts.root), list(orders.root)
        except Exception as exc:
            self.alerts, self.orders = [], []
            banner.show(self.explain(exc))
        self._fill_alerts()
        self._fill_orders()

    def _fill_alerts(self) -> None:
        table = self.query_one("#model-alerts", DataTable)
        cursor = table.cursor_row
        table.clear()
        for a in self.alerts:
            table.add_row(
                (a.raised_at or "")[:16].replace("T", " "),
                short("/".join(a.asset.split("/")[-2:]), 16),
                f"{a.model} v{a.version}",
                a.role,
                f"{a.score:.2f}",
                Text(a.label or "—", style=LABEL_STYLE.get(a.label or "", "")),
                a.work_order_state or "",
                key=a.id,
            )
        if self.alerts:
            table.move_cursor(row=min(max(cursor, 0), len(self.alerts) - 1))

    def _fill_orders(self) -> None:
        table = self.query_one("#work-orders", DataTable)
        cursor = table.cursor_row
        table.clear()
        for w in self.orders:
            table.add_row(
                w.id,
                Text(w.state, style=STATE_STYLE.get(w.state, "")),
                w.priority,
                short("/".join(w.asset.split("/")[-2:]), 16),
                short(w.title, 40),
                key=w.id,
            )
        if self.orders:
            table.move_cursor(row=min(max(cursor, 0), len(self.orders) - 1))

    def _current(self, table_id: str) -> str | None:
        table = self.query_one(f"#{table_id}", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, e: DataTable.RowHighlighted) -> None:
        detail = self.query_one("#model-detail", Static)
        if e.data_table.id == "work-orders":
            w = next((x for x in self.orders if x.id == self._current("work-orders")), None)
            if w is not None:
                checks = "\n".join(f"  - {c}" for c in w.checks)
                detail.update(f"{w.title}\nwhy: {w.reason}\nchecks:\n{checks}\n{w.evidence_text}")
        else:
            a = next((x for x in self.alerts if x.id == self._current("model-alerts")), None)
            if a is not None:
                note = f" — {a.note}" if a.note else ""
                detail.update(
                    f"{a.id}: {a.model} v{a.version} ({a.role}) score {a.score:.2f} / "
                    f"threshold {a.threshold:.2f}, most changed: {a.top_signal}; "
                    f"label: {a.label or 'none yet'}{note}"
                )

    @work(group="model-actions")
    async def _act(self, endpoint: str, body: dict[str, Any], done: str) -> None:
        try:
            reply = await self.call(plugin_api.spec(endpoint), body)
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        delivery = getattr(reply, "delivery", None)
        if delivery is not None and not delivery.get("ok"):
            self.notify(f"{done}, but NOT SENT: {delivery.get('detail')}", severity="warning")
        else:
            self.notify(done)
        self.fetch()

    def action_label(self) -> None:
        """Label the highlighted alert: ``real``, ``none`` or ``unsure``, then a note."""
        aid = self._current("model-alerts")
        if not aid:
            return

        def answer(text: str | None) -> None:
            if text:
                label, _sep, note = text.strip().partition(" ")
                self._act(
                    "models.label",
                    {"id": aid, "label": label, "note": note.strip(), "who": self.kit.operator},
                    f"{aid} labelled {label}",
                )

        self.app.push_screen(
            PromptDialog(
                f"Label alert {aid}: real (fault found), none (no fault) or unsure, then a note",
                placeholder="real outer race pitting",
                validators=[
                    Regex(
                        r"^\s*(real|none|unsure)(\s.*)?$",
                        failure_description="start with real, none or unsure",
                    )
                ],
            ),
            answer,
        )

    def _decide(self, action: str, verb: str) -> None:
        wid = self._current("work-orders")
        if not wid:
            return
        endpoint = f"workorders.{action}"

        if action == "approve":

            def confirmed(yes: bool | None) -> None:
                if yes:
                    self._act(endpoint, {"id": wid, "who": self.kit.operator}, f"{wid} {verb}")

            self.app.push_screen(
                ConfirmDialog(f"Approve work order {wid}? It is sent to the ticket system."),
                confirmed,
            )
            return

        def noted(note: str | None) -> None:
            if note is not None:
                self._act(
                    endpoint, {"id": wid, "who": self.kit.operator, "note": note}, f"{wid} {verb}"
                )

        self.app.push_screen(PromptDialog(f"{verb.capitalize()} work order {wid}: a note"), noted)

    def action_approve(self) -> None:
        """Approve the highlighted work order (after a confirmation): it is sent."""
        self._decide("approve", "approved")

    def action_reject(self) -> None:
        """Reject the highlighted draft (with a note): it is never sent."""
        self._decide("reject", "rejected")

    def action_close_order(self) -> None:
        """Close the highlighted approved work order (with a note on the work done)."""
        self._decide("close", "closed")
