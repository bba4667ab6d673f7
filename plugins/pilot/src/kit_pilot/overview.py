"""Every pilot's progress, worded for a one-line display (the ``pilots.progress`` endpoint
that the TUI overview shows)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit.errors import KitError
from kit_pilot.fmt import fmt, fmt_change
from kit_pilot.progress import progress
from kit_pilot.store import PilotStore

#: Resamples for the live view: the interval's ends move by well under a tenth of its width
#: from the report's 10,000 (the report and the pack use the full count).
LIVE_RESAMPLES = 2000


def all_progress(settings: Any, now_text: str | None = None) -> list[dict[str, Any]]:
    """Each pilot of ``settings.data_dir`` with its goals' status (errors per pilot, not raised)."""
    from kit_pilot.cli import site_history_dir

    now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    store = PilotStore(Path(settings.data_dir))
    history = site_history_dir(settings)
    out = []
    for name in store.names():
        try:
            p = store.load(name)
        except KitError as exc:
            out.append(_row(name, "?", "", "", False, [], str(exc)))
            continue
        row = _row(p.name, p.owner, p.start.isoformat(), p.end.isoformat(), now >= p.end, [])
        try:
            for r in progress(p, history, now, resamples=LIVE_RESAMPLES):
                c, u = r.comparison, r.unit
                row["goals"].append(
                    {
                        "goal": r.goal,
                        "status": r.status,
                        "verdict": c.verdict,
                        "progress": r.progress,
                        "baseline": fmt(c.baseline_mean, u),
                        "pilot": fmt(c.pilot_mean, u),
                        "change": fmt_change(c.change, u),
                        "interval": f"{fmt_change(c.ci_low, u)} … {fmt_change(c.ci_high, u)}"
                        if c.ci_low is not None
                        else "",
                        "warnings": len(c.warnings),
                    }
                )
        except (KitError, OSError, ValueError) as exc:
            row["error"] = str(exc)
        out.append(row)
    return out


def _row(
    name: str,
    owner: str,
    start: str,
    end: str,
    ended: bool,
    goals: list[Any],
    error: str | None = None,
) -> dict[str, Any]:
    return {
        "name": name,
        "owner": owner,
        "start": start,
        "end": end,
        "ended": ended,
        "goals": goals,
        "error": error,
    }
