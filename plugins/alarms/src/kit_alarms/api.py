"""Request/reply models of the alarms endpoints (``alarms.*``), built on :mod:`kit.api`."""

from __future__ import annotations

from pydantic import Field, RootModel

from kit.api import Reply, Request, endpoint

ALARM_ID = Field(min_length=1, max_length=300)
WHO = Field(min_length=1, max_length=200)


class ListRequest(Request):
    """Which alarms to list."""

    active_only: bool = False
    """Only annunciated alarms (or whose condition is active)."""


class AlarmInfo(Reply):
    """One alarm: ISA-18.2 state, rule and the last transitions (times ISO 8601 UTC)."""

    id: str
    state: str
    """``normal``, ``unacknowledged``, ``acknowledged``, ``returned_unacknowledged``,
    ``shelved``, ``suppressed`` or ``out_of_service``."""
    letter: str | None = None
    active: bool = False
    acked: bool = True
    rule: str | None = None
    type: str | None = None
    priority: str | None = None
    message: str | None = None
    point: str | None = None
    component: str | None = None
    asset: str | None = None
    value: float | None = None
    limit: float | None = None
    """Absolute limit of a ``hihi``/``hi``/``lo``/``lolo`` rule, in the point's unit (trend
    screens draw it); None for other rule types."""
    raised_at: str | None = None
    returned_at: str | None = None
    acked_at: str | None = None
    acked_by: str | None = None
    shelved_until: str | None = None
    shelved_by: str | None = None
    occurrences: int = 0


class AlarmList(RootModel[list[AlarmInfo]]):
    """Every alarm of every alarms component (a JSON list)."""


class AlarmAction(Request):
    """An operator action on one alarm."""

    id: str = ALARM_ID
    who: str = WHO


class ShelveRequest(AlarmAction):
    """Shelve an alarm for a while."""

    duration_s: float = Field(gt=0, le=30 * 86_400)


class OutOfServiceRequest(AlarmAction):
    """Take an alarm out of service (or back in)."""

    out_of_service: bool = True


LIST = endpoint("alarms.list", ListRequest, AlarmList, "Alarms and their ISA-18.2 states.")
ACK = endpoint("alarms.ack", AlarmAction, AlarmInfo, "Acknowledge an alarm.")
SHELVE = endpoint("alarms.shelve", ShelveRequest, AlarmInfo, "Shelve an alarm for duration_s.")
UNSHELVE = endpoint("alarms.unshelve", AlarmAction, AlarmInfo, "Unshelve an alarm.")
OUT_OF_SERVICE = endpoint(
    "alarms.out_of_service", OutOfServiceRequest, AlarmInfo, "Out of service (or back)."
)
