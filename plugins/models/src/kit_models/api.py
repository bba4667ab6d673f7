"""Request/reply models of the people-in-the-loop endpoints (``models.*``, ``workorders.*``).

Built on :mod:`kit.api` like every first-party plugin's endpoints: the runtime validates
requests against these, and the CLI (``kit model alerts/label``, ``kit workorder``) and the
TUI read replies with them. Times are ISO 8601 UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, RootModel

from kit.api import Reply, Request, endpoint

WHO = Field(min_length=1, max_length=200)
ID = Field(min_length=1, max_length=300)
NOTE = Field("", max_length=2000)


class AlertsRequest(Request):
    """Which alerts to list."""

    model: str | None = None
    """Only this model's alerts."""
    unlabelled_only: bool = False
    limit: int = Field(200, ge=1, le=5000)
    """Newest first, at most this many."""


class AlertInfo(Reply):
    """One anomaly alert and its label."""

    id: str
    model: str
    version: int
    role: str
    """``active`` (raised as an alarm) or ``shadow`` (recorded only)."""
    component: str
    asset: str
    raised_at: str | None = None
    cleared_at: str | None = None
    score: float
    threshold: float
    top_signal: str | None = None
    label: str | None = None
    """``real``, ``none``, ``unsure`` or null (not labelled yet)."""
    note: str | None = None
    labelled_by: str | None = None
    labelled_at: str | None = None
    work_order: str | None = None
    work_order_state: str | None = None


class AlertList(RootModel[list[AlertInfo]]):
    """Alerts, newest first."""


class LabelRequest(Request):
    """A person's verdict on one alert."""

    id: str = ID
    label: Literal["real", "none", "unsure"]
    """``real`` fault, ``none`` (no fault: a false alert), ``unsure``."""
    who: str = WHO
    note: str = NOTE
    fault_at: str | None = None
    """When the fault was confirmed on the machine (ISO 8601); default: now. Only for
    ``real``: the lead time is measured to it."""


class Figures(Reply):
    """Label-based figures of one model version."""

    version: int
    alerts: int
    real: int
    none: int
    unsure: int
    unlabelled: int
    precision_pct: float | None = None
    false_alerts_per_week: float | None = None
    lead_time_h: float | None = None
    observed_h: float
    mttr_h: float | None = None
    closed_work_orders: int = 0


class LabelReply(Reply):
    """The labelled alert and its version's figures after the label."""

    alert: AlertInfo
    figures: Figures


class FiguresRequest(Request):
    """Figures of every version of one model."""

    model: str = Field(min_length=1, max_length=48)


class FiguresList(RootModel[list[Figures]]):
    """One entry per version that has alerts or scored time."""


class WorkOrdersRequest(Request):
    """Which work orders to list."""

    state: Literal["draft", "approved", "rejected", "closed"] | None = None


class WorkOrderInfo(Reply):
    """One work order (the generic ``kit.work_order/1`` body, plus its delivery)."""

    id: str
    state: str
    asset: str
    model: str
    version: int
    alert_id: str
    title: str
    priority: str
    reason: str
    checks: list[str] = Field(default_factory=list)
    evidence_text: str = ""
    approval: str = "required"
    drafted_at: str | None = None
    approved_at: str | None = None
    approved_by: str | None = None
    closed_at: str | None = None
    delivery: dict[str, object] | None = None


class WorkOrderList(RootModel[list[WorkOrderInfo]]):
    """Work orders, newest first."""


class WorkOrderAction(Request):
    """A person's decision on one work order."""

    id: str = ID
    who: str = WHO
    note: str = NOTE


ALERTS = endpoint("models.alerts", AlertsRequest, AlertList, "Anomaly alerts and their labels.")
LABEL = endpoint("models.label", LabelRequest, LabelReply, "Label an alert real/none/unsure.")
FIGURES = endpoint(
    "models.figures", FiguresRequest, FiguresList, "Precision, false alerts, lead time per version."
)
WORK_ORDERS = endpoint("workorders.list", WorkOrdersRequest, WorkOrderList, "Work orders.")
APPROVE = endpoint("workorders.approve", WorkOrderAction, WorkOrderInfo, "Approve (send).")
REJECT = endpoint("workorders.reject", WorkOrderAction, WorkOrderInfo, "Reject a draft.")
CLOSE = endpoint("workorders.close", WorkOrderAction, WorkOrderInfo, "Close (work done).")
