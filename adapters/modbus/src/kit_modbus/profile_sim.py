"""Value generators of a profile's ``simulation`` section (pure, deterministic).

``kit sim`` serves a profile with these values so every profile can be tried without
hardware. Each generator is a pydantic model (discriminated on ``generator``) with
``sampler(seed)`` → a function of simulated time in seconds, and ``bounds()`` → the lowest
and highest value it can produce, which profile validation checks against the point's
expected range. :func:`default_generator` picks one for a point the section does not name.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from kit.vocabulary import lookup

Sampler = Callable[[float], float | str]


class _Gen(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)

    def bounds(self) -> tuple[float, float]:  # pragma: no cover - overridden
        """Lowest and highest value produced (over all time)."""
        raise NotImplementedError

    if TYPE_CHECKING:  # every generator but RandomWalk (its own sampler) defines at(t)

        def at(self, t: float) -> float | str: ...

    def sampler(self, seed: int = 1) -> Sampler:
        """A function ``t_seconds → value``."""
        return self.at


class Constant(_Gen):
    """Always the same value (a bool, number or, for string points, text)."""

    generator: Literal["constant"] = "constant"
    value: float | bool | str

    def at(self, t: float) -> float | str:
        """The constant."""
        return self.value if isinstance(self.value, str) else float(self.value)

    def bounds(self) -> tuple[float, float]:
        """(value, value); text has no numeric bounds."""
        if isinstance(self.value, str):
            return (-math.inf, math.inf)
        return (float(self.value), float(self.value))


class Sine(_Gen):
    """``mean + amplitude·sin(2π(t + phase_s)/period_s)`` — a load that swings over the day."""

    generator: Literal["sine"]
    mean: float
    amplitude: float = Field(ge=0)
    period_s: float = Field(300.0, gt=0)
    phase_s: float = 0.0

    def at(self, t: float) -> float:
        """Value at ``t``."""
        return self.mean + self.amplitude * math.sin(
            2 * math.pi * (t + self.phase_s) / self.period_s
        )

    def bounds(self) -> tuple[float, float]:
        """mean ± amplitude."""
        return (self.mean - self.amplitude, self.mean + self.amplitude)


class Ramp(_Gen):
    """Sawtooth from ``start`` to ``end`` over ``period_s``, then again from ``start``."""

    generator: Literal["ramp"]
    start: float
    end: float
    period_s: float = Field(60.0, gt=0)

    def at(self, t: float) -> float:
        """Value at ``t``."""
        return self.start + (self.end - self.start) * ((t % self.period_s) / self.period_s)

    def bounds(self) -> tuple[float, float]:
        """(min(start, end), max(start, end))."""
        return (min(self.start, self.end), max(self.start, self.end))


class Counter(_Gen):
    """A monotonic total: ``start + rate_per_s·t``, wrapping back to ``start`` at ``wrap``."""

    generator: Literal["counter"]
    start: float = 0.0
    rate_per_s: float = Field(1.0, ge=0)
    wrap: float | None = None
    """Value at which the counter restarts from ``start`` (a 16-bit PLC counter wraps at 65536)."""

    @model_validator(mode="after")
    def _wrap_above_start(self) -> Counter:
        if self.wrap is not None and self.wrap <= self.start:
            raise ValueError(f"wrap ({self.wrap}) must be above start ({self.start})")
        return self

    def at(self, t: float) -> float:
        """Value at ``t``."""
        v = self.rate_per_s * max(t, 0.0)
        if self.wrap is not None:
            v %= self.wrap - self.start
        return self.start + v

    def bounds(self) -> tuple[float, float]:
        """(start, wrap) or (start, +inf)."""
        return (self.start, self.wrap if self.wrap is not None else math.inf)

    def seconds_to(self, limit: float) -> float:
        """Seconds until the counter (without wrap) passes ``limit``."""
        if self.rate_per_s == 0:
            return math.inf
        return (limit - self.start) / self.rate_per_s


class RandomWalk(_Gen):
    """A bounded random walk: every ``interval_s`` the value moves by up to ``±step``,
    reflected at ``min``/``max``. Deterministic for a given seed."""

    generator: Literal["random_walk"]
    start: float
    step: float = Field(gt=0)
    min: float
    max: float
    interval_s: float = Field(1.0, gt=0)

    @model_validator(mode="after")
    def _ordered(self) -> RandomWalk:
        if not self.min <= self.start <= self.max:
            raise ValueError(
                f"start ({self.start}) must lie within min…max ({self.min}…{self.max})"
            )
        return self

    def bounds(self) -> tuple[float, float]:
        """(min, max)."""
        return (self.min, self.max)

    def sampler(self, seed: int = 1) -> Sampler:
        """Stateful sampler; time going backwards restarts the walk (same seed, same path)."""
        state: dict[str, Any] = {"n": 0, "v": self.start, "rng": random.Random(seed)}

        def at(t: float) -> float:
            n = int(max(t, 0.0) // self.interval_s)
            if n < state["n"]:
                state.update(n=0, v=self.start, rng=random.Random(seed))
            v: float
            rng, v = state["rng"], state["v"]
            for _ in range(n - state["n"]):
                v += rng.uniform(-self.step, self.step)
                if v > self.max:
                    v = 2 * self.max - v
                if v < self.min:
                    v = 2 * self.min - v
                v = min(max(v, self.min), self.max)
            state.update(n=n, v=v)
            return v

        return at


class Sequence(_Gen):
    """Steps through ``values``, each held for ``step_s`` (machine states, running bits)."""

    generator: Literal["sequence"]
    values: list[float] = Field(min_length=1)
    step_s: float = Field(30.0, gt=0)

    def at(self, t: float) -> float:
        """Value at ``t``."""
        return float(self.values[int(max(t, 0.0) // self.step_s) % len(self.values)])

    def bounds(self) -> tuple[float, float]:
        """(min(values), max(values))."""
        return (min(self.values), max(self.values))


Generator = Annotated[
    Constant | Sine | Ramp | Counter | RandomWalk | Sequence, Field(discriminator="generator")
]


def default_generator(
    semantic: str, data_type: str, value_range: tuple[float, float] | None, offset: float = 0.0
) -> _Gen:
    """A plausible generator for a point the simulation section does not name.

    Stays inside ``value_range`` when one is given: gauges swing around its middle, counters
    count up from its low end slowly enough to stay inside for years, states cycle through
    the standard machine states the range allows, bools are mostly true.
    """
    meaning = lookup(semantic)
    kind = meaning.kind if meaning else "gauge"
    lo, hi = value_range if value_range else (None, None)
    if data_type == "string":
        return Constant(value="SIM")
    if data_type == "version":
        return Constant(value="1.2.3")
    if data_type in ("bool", "bit") or kind == "bool":
        return Sequence(generator="sequence", values=[1, 1, 1, 0], step_s=60)
    if kind == "counter":
        start = lo if lo is not None else 0.0
        rate = 1.0 if hi is None else min(1.0, (hi - start) / (10 * 365 * 86400))
        return Counter(generator="counter", start=start, rate_per_s=rate)
    if semantic == "machine_state_code":
        codes = [c for c in (1, 1, 2, 1, 3, 1, 4) if lo is None or lo <= c <= hi]  # type: ignore[operator]
        return Sequence(generator="sequence", values=codes or [lo or 0], step_s=30)
    if kind in ("code", "bitfield"):
        return Constant(value=lo if lo is not None else 0)
    if lo is None or hi is None:
        return Constant(value=offset)
    return Sine(generator="sine", mean=(lo + hi) / 2, amplitude=(hi - lo) * 0.4, period_s=300)
