"""Config model of the ``oee`` component (what recipes compile their OEE section into)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kit.bindings import Binding
from kit.intake import TimeLimits
from kit_oee.engine import CountMode, EngineParams
from kit_oee.shifts import ShiftCalendar

STATES = ("run", "idle", "down", "setup", "planned_stop", "unknown")


def _codes(*codes: int | str) -> Callable[[], list[int | str]]:
    """A ``default_factory`` for a list of state codes (typed: a bare lambda infers list[int])."""
    return lambda: list(codes)


class OeeInputs(BaseModel):
    """Bound points. Give ``running`` or ``state_code``, and ``produced`` and/or ``good``."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    running: Binding | None = None
    """Boolean "machine is producing" signal, e.g. ``machine_running``."""
    state_code: Binding | None = None
    """Numeric or text machine state, mapped by ``state_codes``, e.g. ``machine_state_code``."""
    produced: Binding | None = None
    """Cumulative produced-parts counter (PQ), e.g. ``count_total``."""
    good: Binding | None = None
    """Cumulative good-parts counter (GQ), e.g. ``count_good``."""
    reject: Binding | None = None
    """Cumulative reject/scrap counter, e.g. ``count_reject``."""

    @model_validator(mode="after")
    def _enough(self) -> OeeInputs:
        if (self.running is None) == (self.state_code is None):
            raise ValueError("bind exactly one of 'running' or 'state_code'")
        if self.produced is None and self.good is None:
            raise ValueError("bind 'produced' or 'good' (or both), optionally with 'reject'")
        if self.produced is not None and self.good is not None and self.reject is not None:
            raise ValueError(
                "bind at most two of 'produced', 'good', 'reject'; the third is derived"
            )
        return self

    @property
    def count_mode(self) -> CountMode:
        """Which counters are bound, as the engine's count mode."""
        if self.produced is not None:
            if self.reject is not None:
                return "produced_reject"
            return "produced_good" if self.good is not None else "produced"
        return "good_reject" if self.reject is not None else "good"


class StateCodes(BaseModel):
    """Which values of ``state_code`` mean which state (defaults: docs/vocabulary.md codes)."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    run: list[int | str] = Field(default_factory=_codes(1))
    """Producing: counts towards actual production time."""
    idle: list[int | str] = Field(default_factory=_codes(2))
    """Ready but not producing (starved, blocked, no order): lowers availability, no failure."""
    down: list[int | str] = Field(default_factory=_codes(3))
    """Down = failure: starts a failure event for MTBF/MTTR."""
    setup: list[int | str] = Field(default_factory=_codes(4))
    """Setup/changeover: lowers availability, no failure."""
    planned_stop: list[int | str] = Field(default_factory=_codes(5))
    """Planned stop signalled by the machine: removed from planned busy time, like calendar downtime."""
    unknown: list[int | str] = Field(default_factory=_codes(0))
    """No information: the time is "no data", neither running nor stopped."""

    @model_validator(mode="after")
    def _disjoint(self) -> StateCodes:
        seen: dict[str, str] = {}
        for state in STATES:
            for code in getattr(self, state):
                key = str(code)
                if key in seen:
                    raise ValueError(
                        f"state code {code!r} is mapped to both {seen[key]} and {state}"
                    )
                seen[key] = state
        return self

    def lookup(self) -> dict[str, str]:
        """Code (as text) → state."""
        return {str(c): s for s in STATES for c in getattr(self, s)}


class OeeConfig(BaseModel):
    """OEE of one machine per ISO 22400-2, per shift and over a rolling window."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)
    time_tolerance: TimeLimits = Field(default_factory=TimeLimits)
    """Batches stamped further than this from the gateway's clock are quarantined (docs/bus.md)."""

    inputs: OeeInputs
    """Bound points: the machine state (``running`` or ``state_code``) and the part counters."""
    ideal_cycle_s: float = Field(gt=0, le=86400)
    """Planned run time per unit (PRU) in seconds: the ideal cycle time of one part."""
    calendar: ShiftCalendar = Field(default_factory=ShiftCalendar)
    """Shifts, breaks and planned downtime (default: one 24-hour shift every day)."""
    state_codes: StateCodes = Field(default_factory=StateCodes)
    """Which ``state_code`` values mean run, idle, down, setup, planned stop and unknown."""
    unknown_state: Literal["unknown", "idle", "down"] = "unknown"
    """How a state code not listed in ``state_codes`` is treated (always counted in metrics);
    ``unknown`` books the time as "no data" rather than guessing."""
    stopped_state: Literal["idle", "down"] = "down"
    """What ``running = false`` means: a failure (``down``) or a stop without failure (``idle``)."""
    counter_max: int | None = Field(None, ge=1)
    """Largest value the counters reach before wrapping to 0 (65535 for 16-bit, 4294967295 for
    32-bit). None: every decrease is taken as a reset."""
    rolling_window_s: float = Field(3600.0, ge=60, le=7 * 86400)
    """Length of the rolling window."""
    rolling_bucket_s: float = Field(60.0, ge=1, le=3600)
    """Resolution of the rolling window (it moves in steps of this size)."""
    publish_interval_s: float = Field(60.0, ge=1, le=86400)
    """Publish current shift and rolling KPIs every this many seconds of sample time."""
    max_gap_s: float = Field(60.0, gt=0, le=86400)
    """A state is trusted for this long after its last sample; beyond, the time is "no data"."""
    min_downtime_s: float = Field(0.0, ge=0)
    """Stops shorter than this are not recorded as downtime events (they still lower availability)."""

    def engine_params(self) -> EngineParams:
        """What the engine needs of this config (the component and replays use the same)."""
        return EngineParams(
            pru_s=self.ideal_cycle_s,
            count_mode=self.inputs.count_mode,
            calendar=self.calendar,
            counter_max=self.counter_max,
            rolling_window_s=self.rolling_window_s,
            rolling_bucket_s=self.rolling_bucket_s,
            publish_interval_s=self.publish_interval_s,
            max_gap_s=self.max_gap_s,
            min_downtime_s=self.min_downtime_s,
        )

    @model_validator(mode="after")
    def _window_fits(self) -> OeeConfig:
        if self.rolling_window_s < self.rolling_bucket_s:
            raise ValueError("rolling_window_s must be at least rolling_bucket_s")
        return self
