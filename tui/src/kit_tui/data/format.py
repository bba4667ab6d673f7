"""Formatting for the screens: quality labels that do not rely on colour, ages, values,
sparklines and tolerant unpacking of control API replies.

Every quality state has a symbol *and* a word, so it reads the same on a 16-colour
terminal, a monochrome console over a serial line, or for a colour-blind technician.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from kit.display import format_computed, format_value

#: (symbol, word, style) per display state; styles are 16-colour ANSI names.
QUALITY = {
    "good": ("●", "ok", "green"),
    "uncertain": ("?", "UNCERTAIN", "yellow"),
    "bad": ("✗", "BAD", "bold red"),
    "stale": ("◌", "STALE", "magenta"),
    "none": ("·", "no data", "bright_black"),
}
#: Health status → (symbol, style).
HEALTH = {
    "running": ("●", "green"),
    "starting": ("◐", "yellow"),
    "degraded": ("▲", "yellow"),
    "backoff": ("↻", "yellow"),
    "failed": ("✗", "bold red"),
    "stopped": ("■", "bright_black"),
}
#: Alarm priority order (highest first) and its marker.
PRIORITY = {
    "critical": ("!!!", "bold red"),
    "high": ("!! ", "red"),
    "medium": ("!  ", "yellow"),
    "low": ("·  ", "cyan"),
    "info": ("   ", "bright_black"),
}
_BLOCKS = "▁▂▃▄▅▆▇█"


def quality_text(state: str, reason: str | None = None) -> tuple[str, str]:
    """``(label, style)`` for a quality state, the reason appended when there is one."""
    sym, word, style = QUALITY.get(state, QUALITY["none"])
    label = f"{sym} {word}"
    if reason and state != "good":
        label += f" ({reason})"
    return label, style


def age_text(age: float | None) -> str:
    """``3s``, ``4m``, ``2h``, ``5d`` or ``—``."""
    if age is None:
        return "—"
    for limit, div, unit in ((120, 1, "s"), (7200, 60, "m"), (172800, 3600, "h")):
        if age < limit:
            return f"{int(age // div)}{unit}"
    return f"{int(age // 86400)}d"


def value_text(
    value: Any, unit: str | None = None, decimals: int | None = None, *, computed: bool = False
) -> str:
    """A value as a technician reads it: booleans as on/off, numbers at their own precision.

    Values on the bus are already rounded to their point's resolution at decode
    (docs/bus.md), so a number is shown in full — ``123456.7 kWh``, not ``1.235e+05`` — with
    only binary float noise removed (:func:`kit.display.format_value`; computed KPIs such as
    ``0.20799999998416752`` read ``0.208``). ``decimals`` fixes the decimals when known;
    ``computed`` (KPIs) shows 3 decimals from 1 up and 4 significant digits below
    (:func:`kit.display.computed_decimals`).
    """
    if value is None:
        return "—"
    if isinstance(value, bool):
        text = "on" if value else "off"
    elif computed and decimals is None:
        text = format_computed(value)
    else:
        text = format_value(value, decimals)
    if isinstance(value, float) and abs(value) >= 1e4:
        text = _grouped(text)
    return f"{text} {unit}" if unit else text


def _grouped(text: str) -> str:
    """Thousands separators in the integer part (``123456.7`` → ``123,456.7``), as before."""
    sign, body = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, dot, frac = body.partition(".")
    if not whole.isdigit():
        return text
    return f"{sign}{int(whole):,}{dot}{frac}"


def percent_text(value: Any, unit: str | None = None) -> str:
    """A KPI ratio (unit none: 0.873) or percentage (unit ``%``: 87.3) as ``87.3 %``.

    Read from the KPI's unit, never guessed from the size: a guess once showed an
    impossible OEE ratio of 2.345 as "2.3 %" (the OEE plugin marks such a window
    ``uncertain``; the screens add ``?``)."""
    if not isinstance(value, (int, float)):
        return "—"
    pct = value if unit == "%" else value * 100
    return f"{pct:.1f} %"


def sparkline(
    values: Iterable[float | None],
    width: int = 20,
    lo: float | None = None,
    hi: float | None = None,
) -> str:
    """The last ``width`` values as block characters, scaled between ``lo`` and ``hi``
    (default: their own range); a missing value (None, NaN) is a space, so a gap in the data
    shows as a gap."""
    vals = list(values)[-width:] if width > 0 else []
    known = [v for v in vals if v is not None and math.isfinite(v)]
    if not known:
        return ""
    lo = min(known) if lo is None else lo
    hi = max(known) if hi is None else hi
    top = len(_BLOCKS) - 1
    out = []
    for v in vals:
        if v is None or not math.isfinite(v):
            out.append(" ")
        elif hi <= lo:
            out.append(_BLOCKS[3])
        else:
            # + 1e-9: the top value lands on the top block despite float rounding.
            out.append(_BLOCKS[min(top, max(0, int((v - lo) * top / (hi - lo) + 1e-9)))])
    return "".join(out)


def short(text: Any, width: int) -> str:
    """``text`` cut to ``width`` characters with an ellipsis."""
    s = "" if text is None else str(text)
    return s if len(s) <= width else s[: max(0, width - 1)] + "…"
