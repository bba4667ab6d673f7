"""Alarm rule models (``AlarmRule``) and their pure condition functions.

An alarms component holds a list of rules for one asset; recipes compile their alarm
sections into it, so these models are a public contract: ``extra="forbid"``, every field
documented, and ``type`` is the discriminator:

=============  ==============================================================================
``hihi``/``hi``  value above ``limit`` (clears at or below ``limit - deadband``)
``lo``/``lolo``  value below ``limit`` (clears at or above ``limit + deadband``)
``rate``       rate of change above ``limit_per_s`` (``direction`` up, down or both)
``deviation``  ``|value - setpoint| > limit``; setpoint a number or another bound point
``stale``      no good value for ``timeout_s`` seconds
``bad_quality``  the latest value's quality is bad (or also uncertain)
=============  ==============================================================================

Deadband follows ISA-18.2: the alarm raises past the limit and clears only once the value
is back past ``limit ∓ deadband``. On/off delays are handled by the engine (the condition,
or its return to normal, must persist ``on_delay_s``/``off_delay_s``).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, model_validator

from kit.bindings import Binding

Priority = Literal["low", "medium", "high", "critical"]
_ID_OK = re.compile(r"^[a-z0-9_-]+$")


class _RuleBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | None = Field(None, pattern=r"^[a-z0-9_-]+$", max_length=64)
    """Stable rule id within the component (lower case, digits, ``_``, ``-``). Defaults to
    ``<type>_<point>``. Alarm ids are ``<component>/<rule id>``; acks and shelving refer to it."""
    input: Binding
    """The point watched: ``"temperature_c"`` or ``{point: ..., asset: site/area/line/asset}``."""
    priority: Priority = "medium"
    """ISA-18.2 priority; also the event severity."""
    on_delay_s: float = Field(0.0, ge=0, le=86_400)
    """The condition must hold this long (by sample timestamps) before the alarm raises."""
    off_delay_s: float = Field(0.0, ge=0, le=86_400)
    """The return to normal must hold this long before the alarm clears."""
    message: str = Field("", max_length=500)
    """Text for the operator; a default describing the rule is used when empty."""
    suppress_when: Binding | None = None
    """Suppressed-by-design (state G) while this point is truthy, e.g. ``machine_stopped``."""
    out_of_service: bool = False
    """Start out of service (state H): evaluated but never annunciated."""

    @property
    def rule_id(self) -> str:
        """The explicit id, or ``<type>_<point>``."""
        if self.id:
            return self.id
        return re.sub(r"[^a-z0-9_-]+", "_", f"{self.type}_{self.input.point}".lower())  # type: ignore[attr-defined]

    def describe(self) -> str:
        """Default operator message."""
        return self.message or f"{self.type} on {self.input.point}"  # type: ignore[attr-defined]


class ThresholdRule(_RuleBase):
    """Absolute limit: ``hihi``/``hi`` above, ``lo``/``lolo`` below."""

    type: Literal["hihi", "hi", "lo", "lolo"]
    limit: float
    """Alarm limit in the point's unit."""
    deadband: float = Field(0.0, ge=0)
    """Absolute hysteresis in the point's unit."""

    def describe(self) -> str:
        """Default operator message."""
        op = ">" if self.type in ("hi", "hihi") else "<"
        return self.message or f"{self.input.point} {op} {self.limit:g} ({self.type})"

    def condition(self, value: float, active: bool) -> bool:
        """Whether the alarm condition holds for ``value`` given the current condition."""
        if self.type in ("hi", "hihi"):
            return value > (self.limit - self.deadband if active else self.limit)
        return value < (self.limit + self.deadband if active else self.limit)


class RateRule(_RuleBase):
    """Rate of change between consecutive good samples, in units per second."""

    type: Literal["rate"]
    limit_per_s: float = Field(gt=0)
    """Alarm when the rate exceeds this (absolute value, per second)."""
    direction: Literal["up", "down", "both"] = "both"
    deadband: float = Field(0.0, ge=0)
    """Hysteresis on the rate (units per second)."""

    def describe(self) -> str:
        """Default operator message."""
        return self.message or f"{self.input.point} changes faster than {self.limit_per_s:g}/s"

    def condition(self, rate: float, active: bool) -> bool:
        """Whether ``rate`` (units/s) is an alarm given the current condition."""
        r = rate if self.direction == "up" else -rate if self.direction == "down" else abs(rate)
        return r > (self.limit_per_s - self.deadband if active else self.limit_per_s)


class DeviationRule(_RuleBase):
    """``|value - setpoint| > limit``."""

    type: Literal["deviation"]
    setpoint: float | Binding
    """Fixed setpoint, or a bound point carrying the setpoint (e.g. ``temperature_setpoint_c``)."""
    limit: float = Field(gt=0)
    """Allowed deviation in the point's unit."""
    deadband: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _deadband_below_limit(self) -> DeviationRule:
        if self.deadband >= self.limit:
            raise ValueError("deadband must be smaller than limit")
        return self

    def describe(self) -> str:
        """Default operator message."""
        return (
            self.message
            or f"{self.input.point} deviates from its setpoint by more than {self.limit:g}"
        )

    def condition(self, value: float, setpoint: float, active: bool) -> bool:
        """Whether the deviation is an alarm given the current condition."""
        return abs(value - setpoint) > (self.limit - self.deadband if active else self.limit)


class StaleRule(_RuleBase):
    """No good value of the point for ``timeout_s`` seconds."""

    type: Literal["stale"]
    timeout_s: float = Field(gt=0, le=86_400 * 7)

    def describe(self) -> str:
        """Default operator message."""
        return self.message or f"no fresh value of {self.input.point} for {self.timeout_s:g} s"


class BadQualityRule(_RuleBase):
    """The point's latest quality is bad (optionally also uncertain)."""

    type: Literal["bad_quality"]
    include_uncertain: bool = False
    """Treat ``uncertain`` like ``bad``."""

    def describe(self) -> str:
        """Default operator message."""
        return self.message or f"{self.input.point} has bad quality"


_TAG = {
    "hihi": "rule[threshold]",
    "hi": "rule[threshold]",
    "lo": "rule[threshold]",
    "lolo": "rule[threshold]",
    "rate": "rule[rate]",
    "deviation": "rule[deviation]",
    "stale": "rule[stale]",
    "bad_quality": "rule[bad_quality]",
}
RULE_TYPES = tuple(_TAG)


def _rule_tag(value: Any) -> str | None:
    # Discriminate on `type`. The tags are bracketed so that error locations read
    # ``rules[0].limit`` (kit.yamlfiles skips bracketed union tags) instead of naming a tag
    # that does not appear in the user's file.
    t = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    return _TAG.get(t) if isinstance(t, str) else None


AlarmRule = Annotated[
    Annotated[ThresholdRule, Tag("rule[threshold]")]
    | Annotated[RateRule, Tag("rule[rate]")]
    | Annotated[DeviationRule, Tag("rule[deviation]")]
    | Annotated[StaleRule, Tag("rule[stale]")]
    | Annotated[BadQualityRule, Tag("rule[bad_quality]")],
    Discriminator(
        _rule_tag,
        custom_error_type="alarm_rule_type",
        custom_error_message=f"type must be one of {', '.join(RULE_TYPES)}",
    ),
]
"""One alarm rule; its ``type`` selects the model."""
