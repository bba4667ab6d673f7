"""Request/reply models of the condition endpoints (``condition.*``), built on :mod:`kit.api`."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kit.api import Reply, Request, endpoint


class RelearnRequest(Request):
    """Learn a new baseline for some (or all) signals of one condition component."""

    component: str = Field(min_length=1, max_length=200)
    signals: list[str] | None = Field(None, max_length=1000)
    """Signals to relearn (default: all)."""


class RelearnReply(Reply):
    """Signals now learning, and the model version."""

    component: str
    relearning: list[str] = Field(default_factory=list)
    version: int | str | None = None


class FeedbackRequest(Request):
    """An operator's verdict on a condition alarm."""

    alarm_id: str = Field(min_length=1, max_length=300)
    verdict: bool | str
    """True (a real problem) or false (a false alarm); also ``true_alarm``/``false_alarm``."""
    who: str = Field(min_length=1, max_length=200)


class FeedbackReply(Reply):
    """The alarm record with its feedback."""

    feedback: dict[str, Any] = Field(default_factory=dict)


RELEARN = endpoint("condition.relearn", RelearnRequest, RelearnReply, "Relearn the baseline.")
FEEDBACK = endpoint("condition.feedback", FeedbackRequest, FeedbackReply, "True/false alarm.")
