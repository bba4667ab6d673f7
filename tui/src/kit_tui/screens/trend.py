"""Trends: points and KPIs over hours, days or a chosen range, from the historian.

The screen asks the historian (``history.query``, aggregated into about
:data:`TARGET_BUCKETS` intervals, so a week costs the same as an hour) for each series and
draws them with textual-plotext. Series with another unit than the first get the right-hand
axis. Alarm limits (``alarms.list``: hi/hihi/lo/lolo rules on the same asset and point) and
SPC control limits (the ``<c>_x_ucl``/``_cl``/``_lcl`` KPIs the SPC plugin records, the
last ones in force) are drawn as horizontal lines and named in the legend.

Keys: ``+``/``-`` zoom between 1 h, 8 h, 1 day, 7 days and 30 days; ``←``/``→`` move half a
range earlier or later; ``end`` follows now again; ``c`` a chosen range; ``a`` adds a
series, ``d`` drops the last one; ``e`` saves what is shown (series, range, interval) as a
CSV or Excel file on the machine the TUI runs on (``history.export``: the CLI's exporter,
in the local time zone of this machine, units in the headers). The clock is a constructor argument (tests use a fixed
one over a synthetic week of history).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static
from textual_plotext import PlotextPlot

from kit.localtime import local_tz_name
from kit_tui.data import plugin_api
from kit_tui.screens.base import KitScreen
from kit_tui.screens.dialogs import PromptDialog

#: (label, seconds) of the zoom steps.
RANGES: list[tuple[str, int]] = [
    ("1 h", 3600),
    ("8 h", 8 * 3600),
    ("1 day", 86400),
    ("7 days", 7 * 86400),
    ("30 days", 30 * 86400),
]
#: Aggregation intervals (seconds, history.query ``every``), smallest first.
BUCKETS: list[tuple[int, str]] = [
    (5, "5s"),
    (10, "10s"),
    (15, "15s"),
    (30, "30s"),
    (60, "1m"),
    (120, "2m"),
    (300, "5m"),
    (600, "10m"),
    (900, "15m"),
    (1800, "30m"),
    (3600, "1h"),
    (7200, "2h"),
    (10800, "3h"),
    (21600, "6h"),
    (43200, "12h"),
    (86400, "1d"),
]
#: About this many intervals per series: more than a terminal is wide, little to transfer.
TARGET_BUCKETS = 240
#: While following now, the trend is fetched again this often (seconds).
FOLLOW_REFRESH_S = 15.0
_REL = re.compile(r"^-(\d+(?:\.\d+)?)\s*([mhd])$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Series:
    """One line of a trend: a point or KPI of an asset (KPIs: optionally one window)."""

    asset: str
    point: str
    window: str | None = None

    @property
    def label(self) -> str:
        """Short name for the legend: the last two asset levels and the point."""
        tail = "/".join(self.asset.split("/")[-2:])
        return f"{tail} {self.point}" + (f" ({self.window})" if self.window else "")


@dataclass(frozen=True)
class Limit:
    """A horizontal line: an alarm limit or an SPC control limit of one series."""

    kind: str
    """``alarm`` or ``spc``."""
    name: str
    """``hi``, ``lolo``… or ``UCL``, ``CL``, ``LCL``."""
    value: float
    series: Series


def bucket_for(span_s: float) -> tuple[int, str]:
    """The smallest aggregation interval giving at most :data:`TARGET_BUCKETS` per span."""
    for seconds, every in BUCKETS:
        if span_s / seconds <= TARGET_BUCKETS:
            return seconds, every
    return BUCKETS[-1]


def parse_when(text: str, now: datetime) -> datetime:
    """``now``, ``-3h``/``-2d``/``-30m`` or an ISO 8601 time (without offset: local time).

    Raises:
        ValueError: none of those.
    """
    t = text.strip()
    if t == "now":
        return now
    m = _REL.match(t)
    if m:
        return now - timedelta(seconds=float(m.group(1)) * _UNIT_S[m.group(2)])
    dt = datetime.fromisoformat(t.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.astimezone()  # naive: the technician's local time


def parse_range(text: str, now: datetime) -> tuple[datetime, datetime]:
    """``FROM TO`` (see :func:`parse_when`; TO defaults to now).

    Raises:
        ValueError: unreadable, or TO not after FROM.
    """
    parts = text.split()
    if not 1 <= len(parts) <= 2:
        raise ValueError("give FROM and TO, e.g. 2026-11-20T06:00 2026-11-20T14:00 or -3d -1d")
    start = parse_when(parts[0], now)
    end = parse_when(parts[1], now) if len(parts) == 2 else now
    if end <= start:
        raise ValueError("TO must be after FROM")
    return start, end


def spc_names(point: str) -> list[str]:
    """KPI names of the SPC limits that belong to ``point`` (a measured point whose chart
    has the default characteristic name, or an SPC ``<c>_x`` KPI itself)."""
    chars = [point] + ([point[:-2]] if point.endswith("_x") else [])
    return [f"{c}_x_{lim}" for c in chars for lim in ("ucl", "cl", "lcl")]


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat()


def _epoch(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def tick_labels(start: float, end: float, n: int = 6) -> tuple[list[float], list[str]]:
    """``n`` evenly spaced x ticks in local time: clock time within two days, else dates."""
    span = end - start
    fmt = "%H:%M" if span <= 2 * 86400 else "%a %d %H:%M" if span <= 8 * 86400 else "%d %b"
    ticks = [start + span * i / (n - 1) for i in range(n)]
    return ticks, [datetime.fromtimestamp(t).astimezone().strftime(fmt) for t in ticks]


class TrendScreen(KitScreen):
    """A trend of one or more series (see module docstring)."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("plus,equals_sign", "zoom(-1)", "Zoom in", key_display="+"),
        Binding("minus", "zoom(1)", "Zoom out", key_display="-"),
        Binding("left", "pan(-1)", "Earlier", key_display="←"),
        Binding("right", "pan(1)", "Later", key_display="→"),
        Binding("end", "follow", "Now"),
        Binding("c", "choose_range", "Range"),
        Binding("a", "add_series", "Add series"),
        Binding("d", "drop_series", "Drop series"),
        Binding("e", "export", "Export"),
    ]

    def __init__(
        self,
        series: list[Series] | None = None,
        *,
        span_index: int = 2,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__()
        self.series: list[Series] = list(series or [])
        self.TITLE_TEXT = "Trend"
        self.now = now or (lambda: datetime.now(UTC))
        self.span_index = span_index
        self.span_s: float = RANGES[span_index][1]
        #: End of the shown range; None follows now.
        self.end: datetime | None = None
        #: What was drawn last: series → [(epoch s, value)], the limits, the interval.
        self.shown: dict[Series, list[tuple[float, float]]] = {}
        self.units: dict[Series, str | None] = {}
        self.limits: list[Limit] = []
        self.bucket: tuple[int, str] = bucket_for(self.span_s)
        self.range: tuple[datetime, datetime] | None = None
        self.fetches = 0
        """Completed fetches (tests wait for the next one)."""
        self.exported: list[str] = []
        """What the last export saved (file, rows, time zone)."""

    def compose_body(self) -> ComposeResult:
        yield Static("", id="trend-head")
        plot = PlotextPlot(id="trend-plot")
        # Plotext's "clear" theme draws axes and ticks in the widget's own text colour on its
        # own background; the theme derived from the app's drew them black on black here.
        plot.theme = "clear"
        yield plot
        yield Static("", id="trend-legend")

    def on_mount(self) -> None:
        super().on_mount()
        self.set_interval(FOLLOW_REFRESH_S, self._follow_tick)

    def _follow_tick(self) -> None:
        if self.end is None and self.series:
            self.reload()

    # --- range ------------------------------------------------------------------------------

    def current_range(self) -> tuple[datetime, datetime]:
        """The shown range: ``span_s`` ending at ``end`` (or now)."""
        end = self.end or self.now()
        return end - timedelta(seconds=self.span_s), end

    def action_zoom(self, step: int) -> None:
        """One zoom step in (-1) or out (+1), keeping the end of the range."""
        self.span_index = min(max(self.span_index + step, 0), len(RANGES) - 1)
        self.span_s = RANGES[self.span_index][1]
        self.reload()

    def action_pan(self, direction: int) -> None:
        """Move half a range earlier (-1) or later (+1); reaching now follows now again."""
        now = self.now()
        end = (self.end or now) + timedelta(seconds=direction * self.span_s / 2)
        self.end = None if end >= now else end
        self.reload()

    def action_follow(self) -> None:
        """Show the range ending now, and keep following it."""
        self.end = None
        self.reload()

    def action_choose_range(self) -> None:
        """Ask for FROM and TO."""

        def answer(text: str | None) -> None:
            if not text:
                return
            try:
                start, end = parse_range(text, self.now())
            except ValueError as exc:
                self.notify(f"range: {exc}", severity="error")
                return
            self.span_s = (end - start).total_seconds()
            self.end = None if end >= self.now() else end
            self.reload()

        self.app.push_screen(
            PromptDialog(
                "Range FROM TO (local time, ISO 8601, or relative like -3d -1d; TO may be left out)",
                placeholder="2026-11-20T06:00 2026-11-20T14:00",
            ),
            answer,
        )

    # --- export -----------------------------------------------------------------------------

    def action_export(self) -> None:
        """Ask where to save what the trend shows (.csv or .xlsx), then save it."""
        if not self.series:
            self.notify("nothing to export: press a to add a series", severity="warning")
            return
        start, _end = self.current_range()
        name = self.series[0].asset.rsplit("/", 1)[-1]
        default = Path.home() / f"{name}-{start.astimezone():%Y%m%d-%H%M}.csv"

        def answer(text: str | None) -> None:
            if text:
                self.export_to(Path(text.strip()).expanduser())

        self.app.push_screen(
            PromptDialog(
                "Save as (.csv or .xlsx; this machine's time zone, units in the headers):",
                value=str(default),
            ),
            answer,
        )

    @work(group="trend-export")
    async def export_to(self, path: Path) -> None:
        """Save the shown series (one file per asset) through ``history.export``."""
        start, end = self.current_range()
        fmt = "xlsx" if path.suffix.lower() == ".xlsx" else "csv"
        try:
            spec = plugin_api.spec("history.export")
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        by_asset: dict[str, list[Series]] = {}
        for s in self.series:
            by_asset.setdefault(s.asset, []).append(s)
        saved = []
        for asset, series in by_asset.items():
            target = path
            if len(by_asset) > 1:
                target = path.with_name(f"{path.stem}-{asset.rsplit('/', 1)[-1]}{path.suffix}")
            body: dict[str, Any] = {
                "asset": asset,
                "points": [s.point for s in series],
                "from": _iso(start),
                "to": _iso(end),
                "every": self.bucket[1],
                "agg": "mean",
                "format": fmt,
                "tz": local_tz_name(),
            }
            windows = {s.window for s in series}
            if len(windows) == 1 and None not in windows:
                body["window"] = windows.pop()
            try:
                reply = await self.call(spec, body, timeout=60)
                target.write_bytes(base64.b64decode(reply.data))
            except OSError as exc:
                self.notify(f"cannot write {target}: {exc.strerror or exc}", severity="error")
                return
            except Exception as exc:
                self.notify(self.explain(exc), severity="error", timeout=8)
                return
            more = " (truncated: narrow the range)" if reply.truncated else ""
            saved.append(f"{target} — {reply.rows} rows, {reply.tz}{more}")
        self.exported = saved
        self.notify("saved " + "; ".join(saved), timeout=10)

    # --- series -----------------------------------------------------------------------------

    def action_add_series(self) -> None:
        """Ask for ``[asset] point[@window]`` (asset default: the first series')."""

        def answer(text: str | None) -> None:
            if not text:
                return
            try:
                self.series.append(self._parse_series(text))
            except ValueError as exc:
                self.notify(str(exc), severity="error")
                return
            self.reload()

        self.app.push_screen(
            PromptDialog(
                "Add a series: [ASSET] POINT[@WINDOW], e.g. demo/assembly/line1/press1 oee@rolling",
                value=(self.series[0].asset + " ") if self.series else "",
            ),
            answer,
        )

    def _parse_series(self, text: str) -> Series:
        parts = text.split()
        if len(parts) == 1 and self.series:
            asset, spec = self.series[0].asset, parts[0]
        elif len(parts) == 2:
            asset, spec = parts
        else:
            raise ValueError("series: give ASSET and POINT, e.g. site/area/line/press1 power_kw")
        point, _, window = spec.partition("@")
        return Series(asset, point, window or None)

    def action_drop_series(self) -> None:
        """Remove the last series."""
        if self.series:
            self.series.pop()
            self.reload()

    # --- data -------------------------------------------------------------------------------

    def reload(self) -> None:
        self.range = self.current_range()
        self.bucket = bucket_for(self.span_s)
        self._head()
        if self.series:
            self.fetch(self.range, self.bucket[1])
        else:
            self._draw()

    def _head(self) -> None:
        assert self.range is not None
        start, end = (t.astimezone() for t in self.range)
        label = next((name for name, s in RANGES if s == self.span_s), None)
        span = label or f"{self.span_s / 3600:.1f} h"
        when = "now" if self.end is None else end.strftime("%Y-%m-%d %H:%M")
        self.query_one("#trend-head", Static).update(
            f"[b]{span}[/b] to {when}  ·  {start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} "
            f"({end.tzname()})  ·  mean per {self.bucket[1]}"
        )

    @work(exclusive=True, group="trend")
    async def fetch(self, rng: tuple[datetime, datetime], every: str) -> None:
        """Query each series, then the alarm and SPC limits; draw."""
        start, end = rng
        shown: dict[Series, list[tuple[float, float]]] = {}
        units: dict[Series, str | None] = {}
        problems: list[str] = []
        try:
            query = plugin_api.spec("history.query")
        except Exception as exc:
            self._draw(problem=self.explain(exc))
            return
        for s in list(self.series):
            body: dict[str, Any] = {
                "asset": s.asset,
                "points": [s.point],
                "from": _iso(start),
                "to": _iso(end),
                "every": every,
                "agg": "mean",
            }
            if s.window:
                body["window"] = s.window
            try:
                reply = await self.call(query, body, timeout=20)
            except Exception as exc:
                problems.append(f"{s.label}: {self.explain(exc)}")
                continue
            ts_i, v_i = reply.columns.index("ts"), reply.columns.index("value")
            shown[s] = [(_epoch(r[ts_i]), float(r[v_i])) for r in reply.rows if r[v_i] is not None]
            units[s] = reply.units.get(s.point)
        limits = await self._limits(query, start, end)
        self.shown, self.units, self.limits = shown, units, limits
        self._draw(problem="; ".join(problems))
        self.fetches += 1

    async def _limits(self, query: Any, start: datetime, end: datetime) -> list[Limit]:
        """Alarm limits and the SPC limits in force at ``end`` of every series."""
        out: list[Limit] = []
        try:
            alarms = (await self.call(plugin_api.spec("alarms.list"), {})).root
        except Exception:  # no alarms plugin: no alarm limits to draw
            alarms = []
        for s in self.series:
            for a in alarms:
                limit = getattr(a, "limit", None)
                if a.asset == s.asset and a.point == s.point and limit is not None:
                    out.append(Limit("alarm", a.type or a.rule or "limit", float(limit), s))
            # SPC limits are recorded when they change (and now and then): the last ones
            # before the end of the range are in force, even if set long before its start.
            body = {
                "asset": s.asset,
                "points": spc_names(s.point),
                "from": _iso(start - timedelta(days=30)),
                "to": _iso(end),
                "window": "limits",
            }
            try:
                reply = await self.call(query, body, timeout=20)
            except Exception:
                continue
            p_i, v_i = reply.columns.index("point"), reply.columns.index("value")
            last: dict[str, float] = {}
            for r in reply.rows:  # sorted by point, then time: the last one wins
                if r[v_i] is not None:
                    last[r[p_i]] = float(r[v_i])
            for name in spc_names(s.point):  # UCL, CL, LCL: top to bottom
                if name in last:
                    out.append(Limit("spc", name.rsplit("_", 1)[-1].upper(), last[name], s))
        return out

    # --- drawing ----------------------------------------------------------------------------

    def _draw(self, problem: str = "") -> None:
        plot = self.query_one(PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        legend: list[str] = []
        if self.range is not None:
            start, end = (t.timestamp() for t in self.range)
            first_unit = self.units.get(self.series[0]) if self.series else None
            for s in self.series:
                pts = self.shown.get(s, [])
                unit = self.units.get(s)
                side = "left" if unit == first_unit else "right"
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    plt.plot(list(xs), list(ys), label=s.label, yside=side, marker="braille")
                legend.append(
                    f"[b]{escape(s.label)}[/b] {escape(unit or '')} "
                    f"({len(pts)} values{', right axis' if side == 'right' else ''})"
                    + ("" if pts else " — no history in this range")
                )
            for lim in self.limits:
                side = "left" if self.units.get(lim.series) == first_unit else "right"
                colour = "red" if lim.kind == "alarm" else "orange"
                plt.hline(lim.value, color=colour, yside=side)
                what = "alarm limit" if lim.kind == "alarm" else "SPC limit"
                legend.append(
                    f"[{'#ff0000' if lim.kind == 'alarm' else '#d0b344'}]──[/] "
                    f"{what} {escape(lim.name)} {lim.value:g} of {escape(lim.series.label)}"
                )
            plt.xlim(start, end)
            ticks, labels = tick_labels(start, end)
            plt.xticks(ticks, labels)
        if not self.series:
            legend.append("No series yet: press a to add one (an asset path and a point or KPI).")
        if problem:
            legend.append(f"[red]{escape(problem)}[/red]")
        self.query_one("#trend-legend", Static).update("\n".join(legend))
        plot.refresh()
