"""Request/reply models of the pilot endpoint (``pilots.progress``), built on :mod:`kit.api`:
what the TUI's overview shows of each pilot's progress against its goal."""

from __future__ import annotations

from pydantic import RootModel

from kit.api import Reply, Request, endpoint


class ProgressRequest(Request):
    """Which time to evaluate at (default: now; tests and replays pass a fixed time)."""

    now: str | None = None


class GoalProgress(Reply):
    """One goal of a pilot, already worded for display."""

    goal: str
    status: str
    verdict: str
    progress: float | None = None
    """Share of the targeted change achieved (1.0 = met)."""
    baseline: str
    pilot: str
    change: str
    interval: str
    warnings: int = 0


class PilotProgress(Reply):
    """A pilot and its goals."""

    name: str
    owner: str
    start: str
    end: str
    ended: bool
    goals: list[GoalProgress]
    error: str | None = None
    """Why the pilot could not be evaluated (unreadable history…), shown instead of goals."""


class PilotList(RootModel[list[PilotProgress]]):
    """Every pilot of the site (a JSON list)."""


PROGRESS = endpoint(
    "pilots.progress", ProgressRequest, PilotList, "Each pilot's progress against its goal."
)
