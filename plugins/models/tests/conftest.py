"""A simulated motor with a developing bearing fault of known onset (shared by the tests).

The simulator itself is kit_models.simulator (also behind ``--simulate`` of the CLI); the
ISO zone rule reference here is the tests' own, independent of kit_models.backtest.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from kit_models.simulator import POINTS, fault_mm_s, simulate


def iso_rule_alerts(
    rows: list[tuple[float, str, float]], limit: float = 2.8, on_delay_s: float = 10.0
) -> list[float]:
    """Times the zone rule raises: vibration ≥ ``limit`` (zone C) held ``on_delay_s``."""
    raised, above_since, active = [], None, False
    for t, s, v in rows:
        if s != "vib":
            continue
        if v >= limit:
            above_since = t if above_since is None else above_since
            if not active and t - above_since >= on_delay_s:
                active = True
                raised.append(t)
        else:
            above_since, active = None, False
    return raised


@pytest.fixture
def bearing() -> SimpleNamespace:
    """The simulator: ``simulate``, ``iso_rule_alerts``, ``fault_mm_s``, ``POINTS``."""
    return SimpleNamespace(
        simulate=simulate, iso_rule_alerts=iso_rule_alerts, fault_mm_s=fault_mm_s, POINTS=POINTS
    )
