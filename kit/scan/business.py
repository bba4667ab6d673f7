"""Initial business cases: the site's figures × a published effect range = a money range.

One value model per recipe (keyed by recipe id). Each multiplies a *base* — an amount of
money the site spends or loses per year on one asset, from the questionnaire
(:mod:`kit.scan.questionnaire`) — with an *effect range* from the evidence table
(:mod:`kit.scan.evidence`). The result is a range, rounded to two significant figures, with
every input listed and marked as the site's answer or as an assumption (a default). No
single-number promise: the evidence does not support one.

Recipes without a value model (recording a device, basic alarms) are enablers: they have
no business case of their own and are not ranked by money.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Final

from pydantic import BaseModel, ConfigDict

from kit.scan.evidence import EVIDENCE
from kit.scan.questionnaire import SITE_QUESTIONS, Answers

_UNITS: Final = {q.key: q.unit for q in SITE_QUESTIONS}
_PROMPTS: Final = {q.key: q.prompt for q in SITE_QUESTIONS}


class Input(BaseModel):
    """One figure a case uses, and whether the site gave it."""

    model_config = ConfigDict(extra="forbid")

    key: str
    label: str
    value: float | str
    unit: str
    assumption: bool
    """True: the default was used, the site did not answer."""


class BusinessCase(BaseModel):
    """An initial, per-asset annual business case."""

    model_config = ConfigDict(extra="forbid")

    recipe: str
    low: float
    high: float
    currency: str
    per: str = "asset and year"
    formula: str
    """How the range is computed, in words and symbols."""
    base: float
    """The yearly amount the effect range applies to (money)."""
    base_label: str
    evidence: list[str]
    """Evidence ids (kit.scan.evidence.EVIDENCE) behind the effect range."""
    effect: str
    """The effect range as the evidence states it."""
    inputs: list[Input]
    caveat: str = ""

    @property
    def mid(self) -> float:
        """Midpoint of the range (for ranking, never shown as the value)."""
        return (self.low + self.high) / 2

    def assumptions(self) -> list[Input]:
        """The inputs taken from defaults."""
        return [i for i in self.inputs if i.assumption]


def round2(x: float) -> float:
    """``x`` to two significant figures: 12_345 → 12_000; ranges are no more precise."""
    if x == 0 or not math.isfinite(x):
        return x
    digits = 1 - int(math.floor(math.log10(abs(x))))
    return float(round(x, digits))


def _inputs(a: Answers, keys: list[str]) -> list[Input]:
    return [
        Input(
            key=k,
            label=_PROMPTS[k],
            value=a.value(k),
            unit=_UNITS[k],
            assumption=a.assumed(k),
        )
        for k in keys
    ]


def hours_per_year(a: Answers) -> float:
    """Production hours per year: shifts × hours per shift × working days."""
    return float(
        a.value("shifts_per_day") * a.value("hours_per_shift") * a.value("working_days_per_year")
    )


def _case(
    recipe: str,
    a: Answers,
    base: float,
    base_label: str,
    evidence_id: str,
    keys: list[str],
    formula: str,
    caveat: str = "",
) -> BusinessCase:
    ev = EVIDENCE[evidence_id]
    return BusinessCase(
        recipe=recipe,
        low=round2(base * ev.low / 100),
        high=round2(base * ev.high / 100),
        currency=str(a.value("currency")),
        formula=formula,
        base=round2(base),
        base_label=base_label,
        evidence=[evidence_id],
        effect=ev.text(),
        inputs=_inputs(a, keys),
        caveat=caveat or ev.note,
    )


def _energy_cost(a: Answers) -> float:
    return float(a.value("average_load_kw")) * hours_per_year(a) * float(a.value("energy_tariff"))


_HOURS = ["shifts_per_day", "hours_per_shift", "working_days_per_year"]


def energy_per_shift(a: Answers) -> BusinessCase:
    """Metering a feed: energy cost of the feed × the modest effect of monitoring alone."""
    return _case(
        "energy-per-shift",
        a,
        _energy_cost(a),
        "yearly energy cost of the metered feed",
        "monitoring_only_energy",
        ["average_load_kw", *_HOURS, "energy_tariff", "currency"],
        "average load × production hours per year × tariff × effect",
    )


def idle_energy(a: Answers) -> BusinessCase:
    """Energy outside production: energy cost of the machine's feed × idle share."""
    return _case(
        "idle-energy",
        a,
        _energy_cost(a),
        "yearly energy cost of the machine's feed",
        "idle_energy_share",
        ["average_load_kw", *_HOURS, "energy_tariff", "currency"],
        "average load × production hours per year × tariff × share used outside production",
    )


def oee_machine(a: Answers) -> BusinessCase:
    """OEE made visible: productive hours × relative OEE gain, valued at the downtime cost."""
    productive = hours_per_year(a) * float(a.value("oee_baseline_pct")) / 100
    return _case(
        "oee-machine",
        a,
        productive * float(a.value("downtime_cost_per_hour")),
        "value of the machine's productive hours per year",
        "oee_monitoring_gain",
        [*_HOURS, "oee_baseline_pct", "downtime_cost_per_hour", "currency"],
        "production hours × OEE × cost of an hour × relative OEE gain",
    )


def condition_motor(a: Answers) -> BusinessCase:
    """Condition monitoring: cost of the machine's unplanned downtime × reduction range."""
    weeks = float(a.value("working_days_per_year")) / 5
    return _case(
        "condition-motor",
        a,
        float(a.value("unplanned_downtime_hours_per_week"))
        * weeks
        * float(a.value("downtime_cost_per_hour")),
        "yearly cost of the machine's unplanned downtime",
        "condition_downtime",
        [
            "unplanned_downtime_hours_per_week",
            "working_days_per_year",
            "downtime_cost_per_hour",
            "currency",
        ],
        "unplanned downtime h/week × working weeks × cost of an hour × reduction",
        caveat=(
            "Counts only the stops this drive causes if it is the machine's main failure "
            "source. " + EVIDENCE["condition_downtime"].note
        ),
    )


def spc_dimension(a: Answers) -> BusinessCase:
    """SPC on a measured dimension: yearly scrap cost at the station × defect reduction."""
    weeks = float(a.value("working_days_per_year")) / 5
    return _case(
        "spc-dimension",
        a,
        float(a.value("scrap_parts_per_week")) * weeks * float(a.value("scrap_cost_per_part")),
        "yearly scrap cost at the measuring station",
        "spc_defects",
        ["scrap_parts_per_week", "working_days_per_year", "scrap_cost_per_part", "currency"],
        "scrap parts/week × working weeks × cost per part × reduction",
    )


VALUE_MODELS: Final[dict[str, Callable[[Answers], BusinessCase]]] = {
    "energy-per-shift": energy_per_shift,
    "idle-energy": idle_energy,
    "oee-machine": oee_machine,
    "condition-motor": condition_motor,
    "spc-dimension": spc_dimension,
}


def case_for(recipe_id: str, answers: Answers) -> BusinessCase | None:
    """The initial business case of ``recipe_id`` for one asset (None: an enabler)."""
    fn = VALUE_MODELS.get(recipe_id)
    return fn(answers) if fn else None
