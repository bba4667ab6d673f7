"""The site questionnaire: a few business figures and at most 15 readiness questions.

Answered interactively (``kit scan questions``, one prompt each), from flags
(``--set energy_tariff=0.25``), or from a YAML answers file (``--answers FILE``; errors as
``file:line: field: message``). Saved as ``<data dir>/scan-answers.yaml`` and read by the
business cases (:mod:`kit.scan.business`), the readiness assessment
(:mod:`kit.scan.readiness`) and the report.

Only what the site actually answered is stored. A figure left empty is taken from its
default and marked **assumption** wherever it is used, so a report never passes a default
off as a site figure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from kit.errors import ConfigError

Level = Literal["yes", "partly", "no", "unknown"]
LEVELS: Final[tuple[str, ...]] = get_args(Level)


@dataclass(frozen=True)
class SiteQuestion:
    """One business figure: prompt, unit, default (an assumption) and why that default."""

    key: str
    prompt: str
    unit: str
    default: float | str
    why: str


SITE_QUESTIONS: Final[tuple[SiteQuestion, ...]] = (
    SiteQuestion("currency", "Currency of the money figures", "", "EUR", "placeholder"),
    SiteQuestion(
        "energy_tariff",
        "Electricity price",
        "per kWh",
        0.20,
        "order of magnitude of European industrial tariffs; check your bill",
    ),
    SiteQuestion(
        "downtime_cost_per_hour",
        "Cost of one hour of a machine standing unplanned (lost margin, idle labour)",
        "per hour",
        500,
        "placeholder for a small discrete manufacturer; ask controlling",
    ),
    SiteQuestion("shifts_per_day", "Shifts per day", "", 2, "common for SMEs"),
    SiteQuestion("hours_per_shift", "Hours per shift", "h", 8, "common"),
    SiteQuestion("working_days_per_year", "Working days per year", "days", 230, "5-day week"),
    SiteQuestion(
        "oee_baseline_pct",
        "Current OEE of a typical machine (if known)",
        "%",
        60,
        "typical discrete manufacturer (evidence: oee_typical)",
    ),
    SiteQuestion(
        "unplanned_downtime_hours_per_week",
        "Unplanned downtime of one machine",
        "h per week",
        2,
        "placeholder; read it from the shift book",
    ),
    SiteQuestion(
        "scrap_parts_per_week",
        "Scrap parts per week at a measuring station",
        "parts per week",
        50,
        "placeholder; read it from the quality records",
    ),
    SiteQuestion("scrap_cost_per_part", "Cost of one scrapped part", "per part", 5, "placeholder"),
    SiteQuestion(
        "average_load_kw",
        "Average electrical load on a metered feed while producing",
        "kW",
        20,
        "placeholder for one machine tool feed; the meter will tell after a day",
    ),
)
SITE_DEFAULTS: Final[dict[str, float | str]] = {q.key: q.default for q in SITE_QUESTIONS}


@dataclass(frozen=True)
class ReadinessQuestion:
    """One yes/partly/no question of a readiness dimension, with the step that closes a gap."""

    key: str
    dimension: Literal["process", "technology", "organisation"]
    text: str
    next_step: str


READINESS_QUESTIONS: Final[tuple[ReadinessQuestion, ...]] = (
    ReadinessQuestion(
        "downtime_reasons_recorded",
        "process",
        "Are downtime reasons recorded (shift book or digital)?",
        "Start a simple reason list (5–8 codes) for stops longer than 5 minutes.",
    ),
    ReadinessQuestion(
        "counts_recorded",
        "process",
        "Are good and reject counts recorded per shift?",
        "Record good/reject per shift, even on paper, to compare with the machine's counters.",
    ),
    ReadinessQuestion(
        "maintenance_planned",
        "process",
        "Is there a planned (preventive) maintenance schedule?",
        "List the critical drives and motors and their service intervals.",
    ),
    ReadinessQuestion(
        "energy_reviewed",
        "process",
        "Is energy use reviewed at least monthly?",
        "Put the monthly kWh and the peak demand on the production meeting's agenda.",
    ),
    ReadinessQuestion(
        "ot_network_separated",
        "technology",
        "Is the machine network separated from the office network (firewall or VLAN)?",
        "Put PLCs and meters in their own network segment; allow only the kit's host in.",
    ),
    ReadinessQuestion(
        "time_source",
        "technology",
        "Do PLCs, HMIs and PCs take their time from one time server (NTP)?",
        "Point PLCs and the kit's host at one NTP server.",
    ),
    ReadinessQuestion(
        "register_maps_available",
        "technology",
        "Are manuals or register maps at hand for the main machines?",
        "Collect the Modbus register maps / OPC UA node lists of the machines to connect.",
    ),
    ReadinessQuestion(
        "edge_host_available",
        "technology",
        "Is there a PC or server where the kit can run permanently?",
        "Provide an industrial PC or Raspberry Pi with a UPS next to the machines.",
    ),
    ReadinessQuestion(
        "use_case_owner",
        "organisation",
        "Is there a named owner for the first use case?",
        "Name one person who owns the first KPI and its weekly review.",
    ),
    ReadinessQuestion(
        "time_for_improvement",
        "organisation",
        "Do technicians have time set aside for improvement (about 2 h a week)?",
        "Reserve two hours a week for the pilot during the first three months.",
    ),
    ReadinessQuestion(
        "target_set",
        "organisation",
        "Has management set a target for the first use case (e.g. kWh per part, OEE)?",
        "Agree one measurable target and its review date before the pilot starts.",
    ),
    ReadinessQuestion(
        "automation_support",
        "organisation",
        "Is someone available who maintains the PLCs and the network (staff or contractor)?",
        "Agree who may change PLC and network settings, and how to reach them.",
    ),
)
assert len(READINESS_QUESTIONS) <= 15  # the limit: a short questionnaire


class SiteFigures(BaseModel):
    """The site's own figures; ``None`` = not answered (its default is an assumption)."""

    model_config = ConfigDict(extra="forbid")

    currency: str | None = Field(default=None, pattern=r"^[A-Za-z€$£¥]{1,5}$")
    energy_tariff: float | None = Field(default=None, ge=0, le=10)
    downtime_cost_per_hour: float | None = Field(default=None, ge=0, le=10_000_000)
    shifts_per_day: int | None = Field(default=None, ge=1, le=4)
    hours_per_shift: float | None = Field(default=None, gt=0, le=24)
    working_days_per_year: int | None = Field(default=None, ge=1, le=366)
    oee_baseline_pct: float | None = Field(default=None, gt=0, le=100)
    unplanned_downtime_hours_per_week: float | None = Field(default=None, ge=0, le=168)
    scrap_parts_per_week: float | None = Field(default=None, ge=0, le=10_000_000)
    scrap_cost_per_part: float | None = Field(default=None, ge=0, le=10_000_000)
    average_load_kw: float | None = Field(default=None, ge=0, le=100_000)


class ReadinessAnswers(BaseModel):
    """yes / partly / no / unknown per readiness question; ``None`` = not asked yet."""

    model_config = ConfigDict(extra="forbid")

    downtime_reasons_recorded: Level | None = None
    counts_recorded: Level | None = None
    maintenance_planned: Level | None = None
    energy_reviewed: Level | None = None
    ot_network_separated: Level | None = None
    time_source: Level | None = None
    register_maps_available: Level | None = None
    edge_host_available: Level | None = None
    use_case_owner: Level | None = None
    time_for_improvement: Level | None = None
    target_set: Level | None = None
    automation_support: Level | None = None


class Answers(BaseModel):
    """Everything the site said (``scan-answers.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    site: SiteFigures = SiteFigures()
    readiness: ReadinessAnswers = ReadinessAnswers()

    def value(self, key: str) -> Any:
        """The site's answer to ``key``, or its default."""
        got = getattr(self.site, key)
        return SITE_DEFAULTS[key] if got is None else got

    def assumed(self, key: str) -> bool:
        """True when ``key`` was not answered: its value is the default, an assumption."""
        return getattr(self.site, key) is None

    def level(self, key: str) -> str | None:
        """The readiness answer to ``key`` (None: not answered)."""
        return getattr(self.readiness, key)  # type: ignore[no-any-return]


ANSWERS_FILE: Final = "scan-answers.yaml"


def answers_path(data_dir: Path | str) -> Path:
    """``<data dir>/scan-answers.yaml``."""
    return Path(data_dir) / ANSWERS_FILE


def load_answers(path: Path, missing_ok: bool = True) -> Answers:
    """The answers in ``path``; empty answers when it does not exist and ``missing_ok``.

    Raises:
        ConfigError: every problem as ``file:line: field: message``.
    """
    from kit.yamlfiles import load_yaml, validate_data

    if not path.exists():
        if missing_ok:
            return Answers()
        raise ConfigError(f"{path}: no such answers file")
    data = load_yaml(path)
    if data is None:
        return Answers()
    return validate_data(Answers, data, str(path))


def save_answers(answers: Answers, path: Path) -> None:
    """Write only what was answered, as YAML with a header (atomically)."""
    import io
    import os
    import tempfile

    from ruamel.yaml import YAML

    data = answers.model_dump(mode="json", exclude_none=True)
    buf = io.StringIO()
    buf.write(
        "# Site answers for `kit scan report` (kit scan questions). Figures left out are\n"
        "# taken from their defaults and marked as assumptions in the report.\n"
    )
    YAML().dump(data, buf)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".answers-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(buf.getvalue())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_sets(answers: Answers, sets: Iterable[str]) -> Answers:
    """``KEY=VALUE`` pairs (``energy_tariff=0.25``, ``readiness.target_set=yes``; a bare
    readiness key works too) merged over ``answers``; ``KEY=`` clears an answer.

    Raises:
        ConfigError: unknown key (with the closest one) or a value out of range.
    """
    from kit.yamlfiles import suggest, validate_data

    data = answers.model_dump(mode="json")
    site_keys = set(SiteFigures.model_fields)
    ready_keys = set(ReadinessAnswers.model_fields)
    for item in sets:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        section, _, name = key.rpartition(".")
        if not section:
            section = "readiness" if name in ready_keys else "site"
        known = site_keys if section == "site" else ready_keys if section == "readiness" else set()
        if name not in known:
            raise ConfigError(
                f"--set {key}: unknown question{suggest(name, site_keys | ready_keys)}"
            )
        data[section][name] = raw.strip() or None
    return validate_data(Answers, data, "--set")


Prompt = Callable[[str], str]


def ask(
    answers: Answers,
    prompt: Prompt,
    on_error: Callable[[str], None] | None = None,
    readiness: bool = True,
) -> Answers:
    """Ask every question with ``prompt(text) -> reply``; an empty reply keeps what is
    there (the current answer, or the default as an assumption). Replies are validated one
    by one: a bad reply is refused (``on_error(reason)``) and the question asked again."""

    def refuse(exc: ConfigError) -> None:
        # Only the reason ("Input should be a valid number"): the person knows the question.
        if on_error is not None:
            on_error("; ".join(p.split(": ", 2)[-1] for p in exc.problems) or str(exc))

    current = answers
    for q in SITE_QUESTIONS:
        have = getattr(current.site, q.key)
        shown = f"{have}" if have is not None else f"{q.default} (default, an assumption)"
        unit = f" [{q.unit}]" if q.unit else ""
        while True:
            reply = prompt(f"{q.prompt}{unit} — now {shown}").strip()
            if not reply:
                break
            try:
                current = apply_sets(current, [f"site.{q.key}={reply}"])
                break
            except ConfigError as exc:
                refuse(exc)
    if readiness:
        for r in READINESS_QUESTIONS:
            have = getattr(current.readiness, r.key)
            while True:
                reply = prompt(
                    f"[{r.dimension}] {r.text} (yes/partly/no/unknown) — now {have or 'not answered'}"
                ).strip()
                if not reply:
                    break
                if reply.lower() in ("y", "p", "n", "?", "u"):
                    reply = {"y": "yes", "p": "partly", "n": "no", "?": "unknown", "u": "unknown"}[
                        reply.lower()
                    ]
                try:
                    current = apply_sets(current, [f"readiness.{r.key}={reply.lower()}"])
                    break
                except ConfigError as exc:
                    refuse(exc)
    return current
