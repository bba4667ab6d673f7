"""Shewhart control-chart constants for subgroup sizes 2–10.

Values as tabulated in AVEVA *Control Chart Line Constants* and the CRAN SixSigma
*Shewhart Constants* vignette (docs/plugins/spc.md). They follow from the bias-correction
factors d₂ (mean of the relative range) and d₃ (its standard deviation):
A₂ = 3/(d₂√n), D₃ = max(0, 1 − 3d₃/d₂), D₄ = 1 + 3d₃/d₂ (SAS *Deriving Control Chart
Constants*); the tests check the table against that derivation. We use the tabulated
(3-decimal) values, as the published charts the users compare against do.
"""

from __future__ import annotations

from typing import NamedTuple


class Constants(NamedTuple):
    """Constants for one subgroup size."""

    n: int
    A2: float
    D3: float
    D4: float
    d2: float
    d3: float


_TABLE = {
    #  n:  A2     D3     D4     d2     d3
    2: (1.880, 0.000, 3.267, 1.128, 0.853),
    3: (1.023, 0.000, 2.574, 1.693, 0.888),
    4: (0.729, 0.000, 2.282, 2.059, 0.880),
    5: (0.577, 0.000, 2.114, 2.326, 0.864),
    6: (0.483, 0.000, 2.004, 2.534, 0.848),
    7: (0.419, 0.076, 1.924, 2.704, 0.833),
    8: (0.373, 0.136, 1.864, 2.847, 0.820),
    9: (0.337, 0.184, 1.816, 2.970, 0.808),
    10: (0.308, 0.223, 1.777, 3.078, 0.797),
}


def constants(n: int) -> Constants:
    """The constants for subgroup size ``n`` (2–10).

    Raises:
        ValueError: ``n`` outside 2–10.
    """
    try:
        return Constants(n, *_TABLE[n])
    except KeyError:
        raise ValueError(f"subgroup size {n} not supported: use 2 to 10") from None


E2 = 3 / _TABLE[2][3]
"""Individuals-chart factor 3/d₂(2) ≈ 2.66 (limits x̄ ± E₂·M̄R)."""
