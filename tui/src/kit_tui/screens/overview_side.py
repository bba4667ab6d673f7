"""The overview's "Today" panel: today's OEE and energy trend and the active alarms.

Shown beside the asset table when the terminal is wide enough (``WIDE`` columns), so one
glance at 120×40 answers "how are we doing": each asset's OEE since midnight (15-minute
means) and energy per hour, the highlighted asset marked, and every active alarm of the site. Trends come
from the historian (``history.query``) when the runtime has one, else from what the TUI
has received since it started (marked as such).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rich.markup import escape
from textual.widgets import Static

from kit_tui.data.format import percent_text, sparkline, value_text
from kit_tui.data.store import LiveStore

#: Terminal width from which the panel is shown beside the table.
WIDE = 110
#: Width of the panel (characters), sparklines fill it less the labels.
PANEL_W = 48
#: Alarms listed at most (the Alarms screen has them all).
MAX_ALARMS = 12
_PRIORITY_ORDER = {"critical": 0, "urgent": 0, "high": 1, "medium": 2, "low": 3}


def local_midnight(now: dt.datetime | None = None) -> dt.datetime:
    """Today's 00:00 in the machine's local time zone (aware)."""
    now = (now or dt.datetime.now().astimezone()).astimezone()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def series(reply: Any, point: str) -> list[float | None]:
    """The values of ``point`` in a ``history.query`` reply (long rows: ts, point, value…)."""
    cols = list(getattr(reply, "columns", []) or [])
    if "point" not in cols or "value" not in cols:
        return []
    ip, iv = cols.index("point"), cols.index("value")
    out: list[float | None] = []
    for row in getattr(reply, "rows", []) or []:
        if row[ip] == point:
            v = row[iv]
            out.append(float(v) if isinstance(v, (int, float)) else None)
    return out


def alarm_lines(alarms: list[Any] | None, limit: int = MAX_ALARMS) -> list[str]:
    """Active alarms, most urgent first: ``● high  press1  comm_lost``."""
    if alarms is None:
        return ["[dim]alarms: not available on this runtime[/dim]"]
    active = [a for a in alarms if getattr(a, "state", "") not in ("normal", "cleared")]
    if not active:
        return ["[green]✓ no active alarms[/green]"]
    active.sort(key=lambda a: _PRIORITY_ORDER.get(str(getattr(a, "priority", "")), 9))
    lines = []
    for a in active[:limit]:
        asset = str(getattr(a, "asset", "")).rsplit("/", 1)[-1]
        prio = str(getattr(a, "priority", "") or "")
        state = str(getattr(a, "state", ""))
        ack = "" if "unack" in state or state == "active" else " (ack)"
        style = "red" if _PRIORITY_ORDER.get(prio, 9) <= 1 else "yellow"
        lines.append(
            f"[{style}]●[/{style}] {escape(prio):<9}{escape(asset)}  "
            f"{escape(str(getattr(a, 'alarm', getattr(a, 'id', '')) or ''))}{ack}"
        )
    if len(active) > limit:
        lines.append(f"… {len(active) - limit} more (5: Alarms)")
    return lines


class TodayPanel(Static):
    """Today's OEE and energy per asset (the highlighted one marked), and active alarms."""

    DEFAULT_CSS = f"""
    TodayPanel {{
        width: {PANEL_W}; height: 1fr; padding: 0 1; border-left: solid $primary;
    }}
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", **kw)
        #: From the historian, per asset: OEE 15-minute means and kWh per hour since midnight.
        self.oee_today: dict[str, list[float | None]] = {}
        self.kwh_hours: dict[str, list[float | None]] = {}

    def show(
        self, store: LiveStore, assets: list[str], highlighted: str | None, alarms: list[Any] | None
    ) -> None:
        """Redraw: a trend line per asset that has OEE or energy today, then the alarms."""
        name_w = 12
        width = PANEL_W - name_w - 19  # border, padding, marker, " OEE ", value
        lines = ["[b]Today[/b] [dim](OEE 15-min means · kWh per hour)[/dim]"]
        shown = 0
        for asset in assets:
            oee = store.kpi(asset, "oee", windows=("shift", "rolling", ""))
            kwh = store.kpi(asset, "energy_kwh", windows=("day",))
            if not oee and not kwh:
                continue
            shown += 1
            mark = "▶" if asset == highlighted else " "
            name = escape(asset.rsplit("/", 1)[-1][:name_w])
            if oee:
                vals = self.oee_today.get(asset) or self._since_start(store, asset)
                pct = [v * 100 if v is not None else None for v in vals]
                line = sparkline(pct, width, 0, 100) or "…"
                value = _doubtful(oee, percent_text(oee.get("value"), oee.get("unit")))
                lines.append(f"{mark}{name:<{name_w}} OEE {line:<{width}} {value}")
                name, mark = "", " "
            if kwh:
                line = sparkline(self.kwh_hours.get(asset, []), width, 0) or "…"
                value = _doubtful(kwh, value_text(kwh.get("value"), "kWh", computed=True))
                lines.append(f"{mark}{name:<{name_w}} kWh {line:<{width}} {value}")
        if not shown:
            lines.append("[dim]no OEE or energy KPI yet — install a recipe (2: Catalog)[/dim]")
        elif not self.oee_today and not self.kwh_hours:
            lines.append("[dim]no historian here: trends since the TUI started[/dim]")
        lines += ["", "[b]Active alarms[/b]", *alarm_lines(alarms)]
        self.update("\n".join(lines))

    @staticmethod
    def _since_start(store: LiveStore, asset: str) -> list[float | None]:
        """OEE values the TUI received since it started (no historian on this runtime)."""
        for kind in ("shift", "rolling", ""):
            values = store.kpi_history.get((asset, "oee", kind))
            if values:
                return [v for _ts, v, _k in values]
        return []


def _doubtful(kpi: dict[str, Any], text: str) -> str:
    """``text`` marked ``?`` in yellow when the KPI was published with a quality other than
    good (as the overview's table does: an OEE window above 100 % is ``uncertain``)."""
    if kpi.get("quality") not in (None, "good"):
        return f"[yellow]{escape(text)} ?[/yellow]"
    return escape(text)
