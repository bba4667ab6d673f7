"""Request/reply models of the pilot endpoint (``pilots.progress``), built on :mod:`kit.api`:
what the TUI's overview shows of each pilot's progress against its goal."""

from __future__ import annotations

from datetime import datetime

from pydantic import RootModel, field_validator

from kit.api import Reply, Request, endpoint


class ProgressRequest(Request):
    """Which time to evaluate at (default: now; tests and replays pass a fixed time)."""

    now: str | None = None

    @field_validator("now")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        # Checked here so a bad time is an invalid request naming `now`, not an internal error.
        if v is not None:
            try:
                datetime.fromisoformat(v)
            except ValueError:
                raise ValueError("not an ISO 8601 time, e.g. 2026-12-06T05:00:00+00:00") from None
        return v


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
