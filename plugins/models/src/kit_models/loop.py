"""People in the loop: the alert book, labels, KPIs from labels, work orders and approval.

One :class:`PeopleLoop` per ``model_scoring`` component. The component tells it when an
alert is raised or cleared (:meth:`raised`, :meth:`cleared`) and how high the score of an
open alert is (:meth:`confidence`); people act through the control API (:meth:`label`,
:meth:`decide`). Every person's action is an audit record (``kit.event.audit.<asset>``,
category ``control_system``, with ``who``) published before it is carried out; records go
to the durable alert book (kit_models.book), and the figures people's labels make possible
are published as KPIs per model version:

* ``model_precision`` (%), ``model_false_alerts_per_week``, ``model_lead_time_h`` — attrs
  ``version`` and the label counts (kit_models.book.version_figures);
* ``model_mttr_h`` — alert → work order closed, attrs ``alert_to_order_h``,
  ``order_to_close_h``, ``closed`` (kit_models.book.mttr_figures).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit_models import workorders
from kit_models.book import LABELS, AlertBook, mttr_figures, version_figures

if TYPE_CHECKING:
    from kit_models.plugin import ModelScoring, Slot

EVIDENCE_WINDOWS = 60
"""Windows kept per loaded version for a work order's plot (an hour of 60 s windows)."""


class PeopleLoop:
    """Alerts, labels and work orders of one model_scoring component."""

    def __init__(self, comp: ModelScoring) -> None:
        self.comp = comp
        assert comp.ctx.data_dir is not None  # a running component always has the data_dir
        self.book = AlertBook.of(comp.ctx.data_dir, comp.config.model)
        self.open: dict[str, str] = {}
        """Role → id of its open alert."""
        self.recent: dict[str, deque[tuple[float, list[float]]]] = {}
        """Role → the last windows (end time, vector) of the version in that role."""

    # -- from the component ----------------------------------------------------------------
    def window(self, slot: Slot, ts: float, vec: list[float]) -> None:
        """Remember a scored window (evidence) and the time the version has scored."""
        q = self.recent.setdefault(slot.role, deque(maxlen=EVIDENCE_WINDOWS))
        if q and q[-1][0] > ts:
            q.clear()
        q.append((ts, vec))
        self.book.note_seen(slot.version, self.comp.ctx.name, str(self.comp.ctx.epoch), ts)

    def slot_changed(self, role: str) -> None:
        """A different version now holds ``role``: its evidence and open alert start afresh."""
        self.recent.pop(role, None)
        self.open.pop(role, None)

    async def raised(
        self, slot: Slot, ts: float, score: float, contributions: dict[str, float]
    ) -> str:
        """Book a new alert of ``slot``; returns its id (``<component>-<n>``)."""
        name = self.comp.ctx.name
        top = max(contributions, key=lambda s: abs(contributions[s])) if contributions else None
        q = self.recent.get(slot.role, deque())
        aid = f"{name}-{self.book.next_number(name)}"
        rec: dict[str, Any] = {
            "t": "alert",
            "id": aid,
            "model": self.comp.config.model,
            "version": slot.version,
            "role": slot.role,
            "component": name,
            "asset": str(self.comp.ctx.asset) if self.comp.ctx.asset else "",
            "raised_at": ts,
            "score": score,
            "threshold": slot.model.threshold,
            "contributions": contributions,
            "top_signal": top,
            "evidence": {
                "signals": slot.model.signals,
                "t": [t for t, _v in q],
                "values": [v for _t, v in q],
            },
        }
        self.book.note_seen(slot.version, name, str(self.comp.ctx.epoch), ts, force=True)
        self.book.append(rec)
        self.open[slot.role] = aid
        return aid

    def cleared(self, role: str, ts: float) -> str | None:
        """Book the end of ``role``'s open alert; its id (None if none was open)."""
        aid = self.open.pop(role, None)
        if aid is not None and aid in self.book.alerts:
            self.book.append({"t": "cleared", "id": aid, "at": ts})
        return aid

    async def confidence(self, slot: Slot, score: float) -> None:
        """An open active alert at ``high_confidence`` × threshold drafts its work order."""
        hc = self.comp.config.work_orders.high_confidence
        aid = self.open.get(slot.role)
        if slot.role != "active" or hc is None or aid is None:
            return
        if score >= hc * slot.model.threshold and f"WO-{aid}" not in self.book.work_orders:
            await self._draft(
                self.book.alerts[aid],
                f"high confidence: score {score:.2f} ≥ {hc:g} × threshold {slot.model.threshold:.2f}",
                confirmed=False,
                score=score,
            )

    # -- people ----------------------------------------------------------------------------
    async def label(
        self, alert_id: str, label: str, note: str, who: str, fault_at: float | None
    ) -> dict[str, Any]:
        """A person's verdict on an alert: audited, booked, KPIs republished; ``real`` drafts
        a work order (if the alert has none yet). Returns the alert and its version's figures.

        Raises:
            KitError: unknown alert or label.
        """
        if label not in LABELS:
            raise KitError(f"label must be one of {', '.join(LABELS)}, not {label!r}")
        self.book.reload()
        alert = self.book.alerts.get(alert_id)
        if alert is None:
            raise KitError(f"no alert {alert_id!r} in model {self.comp.config.model}")
        now = self._now()
        fault = fault_at if fault_at is not None else now
        if label == "real" and fault < alert["raised_at"] - 7 * 86400:
            raise KitError("fault_at is more than a week before the alert; check the time given")
        await self._audit(
            "model_alert_labelled",
            f"{who} labelled alert {alert_id} ({self.comp.config.model} v{alert['version']}) "
            f"{label}" + (f": {note}" if note else ""),
            who=who,
            alert_id=alert_id,
            label=label,
            note=note,
            version=alert["version"],
            previous=(alert.get("label") or {}).get("label"),
        )
        self.book.append(
            {"t": "label", "id": alert_id, "label": label, "note": note, "who": who, "at": now}
            | ({"fault_at": fault} if label == "real" else {})
        )
        figures = await self.publish_figures(alert["version"])
        if label == "real" and f"WO-{alert_id}" not in self.book.work_orders:
            await self._draft(self.book.alerts[alert_id], f"confirmed by {who}", confirmed=True)
        return {"alert": self.book.alerts[alert_id], "figures": figures}

    async def decide(self, wo_id: str, action: str, who: str, note: str) -> dict[str, Any]:
        """Approve, reject or close a work order on a person's word (audited).

        Raises:
            KitError: unknown work order, or the action does not fit its state.
        """
        self.book.reload()
        wo = self.book.work_orders.get(wo_id)
        if wo is None:
            raise KitError(f"no work order {wo_id!r}")
        try:
            new = workorders.transition(wo, action, who, note, self._now())
        except ValueError as exc:
            raise KitError(str(exc)) from None
        await self._audit(
            f"work_order_{new['state']}",
            f"{who}: work order {wo_id} {new['state']}" + (f" ({note})" if note else ""),
            who=who,
            work_order=wo_id,
            alert_id=wo["alert_id"],
            note=note,
        )
        return await self._enter(new)

    # -- internals -------------------------------------------------------------------------
    async def _draft(
        self, alert: dict[str, Any], reason: str, *, confirmed: bool, score: float | None = None
    ) -> None:
        policy = self.comp.config.work_orders
        wo = workorders.draft(
            alert,
            points={s: b.point for s, b in self.comp.config.inputs.items()},
            reason=reason,
            confirmed=confirmed,
            now=self._now(),
            approval=policy.approval,
            score=score,
        )
        wo = await self._enter(wo)
        if policy.approval == "auto-send":
            who = f"policy auto-send ({self.comp.ctx.name})"
            await self._audit(
                "work_order_approved",
                f"work order {wo['id']} approved by the asset's auto-send policy",
                who=who,
                work_order=wo["id"],
                alert_id=wo["alert_id"],
            )
            await self._enter(workorders.transition(wo, "approve", who, "", self._now()))

    async def _enter(self, wo: dict[str, Any]) -> dict[str, Any]:
        """Book a work order's new state, announce it, and on approval deliver it."""
        self.book.append({"t": "work_order", **wo})
        state = wo["state"]
        await self._wo_event(
            "work_order_drafted" if state == "draft" else f"work_order_{state}", wo
        )
        if state == "approved" and self.comp.config.work_orders.webhook is not None:
            ok, detail = await workorders.deliver_webhook(self.comp.config.work_orders.webhook, wo)
            wo = {**wo, "delivery": {"ok": ok, "detail": detail, "at": self._now()}}
            self.book.append({"t": "work_order", **wo})
            await self._wo_event("work_order_sent" if ok else "work_order_delivery_failed", wo)
        if state == "closed":
            await self.publish_mttr(wo["version"])
        return wo

    async def _wo_event(self, type_: str, wo: dict[str, Any]) -> None:
        failed = type_ == "work_order_delivery_failed"
        await self.comp.ctx.publish_event(
            "work_order",
            type_,
            severity="medium" if failed else {"high": "high"}.get(wo["priority"], "low"),
            result="failure" if failed else "ok",
            message=f"{wo['id']} {wo['state']}: {wo['title']}"
            + (f" — {wo['delivery']['detail']}" if "delivery" in wo else ""),
            data={**workorders.payload(wo), "component": self.comp.ctx.name},
        )

    async def publish_figures(self, version: int) -> dict[str, Any]:
        """Publish the label-based KPIs of ``version``; returns the figures."""
        self.book.reload()
        f = version_figures(self.book, version)
        attrs = {
            "model": self.comp.config.model,
            "version": version,
            **{k: f[k] for k in ("alerts", "real", "none", "unsure", "unlabelled")},
        }
        ctx = self.comp.ctx
        await ctx.publish_kpi("model_precision", f["precision_pct"], unit="%", attrs=attrs)
        await ctx.publish_kpi(
            "model_false_alerts_per_week",
            f["false_alerts_per_week"],
            attrs={**attrs, "observed_h": f["observed_h"]},
        )
        await ctx.publish_kpi("model_lead_time_h", f["lead_time_h"], unit="h", attrs=attrs)
        return f

    async def publish_mttr(self, version: int) -> dict[str, Any]:
        """Publish ``model_mttr_h`` of ``version`` (closed work orders); returns the figures."""
        self.book.reload()
        m = mttr_figures(self.book, version)
        await self.comp.ctx.publish_kpi(
            "model_mttr_h",
            m["mttr_h"],
            unit="h",
            attrs={"model": self.comp.config.model, "version": version, **m},
        )
        return m

    async def _audit(self, type_: str, message: str, **data: Any) -> None:
        await self.comp.ctx.publish_event(
            "audit",
            type_,
            category="control_system",
            result="success",
            message=message,
            data={"model": self.comp.config.model, "component": self.comp.ctx.name, **data},
        )

    def _now(self) -> float:
        return self.comp.ctx.clock.now().timestamp()


def alert_info(a: dict[str, Any], book: AlertBook) -> dict[str, Any]:
    """The public form of an alert (``models.alerts``): times ISO, no evidence arrays."""
    lab = a.get("label") or {}
    wo = book.work_orders.get(f"WO-{a['id']}")
    return {
        "id": a["id"],
        "model": a["model"],
        "version": a["version"],
        "role": a["role"],
        "component": a["component"],
        "asset": a["asset"],
        "raised_at": workorders.iso(a["raised_at"]),
        "cleared_at": workorders.iso(a.get("cleared_at")),
        "score": a["score"],
        "threshold": a["threshold"],
        "top_signal": a.get("top_signal"),
        "label": lab.get("label"),
        "note": lab.get("note"),
        "labelled_by": lab.get("who"),
        "labelled_at": workorders.iso(lab.get("at")),
        "work_order": wo["id"] if wo else None,
        "work_order_state": wo["state"] if wo else None,
    }
