"""A recipe asset's ``report:`` section: report by exception, validated like the site config.

``assets.<role>.report`` takes the fields of :class:`kit.settings.ReportSettings`
(``deadband``, ``deadbands``, ``max_interval_s``), with ``${param}`` placeholders; the plan
checks them against that model and the deadbands' point names against the asset's points,
each problem as ``file:line: assets.<role>.report.<field>: message`` (docs/recipes.md).
"""

from __future__ import annotations

from typing import Any

from kit.recipes.params import substitute
from kit.settings import ReportSettings


class _Report:
    Config = ReportSettings


def plan_report(
    ctx: Any,
    validate: Any,
    base: list[Any],
    raw: dict[str, Any] | None,
    values: dict[str, Any],
    points: set[str] | None,
) -> ReportSettings | None:
    """The asset's validated report settings (None without a ``report`` section or on error).

    Args:
        ctx: the plan's problem collector (``ctx.add(loc, message)``).
        validate: the plan's ``_validate_config(ctx, cls, config, locate)``.
        base: location of the asset (``["assets", role]``).
        points: the points the asset provides, when known (deadband names are checked).
    """
    if raw is None:
        return None
    report = validate(
        ctx, _Report, substitute(dict(raw), values), lambda loc: [*base, "report", *loc]
    )
    if not isinstance(report, ReportSettings):
        return None
    if points is not None:
        for name in report.deadbands:
            if name not in points:
                ctx.add(
                    [*base, "report", "deadbands", name],
                    f"no point {name!r} on this asset (it has: {', '.join(sorted(points)[:8])}"
                    + (", …)" if len(points) > 8 else ")"),
                )
    return report
