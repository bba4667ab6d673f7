"""Alarms: active and recent alarms by priority; acknowledge, shelve (with a duration),
unshelve; a flood banner when the alarm rate is beyond what a person can handle."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.validation import Number
from textual.widgets import DataTable, Static

from kit_tui.data import plugin_api
from kit_tui.data.format import PRIORITY, short
from kit_tui.screens.base import KitScreen
from kit_tui.screens.dialogs import PromptDialog
from kit_tui.widgets.banner import Unavailable
from kit_tui.widgets.tables import row_table

#: ISA-18.2 flood: more than this many alarms raised in FLOOD_WINDOW_S.
FLOOD_COUNT = 10
FLOOD_WINDOW_S = 600
PRIORITY_ORDER = {p: i for i, p in enumerate(PRIORITY)}
SHORT = {"critical": "crit", "medium": "med"}


def alarm_id(a: Any) -> str:
    """Id of an alarm entry (``kit_alarms.api.AlarmInfo``)."""
    return a.id


def sort_alarms(alarms: list[Any]) -> list[Any]:
    """Unacknowledged first, then by priority (critical first), then newest first."""

    def key(a: Any) -> tuple:
        acked = a.acked
        prio = PRIORITY_ORDER.get(a.priority or "low", 9)
        return (acked, prio)

    out = sorted(alarms, key=lambda a: a.raised_at or "", reverse=True)
    return sorted(out, key=key)


class AlarmsScreen(KitScreen):
    """Alarm list with actions."""

    TITLE_TEXT = "Alarms"
    BINDINGS = [
        Binding("a", "ack", "Acknowledge"),
        Binding("s", "shelve", "Shelve"),
        Binding("u", "unshelve", "Unshelve"),
        Binding("f", "toggle_active", "Active/all"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.alarms: list[Any] = []
        self.flood = False
        self.active_only = False
        self._events_seen = -1

    def compose_body(self) -> ComposeResult:
        yield Static("", id="flood-banner")
        yield Unavailable(id="alarms-unavailable")
        table = row_table(
            "alarms",
            (
                ("prio", "Prio"),
                ("state", "State"),
                ("asset", "Asset"),
                ("message", "Alarm"),
                ("ts", "Since"),
            ),
        )
        yield table
        yield Static("", id="detail", markup=False)

    def reload(self) -> None:
        self.fetch()

    def live_update(self) -> None:
        # An alarm event on the bus means the list changed: fetch it again (cheap, rare).
        store = self.kit.source.store
        n = sum(1 for e in store.events if e.get("kind") == "alarm")
        if n != self._events_seen:
            first_time = self._events_seen < 0
            self._events_seen = n
            if not first_time:
                self.fetch()

    @work(exclusive=True, group="alarms")
    async def fetch(self) -> None:
        """Load ``alarms.list``."""
        try:
            reply = await self.call(
                plugin_api.spec("alarms.list"), {"active_only": self.active_only}
            )
            self.query_one("#alarms-unavailable", Unavailable).show(None)
            alarms = list(reply.root)
        except Exception as exc:
            alarms = []
            self.query_one("#alarms-unavailable", Unavailable).show(self.explain(exc))
        self.alarms = sort_alarms(alarms)
        self.flood = self._flood_from_events()
        banner = self.query_one("#flood-banner", Static)
        banner.set_class(self.flood, "-flood")
        banner.update(
            f"⚠ ALARM FLOOD — more than {FLOOD_COUNT} alarms in {FLOOD_WINDOW_S // 60} min; "
            "handle the highest priority first"
            if self.flood
            else ""
        )
        table = self.query_one("#alarms", DataTable)
        cursor = table.cursor_row
        table.clear()
        for a in self.alarms:
            prio = a.priority or "low"
            mark, style = PRIORITY.get(prio, ("?  ", "yellow"))
            state = a.state
            shelved = f" until {a.shelved_until[11:16]}" if a.shelved_until else ""
            table.add_row(
                Text(f"{mark}{SHORT.get(prio, prio)}", style=style),
                Text(state + shelved, style="bold" if "unack" in state else ""),
                short("/".join((a.asset or "").split("/")[-2:]), 16),
                short(a.message or a.rule or "", 30),
                (a.raised_at or "")[11:19],
                key=alarm_id(a),
            )
        if self.alarms:
            table.move_cursor(row=min(max(cursor, 0), len(self.alarms) - 1))

    def _flood_from_events(self) -> bool:
        store = self.kit.source.store
        now = store.clock()
        from kit_tui.data.store import parse_ts

        raised = [
            e
            for e in store.events
            if e.get("kind") == "alarm"
            and "flood" not in str(e.get("type"))
            and (parse_ts(e.get("ts")) or 0) > now - FLOOD_WINDOW_S
            and "raise" in str(e.get("type"))
        ]
        # The alarms plugin announces a flood with flood_started / flood_ended events.
        flood = [
            e.get("type")
            for e in store.events
            if e.get("kind") == "alarm" and e.get("type") in ("flood_started", "flood_ended")
        ]
        if flood:
            return flood[-1] == "flood_started"
        return len(raised) > FLOOD_COUNT

    def _current(self) -> str | None:
        table = self.query_one("#alarms", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, _e: DataTable.RowHighlighted) -> None:
        aid = self._current()
        a = next((x for x in self.alarms if alarm_id(x) == aid), None)
        if a is not None:
            fields = a.model_dump(exclude_none=True, exclude={"message"})
            self.query_one("#detail", Static).update(
                "  ".join(f"{k}: {v}" for k, v in fields.items()) + f"\n{a.message or ''}"
            )

    @work(group="alarm-actions")
    async def _act(self, endpoint: str, body: dict[str, Any], done: str) -> None:
        try:
            await self.call(plugin_api.spec(endpoint), body)
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        self.notify(done)
        self.fetch()

    def action_ack(self) -> None:
        """Acknowledge the highlighted alarm."""
        aid = self._current()
        if aid:
            self._act("alarms.ack", {"id": aid, "who": self.kit.operator}, f"acknowledged {aid}")

    def action_shelve(self) -> None:
        """Shelve the highlighted alarm for a number of minutes."""
        aid = self._current()
        if not aid:
            return

        def answer(minutes: str | None) -> None:
            if minutes:
                self._act(
                    "alarms.shelve",
                    {"id": aid, "who": self.kit.operator, "duration_s": int(float(minutes) * 60)},
                    f"shelved {aid} for {minutes} min",
                )

        self.app.push_screen(
            PromptDialog(
                f"Shelve alarm {aid} for how many minutes? (1–1440)",
                value="60",
                validators=[Number(minimum=1, maximum=1440)],
            ),
            answer,
        )

    def action_unshelve(self) -> None:
        """Return a shelved alarm to service."""
        aid = self._current()
        if aid:
            self._act("alarms.unshelve", {"id": aid, "who": self.kit.operator}, f"unshelved {aid}")

    def action_toggle_active(self) -> None:
        """Switch between active alarms and all recent ones."""
        self.active_only = not self.active_only
        self.notify(
            "showing active alarms only" if self.active_only else "showing active and recent alarms"
        )
        self.fetch()
