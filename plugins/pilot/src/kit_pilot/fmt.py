"""Number formatting shared by the CLI, the HTML report and the charts."""

from __future__ import annotations

from kit.display import computed_decimals


def is_ratio(v: float, unit: str | None) -> bool:
    """A unit-less value of at most 1.5 in size is a ratio (OEE and friends): shown in %."""
    return unit is None and abs(v) <= 1.5


def fmt(v: float | None, unit: str | None) -> str:
    """A KPI value with its unit (ratios in %)."""
    if v is None:
        return "—"
    if is_ratio(v, unit):
        return f"{v * 100:.1f} %"
    d = computed_decimals(float(v))
    return f"{v:.{d if d is not None else 0}f}{' ' + unit if unit else ''}"


def fmt_change(v: float | None, unit: str | None) -> str:
    """A signed change (ratios in percentage points)."""
    if v is None:
        return "—"
    if is_ratio(v, unit):
        return f"{v * 100:+.1f} pp"
    d = computed_decimals(float(abs(v))) or 0
    return f"{v:+.{d}f}{' ' + unit if unit else ''}"


def fmt_money(v: float | None, currency: str) -> str:
    """Money rounded to whole units with thousands separators."""
    if v is None:
        return "—"
    return f"{v:,.0f} {currency}"
