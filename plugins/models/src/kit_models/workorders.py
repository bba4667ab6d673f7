"""Work orders drafted from anomaly alerts, and the approval guardrail in front of sending.

A work order is drafted when a person labels an alert a real fault, or when an active
model's alert reaches ``high_confidence`` × its threshold. It is an event on the bus
(``kit.event.work_order.<asset>``, type ``work_order_drafted``, ``data.state: draft``) and
nothing leaves the site until a person approves it — unless the component's policy for
its asset is ``approval: auto-send``. Approval emits ``work_order_approved``
(``data.state: approved``, the whole work order in ``data``): the event a notification sink
delivers to a CMMS or ticket system.

Delivery here: when ``webhook`` is set, the approved work order is POSTed as JSON
(:func:`deliver_webhook`, the generic ``kit.work_order/1`` body of :func:`payload`). This is
the models plugin's own small delivery path; a site with the notify sink plugin routes the
``work_order_approved`` event there instead and leaves ``webhook`` unset.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kit_models import evidence

SCHEMA = "kit.work_order/1"
STATES = ("draft", "approved", "rejected", "closed")
#: action → (states it may start from, state it leads to)
TRANSITIONS = {
    "approve": (("draft",), "approved"),
    "reject": (("draft",), "rejected"),
    "close": (("approved",), "closed"),
}


class Webhook(BaseModel):
    """Where approved work orders are POSTed (generic JSON, docs/models.md)."""

    model_config = ConfigDict(extra="forbid")

    url: str
    """``http://`` or ``https://`` URL of the CMMS / ticket system's inbound webhook."""
    headers: dict[str, str] = Field(default_factory=dict)
    """Extra headers, e.g. an API token the ticket system expects."""
    timeout_s: float = Field(10.0, gt=0, le=120)

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return v


class WorkOrderPolicy(BaseModel):
    """Per asset (per model_scoring component): when work orders are drafted and sent."""

    model_config = ConfigDict(extra="forbid")

    approval: Literal["required", "auto-send"] = "required"
    """``required``: a person approves every work order before it is sent (the default);
    ``auto-send``: approved at once by this policy (still audited, naming the policy)."""
    high_confidence: float | None = Field(3.0, gt=1.0)
    """An active alert whose score reaches this many times the threshold drafts a work
    order without waiting for a label; null: only alerts a person confirms draft one."""
    webhook: Webhook | None = None
    """Send approved work orders here; unset: only the bus event (for a sink plugin)."""


def iso(ts: float | None) -> str | None:
    """ISO 8601 UTC of an epoch time (None stays None)."""
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()


def draft(
    alert: dict[str, Any],
    *,
    points: dict[str, str],
    reason: str,
    confirmed: bool,
    now: float,
    approval: str,
    score: float | None = None,
) -> dict[str, Any]:
    """A new work order (state ``draft``) for ``alert`` (an alert book record); ``score`` is
    the score that drafted it (default: the alert's score when raised)."""
    score = alert["score"] if score is None else score
    ratio = score / alert["threshold"] if alert["threshold"] else 0.0
    ev = alert.get("evidence") or {}
    top = alert.get("top_signal") or "?"
    return {
        "id": f"WO-{alert['id']}",
        "state": "draft",
        "asset": alert["asset"],
        "model": alert["model"],
        "version": alert["version"],
        "component": alert["component"],
        "alert_id": alert["id"],
        "alert_raised_at": alert["raised_at"],
        "title": f"Anomaly on {alert['asset']}: {top} out of its usual relation "
        f"(model {alert['model']} v{alert['version']})",
        "priority": evidence.priority(ratio, confirmed),
        "reason": reason,
        "score": score,
        "alert_score": alert["score"],
        "threshold": alert["threshold"],
        "contributions": alert.get("contributions", {}),
        "checks": evidence.suggested_checks(alert.get("contributions", {}), points),
        "evidence_text": evidence.text_plot(ev, alert["raised_at"]),
        "evidence_svg": evidence.svg_plot(ev, alert["raised_at"]),
        "approval": approval,
        "drafted_at": now,
        "history": [{"state": "draft", "at": now, "who": reason}],
    }


def transition(wo: dict[str, Any], action: str, who: str, note: str, now: float) -> dict[str, Any]:
    """The work order after ``action`` by ``who`` (a new dict).

    Raises:
        ValueError: the action is not allowed in the work order's state.
    """
    allowed, to = TRANSITIONS[action]
    if wo["state"] not in allowed:
        raise ValueError(
            f"work order {wo['id']} is {wo['state']}; {action} needs it to be {' or '.join(allowed)}"
        )
    out = {**wo, "state": to, f"{to}_at": now, f"{to}_by": who}
    if note:
        out[f"{to}_note"] = note
    out["history"] = [*wo.get("history", []), {"state": to, "at": now, "who": who, "note": note}]
    return out


def payload(wo: dict[str, Any]) -> dict[str, Any]:
    """The generic JSON body sent for an approved work order (times ISO 8601 UTC)."""
    body = {"schema": SCHEMA, **{k: v for k, v in wo.items() if k != "history"}}
    for k in list(body):
        if k.endswith("_at") and isinstance(body[k], (int, float)):
            body[k] = iso(body[k])
    return body


async def deliver_webhook(hook: Webhook, wo: dict[str, Any]) -> tuple[bool, str]:
    """POST the work order to ``hook``; ``(delivered, detail)``. Never raises.

    One attempt: a failure is reported (event ``work_order_delivery_failed``) and the work
    order stays approved, so a person sees it was not delivered and can pass it on by hand.
    """
    data = json.dumps(payload(wo)).encode()
    req = urllib.request.Request(
        hook.url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **hook.headers},
    )

    def send() -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(req, timeout=hook.timeout_s) as resp:  # noqa: S310 (scheme checked)
                return 200 <= resp.status < 300, f"HTTP {resp.status}"
        except urllib.error.HTTPError as exc:
            return False, f"HTTP {exc.code} from {hook.url}"
        except (urllib.error.URLError, OSError) as exc:
            return False, f"cannot reach {hook.url}: {getattr(exc, 'reason', exc)}"

    # urllib blocks: run it off the event loop (a slow ticket system must not stall scoring).
    return await asyncio.to_thread(send)
