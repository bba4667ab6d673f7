"""The people-in-the-loop control endpoints: list and label alerts, figures, work orders.

Each request is routed to the ``model_scoring`` component that raised the alert (its name
starts the alert id) or drafted the work order; that component audits the person's action,
books it and publishes the KPIs (kit_models.loop).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from kit.errors import KitError
from kit_models import api, workorders
from kit_models.book import AlertBook, mttr_figures, version_figures
from kit_models.loop import alert_info

if TYPE_CHECKING:
    from kit_models.plugin import ModelScoring


def figures(book: AlertBook, version: int) -> dict[str, Any]:
    """Label figures and MTTR of one version (the ``Figures`` reply)."""
    m = mttr_figures(book, version)
    return {
        **version_figures(book, version),
        "mttr_h": m["mttr_h"],
        "closed_work_orders": m["closed"],
    }


def book_versions(book: AlertBook) -> list[int]:
    """Versions that have alerts or scored time in ``book``."""
    return sorted({a["version"] for a in book.alerts.values()} | {v for v, _c, _r in book.seen})


def _parse_time(text: str) -> float:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        raise KitError(
            f"fault_at {text!r}: not an ISO 8601 time (e.g. 2026-12-06T08:30:00Z)"
        ) from None
    if dt.tzinfo is None:
        raise KitError(f"fault_at {text!r}: give a time zone (Z or +01:00)")
    return dt.timestamp()


def add_people_endpoints(api_: Any, components: Callable[[], list[ModelScoring]]) -> None:
    """Register ``models.alerts/label/figures`` and ``workorders.*`` on the control API."""

    def books() -> dict[str, tuple[ModelScoring, AlertBook]]:
        out: dict[str, tuple[ModelScoring, AlertBook]] = {}
        for c in components():
            if c.loop is not None and c.config.model not in out:
                c.loop.book.reload()
                out[c.config.model] = (c, c.loop.book)
        return out

    def owner(component: str) -> ModelScoring:
        for c in components():
            if c.ctx.name == component and c.loop is not None:
                return c
        raise KitError(f"component {component!r} that raised it is not running")

    async def alerts(b: api.AlertsRequest) -> list[dict[str, Any]]:
        out = []
        for name, (_c, book) in books().items():
            if b.model and name != b.model:
                continue
            out += [
                alert_info(a, book)
                for a in book.alerts.values()
                if not (b.unlabelled_only and a.get("label"))
            ]
        out.sort(key=lambda a: a["raised_at"] or "", reverse=True)
        return out[: b.limit]

    async def label(b: api.LabelRequest) -> dict[str, Any]:
        for _c, book in books().values():
            a = book.alerts.get(b.id)
            if a is not None:
                loop = owner(a["component"]).loop
                assert loop is not None  # owner() returns running components only
                res = await loop.label(
                    b.id, b.label, b.note, b.who, _parse_time(b.fault_at) if b.fault_at else None
                )
                return {
                    "alert": alert_info(res["alert"], loop.book),
                    "figures": figures(loop.book, a["version"]),
                }
        raise KitError(f"no alert {b.id!r} (kit model alerts lists them)")

    async def figures_(b: api.FiguresRequest) -> list[dict[str, Any]]:
        found = books().get(b.model)
        if found is None:
            raise KitError(f"no model_scoring component runs model {b.model!r}")
        book = found[1]
        return [figures(book, v) for v in book_versions(book)]

    def wo_info(wo: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in workorders.payload(wo).items() if k != "evidence_svg"}

    async def wo_list(b: api.WorkOrdersRequest) -> list[dict[str, Any]]:
        out = [
            wo
            for _c, book in books().values()
            for wo in book.work_orders.values()
            if b.state is None or wo["state"] == b.state
        ]
        out.sort(key=lambda w: w["drafted_at"], reverse=True)
        return [wo_info(w) for w in out]

    def decision(action: str) -> Callable[[api.WorkOrderAction], Any]:
        async def call(b: api.WorkOrderAction) -> dict[str, Any]:
            for _c, book in books().values():
                wo = book.work_orders.get(b.id)
                if wo is not None:
                    loop = owner(wo["component"]).loop
                    assert loop is not None  # owner() returns running components only
                    return wo_info(await loop.decide(b.id, action, b.who, b.note))
            raise KitError(f"no work order {b.id!r} (kit workorder list shows them)")

        return call

    api_.add(api.ALERTS, alerts)
    api_.add(api.LABEL, label)
    api_.add(api.FIGURES, figures_)
    api_.add(api.WORK_ORDERS, wo_list)
    api_.add(api.APPROVE, decision("approve"))
    api_.add(api.REJECT, decision("reject"))
    api_.add(api.CLOSE, decision("close"))
