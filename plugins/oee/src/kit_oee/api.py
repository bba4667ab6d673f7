"""Request/reply models of the OEE endpoints (``oee.*``), built on :mod:`kit.api`."""

from __future__ import annotations

from pydantic import Field, RootModel

from kit.api import Reply, Request, endpoint


class ComponentRequest(Request):
    """One oee component instance by name."""

    component: str = Field(min_length=1, max_length=200)


class Downtime(Reply):
    """One downtime (times ISO 8601 UTC)."""

    id: str
    start: str
    end: str | None = None
    duration_s: float | None = None
    planned_s: float = 0.0
    state: str | None = None
    reason: str | None = None
    who: str | None = None
    assigned_at: str | None = None


class DowntimeList(RootModel[list[Downtime]]):
    """The latest downtimes of a component (a JSON list)."""


class AssignReasonRequest(ComponentRequest):
    """Attach a reason code to a downtime."""

    downtime_id: str = Field(min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=200)
    who: str = Field(min_length=1, max_length=200)


DOWNTIMES = endpoint("oee.downtimes", ComponentRequest, DowntimeList, "Latest downtimes.")
ASSIGN_REASON = endpoint(
    "oee.assign_reason", AssignReasonRequest, Downtime, "Give a downtime its reason."
)
