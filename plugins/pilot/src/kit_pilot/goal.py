"""A pilot's goal and baseline, parsed from the command line with errors that say which part
is wrong: ``--kpi oee:+5pp`` (percentage points), ``--kpi kwh_per_part:-8%`` (relative),
``--baseline 14d`` / ``FROM..TO`` / ``import:FILE``.
"""

from __future__ import annotations

import csv
import math
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from kit.errors import KitError

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_TARGET = re.compile(r"^([+-])(\d+(?:\.\d+)?)(pp|%)$")
_DAYS = re.compile(r"^(\d+)d$")


class KpiGoal(BaseModel):
    """One KPI and the change the pilot aims for."""

    model_config = ConfigDict(extra="forbid")

    kpi: str
    change: float
    """Signed target change: +5 (pp) or −8 (%)."""
    unit: Literal["pp", "%"]
    """``pp``: percentage points of a ratio (0…1 KPIs: +5pp = +0.05; KPIs in % : +5);
    ``%``: relative to the baseline mean."""

    def target(self, baseline: float, kpi_unit: str | None = None) -> float:
        """The KPI value that meets the goal, given the baseline mean."""
        if self.unit == "%":
            return baseline * (1 + self.change / 100)
        return baseline + self.change * (1.0 if kpi_unit == "%" else 0.01)

    def text(self) -> str:
        """Back to the command-line form (``oee:+5pp``)."""
        return f"{self.kpi}:{self.change:+g}{self.unit}"


def parse_goal(text: str) -> KpiGoal:
    """``oee:+5pp`` → :class:`KpiGoal`.

    Raises:
        KitError: names the wrong part (KPI name, sign, number or unit).
    """
    where = f"--kpi {text!r}"
    if ":" not in text:
        raise KitError(f"{where}: write KPI:CHANGE, e.g. oee:+5pp or kwh_per_part:-8%")
    name, target = (x.strip() for x in text.split(":", 1))
    if not _NAME.match(name):
        raise KitError(
            f"{where}: KPI name {name!r}: use the KPI's name as published, e.g. oee, kwh_per_part"
        )
    m = _TARGET.match(target)
    if not m:
        if target and target[0] not in "+-":
            problem = "needs a sign: + to raise the KPI, - to lower it (e.g. +5pp, -8%)"
        elif not re.search(r"(pp|%)$", target):
            problem = "needs a unit: pp (percentage points) or % (relative), e.g. +5pp, -8%"
        else:
            problem = "the number is not readable; write e.g. +5pp, -8%, +2.5pp"
        raise KitError(f"{where}: change {target!r} {problem}")
    sign, num, unit = m.groups()
    value = float(num) * (-1 if sign == "-" else 1)
    if value == 0:
        raise KitError(f"{where}: change {target!r} is zero: a goal must change something")
    if unit == "%" and value <= -100:
        raise KitError(f"{where}: change {target!r}: a KPI cannot fall by 100 % or more")
    return KpiGoal(kpi=name, change=value, unit=unit)


class Baseline(BaseModel):
    """Where the baseline comes from: a history window or imported pre-kit figures."""

    model_config = ConfigDict(extra="forbid")

    source: Literal["history", "import"]
    start: datetime | None = None
    end: datetime | None = None
    imported: dict[str, list[tuple[datetime, float]]] = {}
    """KPI → ``(shift start, value)`` from the imported CSV (copied into the pilot record)."""
    file: str | None = None


def parse_baseline(text: str, now: datetime) -> Baseline:
    """``14d`` (the 14 days before ``now``), ``FROM..TO`` (ISO times) or ``import:FILE``.

    Raises:
        KitError: unreadable form or file (``file:line: message`` for the CSV).
    """
    t = text.strip()
    if t.startswith("import:") or t.startswith("import "):
        return import_baseline(Path(t[7:].strip()))
    m = _DAYS.match(t)
    if m:
        days = int(m.group(1))
        if days < 1:
            raise KitError(f"--baseline {text!r}: the window needs at least 1 day")
        return Baseline(source="history", start=now - timedelta(days=days), end=now)
    if ".." in t:
        a, b = t.split("..", 1)
        start, end = _iso(a, text), _iso(b, text)
        if end <= start:
            raise KitError(f"--baseline {text!r}: TO must be after FROM")
        return Baseline(source="history", start=start, end=end)
    raise KitError(
        f"--baseline {text!r}: use 14d (days before the start), FROM..TO "
        "(2026-11-01..2026-11-15) or import:FILE (a CSV of pre-kit figures)"
    )


def _iso(s: str, whole: str) -> datetime:
    try:
        dt = datetime.fromisoformat(s.strip())
    except ValueError:
        raise KitError(f"--baseline {whole!r}: {s.strip()!r} is not an ISO date/time") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def import_baseline(path: Path) -> Baseline:
    """Read a CSV of pre-kit per-shift figures: header ``shift_start,kpi,value``.

    ``shift_start``: ISO 8601 (UTC if no offset); ``kpi``: the KPI name; ``value``: in the
    kit's unit for that KPI (OEE as a ratio 0…1, energy per part in kWh).

    Raises:
        KitError: ``file:line: column: message`` for the first bad row; missing file.
    """
    try:
        fh = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise KitError(f"--baseline import: {path}: {exc.strerror}") from None
    out: dict[str, list[tuple[datetime, float]]] = {}
    with fh:
        reader = csv.DictReader(fh)
        need = {"shift_start", "kpi", "value"}
        if reader.fieldnames is None or not need <= set(reader.fieldnames):
            raise KitError(f"{path}:1: header must be shift_start,kpi,value")
        for row in reader:
            line = reader.line_num
            try:
                ts = datetime.fromisoformat(row["shift_start"].strip())
            except ValueError:
                raise KitError(f"{path}:{line}: shift_start: not an ISO date/time") from None
            try:
                v = float(row["value"])
            except ValueError:
                raise KitError(f"{path}:{line}: value: {row['value']!r} is not a number") from None
            if not math.isfinite(v):
                raise KitError(f"{path}:{line}: value: must be a finite number")
            kpi = row["kpi"].strip()
            if not _NAME.match(kpi):
                raise KitError(f"{path}:{line}: kpi: {kpi!r} is not a KPI name")
            out.setdefault(kpi, []).append((ts if ts.tzinfo else ts.replace(tzinfo=UTC), v))
    if not out:
        raise KitError(f"{path}: no rows")
    return Baseline(source="import", imported=out, file=str(path))
