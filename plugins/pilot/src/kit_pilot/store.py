"""The pilots store: one JSON file per pilot in ``<data_dir>/pilots/<name>.json``.

A file, not a JetStream KV bucket: ``kit pilot`` works with the runtime stopped (like
``kit history --dir``), the record is backed up with the data directory, and a later
evidence pack embeds it as is. Writes are atomic (temp file + rename).
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kit.errors import KitError
from kit_pilot.goal import Baseline, KpiGoal

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class Context(BaseModel):
    """What must stay the same between baseline and pilot for the comparison to be fair."""

    model_config = ConfigDict(extra="forbid")

    shifts: list[str] = Field(default_factory=lambda: ["06:00", "14:00", "22:00"])
    """Local start times of the shifts (per-shift samples are cut here)."""
    product_mix: str | None = None
    """Free text, e.g. "70 % A-200, 30 % B-40": listed in the report as held fixed."""
    notes: str | None = None


class Money(BaseModel):
    """What the site's figures are worth: the inputs of the report's value in money.

    Every field is optional: a KPI whose rule needs a missing input is listed as "not
    valued" with what to give, never valued with a guess.
    """

    model_config = ConfigDict(extra="forbid")

    currency: str = "GBP"
    tariff_per_kwh: float | None = Field(None, ge=0)
    """Energy price (currency per kWh)."""
    downtime_cost_per_h: float | None = Field(None, ge=0)
    """What one hour of lost production costs (contribution margin of the lost output)."""
    parts_per_shift: float | None = Field(None, gt=0)
    """Output of a shift, to turn energy per part into energy per shift."""
    shifts_per_year: float | None = Field(None, gt=0)
    """Default: shifts per day × 250 working days."""


class Pilot(BaseModel):
    """A pilot: its goal, baseline and context (schema ``kit.pilot/1``)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: str = Field("kit.pilot/1", alias="schema")
    name: str
    owner: str
    deployments: list[str] = Field(default_factory=list)
    assets: list[str] = Field(min_length=1)
    goals: list[KpiGoal] = Field(min_length=1)
    window: str | None = None
    """KPI window to use when a KPI is published for several (``shift``, ``rolling``)."""
    start: datetime
    end: datetime
    """Planned end of the pilot period."""
    baseline: Baseline
    context: Context = Field(default_factory=Context)
    tz: str = "UTC"
    """Time zone the shift times are in."""
    created: datetime
    money: Money = Field(default_factory=Money)
    """Tariff, downtime cost and output for the value in money (``kit pilot start --tariff``…)."""


class PilotStore:
    """Pilots of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "pilots"

    def path(self, name: str) -> Path:
        """File of pilot ``name`` (checked: letters, digits, ``._-``)."""
        if not _NAME.match(name):
            raise KitError(f"pilot name {name!r}: use letters, digits, '.', '_' or '-'")
        return self.dir / f"{name}.json"

    def save(self, pilot: Pilot, *, replace: bool = False) -> Path:
        """Write ``pilot``; refuses to overwrite an existing one unless ``replace``."""
        p = self.path(pilot.name)
        if p.exists() and not replace:
            raise KitError(f"pilot {pilot.name!r} exists ({p}); choose another name")
        self.dir.mkdir(parents=True, exist_ok=True)
        tmp = p.with_name(p.name + ".tmp")
        tmp.write_text(pilot.model_dump_json(by_alias=True, indent=2))
        os.replace(tmp, p)
        return p

    def load(self, name: str) -> Pilot:
        """Read pilot ``name``.

        Raises:
            KitError: unknown pilot (with the known ones) or an unreadable file.
        """
        p = self.path(name)
        if not p.exists():
            known = ", ".join(self.names()) or "none"
            raise KitError(f"no pilot {name!r} (known: {known}); start one with kit pilot start")
        try:
            return Pilot.model_validate(json.loads(p.read_text()))
        except (ValueError, ValidationError) as exc:
            raise KitError(f"{p}: not a readable pilot record: {exc}") from None

    def names(self) -> list[str]:
        """Names of the stored pilots."""
        return sorted(p.stem for p in self.dir.glob("*.json")) if self.dir.exists() else []
