"""A text control chart: points, centre line, control limits and marked rule violations.

Plain characters only (``●`` point, ``✗`` violation, ``─`` centre, ``┄`` limits), so the
chart reads on a 16-colour or monochrome terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widget import Widget


@dataclass
class ChartData:
    """What the chart shows."""

    title: str = ""
    values: list[float] = field(default_factory=list)
    violations: set[int] = field(default_factory=set)
    """Indices into ``values`` that broke a rule."""
    cl: float | None = None
    ucl: float | None = None
    lcl: float | None = None


def render_chart(d: ChartData, width: int, height: int) -> Text:
    """Draw ``d`` into ``width`` × ``height`` characters (pure; tested without a terminal)."""
    label_w = 10
    plot_w = max(4, width - label_w)
    plot_h = max(3, height - 2)
    out = Text(d.title + "\n", style="bold")
    vals = d.values[-plot_w:]
    offset = len(d.values) - len(vals)
    if not vals:
        out.append("no data yet")
        return out
    refs = [v for v in (d.cl, d.ucl, d.lcl) if v is not None]
    lo, hi = min(vals + refs), max(vals + refs)
    if hi == lo:
        hi, lo = hi + 1, lo - 1

    def row_of(v: float) -> int:
        return int(round((hi - v) / (hi - lo) * (plot_h - 1)))

    grid = [[" "] * len(vals) for _ in range(plot_h)]
    styles = [[""] * len(vals) for _ in range(plot_h)]
    labels = [""] * plot_h
    for v, ch, name in ((d.ucl, "┄", "UCL"), (d.lcl, "┄", "LCL"), (d.cl, "─", "CL")):
        if v is None:
            continue
        r = row_of(v)
        labels[r] = f"{name} {v:.4g}"
        for c in range(len(vals)):
            grid[r][c] = ch
            styles[r][c] = "bright_black"
    for i, v in enumerate(vals):
        r = row_of(v)
        bad = (i + offset) in d.violations
        grid[r][i] = "✗" if bad else "●"
        styles[r][i] = "bold red" if bad else "cyan"
    for r in range(plot_h):
        out.append(f"{labels[r]:>{label_w - 1}} ", style="bright_black")
        for c in range(len(vals)):
            out.append(grid[r][c], style=styles[r][c] or None)
        out.append("\n")
    n_bad = sum(1 for i in d.violations if i >= offset)
    out.append(f"{'':>{label_w}}{len(vals)} points, {n_bad} ✗ rule violation(s)")
    return out


class ControlChart(Widget):
    """Shows a :class:`ChartData`; set :attr:`data` and it redraws."""

    DEFAULT_CSS = "ControlChart { height: 1fr; min-height: 6; }"

    def __init__(self, **kw) -> None:
        super().__init__(**kw)
        self.data = ChartData()

    def show(self, data: ChartData) -> None:
        """Replace the chart's data (attributes down)."""
        self.data = data
        self.refresh()

    def render(self) -> Text:
        return render_chart(self.data, self.size.width, self.size.height)
