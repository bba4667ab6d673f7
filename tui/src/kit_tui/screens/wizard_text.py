"""What the install wizard says: the plan as prose (details on request) and the report.

The plan step used to be an outline of subjects and component dicts; a technician first
needs the sentence "this connects to press7 at 10.0.0.5:502 and starts three components",
and only then, on request, the subjects and component types.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from rich.markup import escape

from kit.api import deployments as dep_api
from kit.api import recipes as rec_api
from kit_tui.widgets.fields import field_lines, scalar


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _where(settings: dict[str, Any]) -> str:
    """``10.0.0.5:502 unit 1`` / ``opc.tcp://…`` from a connection's settings."""
    if settings.get("url"):
        return str(settings["url"])
    host = settings.get("host")
    if host is None:
        return ""
    where = f"{host}:{settings['port']}" if settings.get("port") is not None else str(host)
    unit = settings.get("unit_id", settings.get("unit"))
    return where + (f" unit {unit}" if unit is not None else "")


def plan_summary(plan: rec_api.PlanReply, upgrade_of: str | None = None) -> list[str]:
    """The plan in sentences: what is connected, started, published and checked."""
    verb = "Changes" if upgrade_of else "Installs"
    lines = [escape(f"{verb} deployment {plan.deployment} — recipe {plan.recipe} {plan.version}.")]
    if plan.connections:
        lines.append(escape(f"It reads {_plural(len(plan.connections), 'device')}:"))
        for c in plan.connections:
            where = _where(c.settings)
            prof = f", profile {c.profile}" if c.profile else ""
            at = f" at {where}" if where else ""
            lines.append(escape(f"  • {c.asset} ({c.adapter}{prof}){at}, shown as {c.path}"))
    if plan.components:
        kinds = Counter(str(comp.get("type")) for comp in plan.components)
        made = ", ".join(f"{n} × {kind}" if n > 1 else kind for kind, n in kinds.items())
        lines.append(escape(f"It runs {_plural(len(plan.components), 'component')}: {made}."))
    published = {k: len(v) for k, v in plan.subjects.items() if v}
    if published:
        lines.append(
            escape(
                "It publishes "
                + ", ".join(
                    f"{kind} ({n} subject{'s' if n != 1 else ''})" for kind, n in published.items()
                )
                + "."
            )
        )
    if plan.checks:
        titles = "; ".join(str(c.get("title", "check")) for c in plan.checks)
        lines.append(
            escape(
                f"Then {_plural(len(plan.checks), 'acceptance check')} watch live data: {titles}."
            )
        )
    if plan.params:
        lines.append(
            escape("Values: " + ", ".join(f"{k} = {scalar(v)}" for k, v in plan.params.items()))
        )
    return lines


def plan_details(plan: rec_api.PlanReply) -> list[str]:
    """The plan's parts one by one: devices, components, subjects, checks."""
    lines: list[str] = []
    if plan.connections:
        lines.append("[b]Devices[/b]")
        for c in plan.connections:
            lines.append(escape(f"  • {c.asset} → {c.path}"))
            lines += field_lines(c.settings, indent=2)
    if plan.components:
        lines.append("[b]Components[/b]")
        for comp in plan.components:
            lines.append(
                escape(f"  • {comp.get('name')} ({comp.get('type')}) on {comp.get('asset')}")
            )
    if plan.subjects:
        lines.append("[b]Subjects[/b]")
        for kind, subs in plan.subjects.items():
            lines += [escape(f"  • {kind}: {sub}") for sub in subs]
    if plan.checks:
        lines.append("[b]Acceptance checks[/b]")
        lines += [escape(f"  • {c.get('title', c)}") for c in plan.checks]
    return lines


def report_lines(dep: dep_api.DeploymentDetail) -> tuple[list[str], bool | None, bool]:
    """``(lines, passed, finished)`` for a deployment's commissioning report."""
    rep = dep.report
    if rep is None:  # commissioning still running
        return [], None, False
    passed = None if rep.result is None else rep.result == "pass"
    lines = []
    for c in rep.checks:
        mark = "✓ PASS" if c.passed else "✗ FAIL" if c.passed is False else "… running"
        lines.append(escape(f"  {mark}  {c.title or '?'}" + (f" — {c.detail}" if c.detail else "")))
    devices = (rep.model_extra or {}).get("devices")
    if devices:
        lines.append("[b]Devices[/b]")
        lines += field_lines(devices, indent=1)
    return lines, passed, passed is not None
