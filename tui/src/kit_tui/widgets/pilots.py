"""Pilot progress on the overview: one line per goal of each running pilot, from the
``pilots.progress`` endpoint (the pilot plugin). Hidden when there is no pilot or the
runtime lacks the endpoint. Status is written in words with a bar, never colour alone."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

#: Status → symbol shown before it.
SYMBOL = {
    "target reached": "✔",
    "moving toward target": "↗",
    "not on track": "✖",
    "too early": "…",
}


def bar(progress: float | None, width: int = 10) -> str:
    """``█████░░░░░  50 %`` for 0.5 of the target (capped at the ends, ``—`` when unknown)."""
    if progress is None:
        return "░" * width + "   — "
    filled = max(0, min(width, round(progress * width)))
    return "█" * filled + "░" * (width - filled) + f" {progress * 100:4.0f} %"


def pilot_lines(pilots: list[Any]) -> list[str]:
    """Display lines for ``pilots`` (``PilotProgress`` models or dicts of that shape)."""
    lines = []
    for p in pilots:
        d = p if isinstance(p, dict) else p.model_dump()
        head = f"Pilot {d['name']} ({d['owner']}, until {d['end'][:10]}{', ended' if d['ended'] else ''})"
        if d.get("error"):
            lines.append(f"{head}: cannot evaluate — {d['error']}")
            continue
        lines.append(head)
        for g in d["goals"]:
            warn = f"  ⚠ {g['warnings']}" if g.get("warnings") else ""
            interval = f" [{g['interval']}]" if g.get("interval") else ""
            lines.append(
                f"  {g['goal']:<24} {bar(g.get('progress'))}  {SYMBOL.get(g['status'], '?')} "
                f"{g['status']}: {g['baseline']} → {g['pilot']} ({g['change']}{interval}, "
                f"{g['verdict']}){warn}"
            )
    return lines


class PilotPanel(Static):
    """The pilots block under the overview table."""

    DEFAULT_CSS = """
    PilotPanel { height: auto; padding: 0 1; display: none; }
    PilotPanel.-shown { display: block; }
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__("", markup=False, **kw)

    def show(self, pilots: list[Any] | None) -> None:
        """Show ``pilots``; hide when None (no endpoint) or empty."""
        lines = pilot_lines(pilots or [])
        self.set_class(bool(lines), "-shown")
        self.update("\n".join(lines))
