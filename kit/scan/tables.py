"""Rows shared by every view of a scan: the terminal table, the Markdown and HTML reports.

One function builds the device rows (:func:`device_rows`) and one lays rows out as text
(:func:`text_table`), so ``kit scan``, ``kit scan opportunities`` and the report number and
describe devices the same way (the ``#`` column is what ``kit install --device N`` takes).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from kit.scan.inventory import Inventory
    from kit.scan.opportunities import Opportunity

DEVICE_HEADER: Final = ("#", "endpoint", "unit", "protocol", "result", "confidence", "evidence")


def device_rows(inv: Inventory, width: int = 70) -> list[tuple[str, ...]]:
    """One row per device (open ports without a device too, numbered ``-``)."""
    rows: list[tuple[str, ...]] = []
    n = 0
    for e in inv.endpoints:
        if not e.devices:
            rows.append(("-", f"{e.host}:{e.port}", "", e.protocol, e.status, "", e.detail[:60]))
        for d in e.devices:
            n += 1
            best = d.candidates[0] if d.candidates else None
            result = d.profile if d.status == "identified" else d.status
            if d.status == "unknown" and best is not None:
                result = f"unknown (nearest {best.profile})"
            rows.append(
                (
                    str(n),
                    f"{e.host}:{e.port}",
                    "" if d.unit_id is None else str(d.unit_id),
                    e.protocol,
                    result or d.status,
                    f"{d.confidence:.2f}",
                    "; ".join(best.evidence[:2])[:width] if best else "; ".join(d.notes)[:width],
                )
            )
    return rows


def money(x: float, currency: str) -> str:
    """``12,000 EUR`` (ranges are already rounded to two significant figures)."""
    return f"{x:,.0f} {currency}" if abs(x) >= 1 or x == 0 else f"{x:.2g} {currency}"


OPPORTUNITY_HEADER: Final = (
    "rank",
    "recipe",
    "device(s)",
    "status",
    "per asset and year",
    "install",
)


def opportunity_rows(opps: Sequence[Opportunity]) -> list[tuple[str, ...]]:
    """One row per opportunity, best first."""
    rows: list[tuple[str, ...]] = []
    for i, o in enumerate(opps, start=1):
        where = ", ".join(
            f"{a.role} #{a.device}" if a.device is not None else f"{a.role}: not found"
            for a in o.assets
        )
        status = "fits" if o.status == "fits" else "needs " + ", ".join(o.missing)
        value = (
            f"{money(o.case.low, o.case.currency)} – {money(o.case.high, o.case.currency)}"
            if o.case
            else "enabler (no case)"
        )
        rows.append((str(i), o.recipe, where, status, value, o.install_hint()))
    return rows


def text_table(rows: Sequence[Sequence[str]]) -> str:
    """Rows as aligned text columns (the first row is the header)."""
    if not rows:
        return ""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows
    )
