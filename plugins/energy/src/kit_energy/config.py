"""Config model of the ``energy`` component (what recipes compile their energy section into)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from kit_oee.shifts import ShiftCalendar
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from kit.bindings import Binding
from kit.intake import TimeLimits

ENERGY_UNITS = {"Wh": 0.001, "kWh": 1.0, "MWh": 1000.0}
POWER_UNITS = {"W": 0.001, "kW": 1.0, "MW": 1000.0}


def _codes(*codes: int | str) -> Callable[[], list[int | str]]:
    """A ``default_factory`` for a list of state codes (typed: a bare lambda infers list[int])."""
    return lambda: list(codes)


class EnergyInputs(BaseModel):
    """Bound points: ``energy`` (a meter counter) or ``power``; optionally the machine's state and parts."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    energy: Binding | None = None
    """Cumulative energy counter, e.g. ``energy_active_import_total_kwh``. Preferred when present."""
    power: Binding | None = None
    """Active power, e.g. ``power_active_total_w``; integrated when there is no counter."""
    running: Binding | None = None
    """Running signal of the machine the meter feeds (often another asset), for idle energy."""
    state_code: Binding | None = None
    """State code of that machine; codes in ``running_codes`` mean running."""
    count: Binding | None = None
    """Cumulative good-parts counter (same or another asset), for energy per part."""

    @model_validator(mode="after")
    def _enough(self) -> EnergyInputs:
        if self.energy is None and self.power is None:
            raise ValueError("bind 'energy' (a kWh counter) or 'power'")
        if self.running is not None and self.state_code is not None:
            raise ValueError("bind at most one of 'running' or 'state_code'")
        return self


class Baseline(BaseModel):
    """The reference that savings are measured against: a measured period or fixed figures."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    start: AwareDatetime | None = None
    """Start of the measured baseline period (e.g. the week before an improvement)."""
    end: AwareDatetime | None = None
    """End of the measured baseline period."""
    kwh_per_hour: float | None = Field(None, ge=0)
    """Fixed baseline consumption instead of a measured period."""
    kwh_per_part: float | None = Field(None, ge=0)
    """Fixed baseline energy per good part instead of a measured period."""
    basis: Literal["time", "parts"] = "time"
    """Compare per covered hour (``time``) or per good part produced (``parts``)."""

    @model_validator(mode="after")
    def _complete(self) -> Baseline:
        if (self.start is None) != (self.end is None):
            raise ValueError("give both start and end of the baseline period")
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValueError("baseline end must be after start")
        if self.start is None and self.kwh_per_hour is None and self.kwh_per_part is None:
            raise ValueError("give a baseline period (start, end) or kwh_per_hour / kwh_per_part")
        return self


class EnergyConfig(BaseModel):
    """Energy of one meter: per hour, shift and day, per part, 15-minute demand, idle energy, savings."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    time_tolerance: TimeLimits = Field(default_factory=TimeLimits)
    """Batches stamped further than this from the gateway's clock are quarantined (docs/bus.md)."""

    inputs: EnergyInputs
    """Bound points: the energy counter and/or power, optionally the parts counter and machine state."""
    energy_unit: Literal["Wh", "kWh", "MWh"] = "kWh"
    """Unit of the ``energy`` counter (if the point carries no unit)."""
    power_unit: Literal["W", "kW", "MW"] = "W"
    """Unit of the ``power`` point (if the point carries no unit)."""
    counter_max: float | None = Field(None, gt=0)
    """Reading at which the energy counter wraps to 0 (e.g. 100000 for a 5-digit kWh register), in
    ``energy_unit``. None: every decrease is taken as a meter reset."""
    count_max: int | None = Field(None, ge=1)
    """Value at which the parts counter wraps to 0."""
    running_codes: list[int | str] = Field(default_factory=_codes(1))
    """State codes that mean "running" (everything else is idle/standby)."""
    calendar: ShiftCalendar = Field(default_factory=ShiftCalendar)
    """Shifts for per-shift figures (same model as the oee component)."""
    demand_window_s: Literal[300, 600, 900, 1800, 3600] = 900
    """Demand averaging window: 900 s (15 minutes) is the usual billing interval."""
    max_gap_s: float = Field(300.0, gt=0, le=86400)
    """Longest gap between power samples that is integrated, and how long a machine state holds."""
    publish_interval_s: float = Field(60.0, ge=1, le=86400)
    """Publish the open hour, shift and day every this many seconds of sample time."""
    baseline: Baseline | None = None
    """Reference consumption for savings figures; None: no savings are computed."""
