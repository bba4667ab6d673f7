"""One-line sparklines from block characters (``▁▂▃▄▅▆▇█``), for trends at a glance."""

from __future__ import annotations

import math
from collections.abc import Sequence

BARS = "▁▂▃▄▅▆▇█"


def sparkline(
    values: Sequence[float | None], width: int, lo: float | None = None, hi: float | None = None
) -> str:
    """The last ``width`` values as bars scaled between ``lo`` and ``hi`` (default: their own
    range); a missing value (None, NaN) is a space, so a gap in the data shows as a gap."""
    vals = list(values)[-width:] if width > 0 else []
    known = [v for v in vals if v is not None and math.isfinite(v)]
    if not known:
        return ""
    lo = min(known) if lo is None else lo
    hi = max(known) if hi is None else hi
    span = hi - lo
    out = []
    for v in vals:
        if v is None or not math.isfinite(v):
            out.append(" ")
        elif span <= 0:
            out.append(BARS[len(BARS) // 2])
        else:
            frac = min(1.0, max(0.0, (v - lo) / span))
            out.append(BARS[min(len(BARS) - 1, int(frac * len(BARS)))])
    return "".join(out)
