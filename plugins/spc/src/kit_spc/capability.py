"""Rolling process capability: Cp, Cpk (within-subgroup σ̂) and Pp, Ppk (overall s).

Formulas (standards sheet §6, ISO 22400-2):
Cp = (USL − LSL)/6σ̂, Cpk = min(USL − μ, μ − LSL)/3σ̂ with σ̂ = R̄/d₂ (or M̄R/1.128 for
individuals); Pp and Ppk use the overall sample standard deviation s instead of σ̂. With a
single spec limit only Cpk (Cpu or Cpl) and Ppk are defined.

The window is the last ``window`` subgroups (X̄-R) or individual values (I-MR). Sums are
kept incrementally (constant cost per point); they are recomputed from the window once per
``window`` updates so floating-point drift cannot accumulate.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any

from kit_spc.constants import constants


@dataclass
class Capability:
    """Capability figures of the current window (None where not defined)."""

    n: int
    mean: float
    sigma_within: float
    sigma_overall: float
    cp: float | None
    cpk: float | None
    pp: float | None
    ppk: float | None


def indices(
    mean: float, sigma: float, lsl: float | None, usl: float | None
) -> tuple[float | None, float | None]:
    """(capability, capability-k) for a σ: Cp/Cpk or Pp/Ppk depending on which σ is given."""
    if sigma <= 0 or not math.isfinite(sigma):
        return None, None
    c = (usl - lsl) / (6 * sigma) if lsl is not None and usl is not None else None
    sides = []
    if usl is not None:
        sides.append((usl - mean) / (3 * sigma))
    if lsl is not None:
        sides.append((mean - lsl) / (3 * sigma))
    return c, (min(sides) if sides else None)


class RollingCapability:
    """Incremental window of values and their within-subgroup spread."""

    def __init__(
        self, window: int, subgroup_size: int, lsl: float | None, usl: float | None
    ) -> None:
        self.window = window
        self.n = subgroup_size
        self.lsl, self.usl = lsl, usl
        self.d2 = constants(max(2, subgroup_size)).d2
        self.values: deque[float] = deque()
        """Individual values in the window (window × n of them for subgroups)."""
        self.spreads: deque[float] = deque()
        """Ranges of subgroups, or moving ranges of individuals."""
        self._s = self._ss = self._r = 0.0
        self._max_values = window * subgroup_size
        # Individuals: the window of w values holds w - 1 moving ranges.
        self._max_spreads = max(1, window if subgroup_size > 1 else window - 1)
        self._ref: float | None = None
        self._updates = 0

    def add(self, values: list[float], spread: float | None) -> None:
        """Add one subgroup's values (or one individual value) and its range / moving range."""
        ref = self._ref
        if ref is None:
            ref = self._ref = values[
                0
            ]  # shift by a reference value: sums of squares stay well-conditioned
        vals = self.values
        for v in values:
            vals.append(v)
            d = v - ref
            self._s += d
            self._ss += d * d
        if len(vals) > self._max_values:
            for _ in range(len(vals) - self._max_values):
                d = vals.popleft() - ref
                self._s -= d
                self._ss -= d * d
        if spread is not None:
            sp = self.spreads
            sp.append(spread)
            self._r += spread
            if len(sp) > self._max_spreads:
                self._r -= sp.popleft()
        self._updates += 1
        if self._updates >= self.window:
            self._recompute()

    def _recompute(self) -> None:
        self._updates = 0
        ref = self._ref or 0.0
        self._s = sum(v - ref for v in self.values)
        self._ss = sum((v - ref) ** 2 for v in self.values)
        self._r = sum(self.spreads)

    def result(self) -> Capability | None:
        """Figures of the current window, or None until there are 2 values and a spread."""
        k = len(self.values)
        if k < 2 or not self.spreads:
            return None
        ref = self._ref or 0.0
        mean_d = self._s / k
        mean = ref + mean_d
        var = max(0.0, (self._ss - k * mean_d * mean_d) / (k - 1))
        s = math.sqrt(var)
        within = (self._r / len(self.spreads)) / self.d2
        cp, cpk = indices(mean, within, self.lsl, self.usl)
        pp, ppk = indices(mean, s, self.lsl, self.usl)
        return Capability(k, mean, within, s, cp, cpk, pp, ppk)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able state."""
        return {"values": list(self.values), "spreads": list(self.spreads), "ref": self._ref}

    def restore(self, d: dict[str, Any] | None) -> None:
        """Restore :meth:`to_dict` output."""
        if not d:
            return
        self.values = deque(float(v) for v in d.get("values", []))
        self.spreads = deque(float(v) for v in d.get("spreads", []))
        self._ref = d.get("ref")
        self._recompute()
