"""The Scan report (``kit scan report``): what was found, what to start with, what it may be
worth, how ready the site is — as JSON, Markdown and self-contained HTML.

:func:`build_report` gathers everything into one pydantic model (:class:`ScanReport`, the
JSON form); :func:`to_markdown` and :func:`kit.scan.report_html.to_html` render that model
and nothing else, so the three forms cannot disagree. Every report states what was scanned,
when, by which kit version, and lists every assumption: site figures taken from defaults,
the ranking rule, the scoring rule, an interrupted scan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from kit import __version__
from kit.scan.business import Input
from kit.scan.evidence import EVIDENCE, READ_ON, Evidence
from kit.scan.opportunities import MAX_MISSING, NEEDS_SIGNAL_WEIGHT, Opportunity, rank
from kit.scan.questionnaire import Answers
from kit.scan.readiness import Readiness, assess
from kit.scan.tables import (
    DEVICE_HEADER,
    OPPORTUNITY_HEADER,
    device_rows,
    money,
    opportunity_rows,
)

if TYPE_CHECKING:
    from kit.library import Library
    from kit.scan.inventory import Inventory

REPORT_VERSION = 1


class Scanned(BaseModel):
    """What was scanned, when, how gently, by which kit."""

    model_config = ConfigDict(extra="forbid")

    kit_version: str
    started_at: str
    finished_at: str
    complete: bool
    targets: list[str]
    ports: dict[int, str]
    limits: dict[str, Any]
    hosts_total: int
    hosts_done: int
    open_ports: int
    requests: int
    seconds: float
    devices: int
    identified: int


class ScanReport(BaseModel):
    """The whole report (its JSON form)."""

    model_config = ConfigDict(extra="forbid")

    version: int = REPORT_VERSION
    title: str
    generated_at: str
    generated_by: str
    """``kit <version>`` that wrote the report (the scan's own version is in ``scanned``)."""
    scanned: Scanned
    devices: list[list[str]]
    """Rows under :data:`kit.scan.tables.DEVICE_HEADER`."""
    opportunities: list[Opportunity]
    readiness: Readiness
    assumptions: list[str]
    """Every assumption, in words."""
    site_inputs: list[Input]
    """Every site figure a business case used, answered or assumed."""
    evidence: list[Evidence]
    """The evidence entries the business cases cite."""
    start_here: list[int] = []
    """Indices into ``opportunities``: what to install first (:func:`start_here`)."""

    def first_steps(self) -> list[Opportunity]:
        """The opportunities :attr:`start_here` points at."""
        return [self.opportunities[i] for i in self.start_here]


def start_here(opps: list[Opportunity], n: int = 2) -> list[int]:
    """Up to ``n`` recipes to install first: the best-ranked opportunity of each distinct
    recipe that fits now (installable today); if none fits, the best one overall (it names
    the signal to wire first)."""
    out: list[int] = []
    seen: set[str] = set()
    for i, o in enumerate(opps):
        if o.status == "fits" and o.recipe not in seen:
            out.append(i)
            seen.add(o.recipe)
            if len(out) == n:
                break
    return out or ([0] if opps else [])


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def build_report(
    inventory: Inventory,
    library: Library,
    answers: Answers,
    *,
    title: str = "Scan report",
    generated_at: str | None = None,
) -> ScanReport:
    """Opportunities, business cases and readiness of ``inventory``, with every assumption."""
    opps = rank(inventory, library, answers)
    ready = assess(inventory, answers, library)
    devs = inventory.devices()
    scanned = Scanned(
        kit_version=inventory.kit_version or "unknown",
        started_at=inventory.started_at,
        finished_at=inventory.finished_at,
        complete=inventory.complete,
        targets=inventory.targets,
        ports=inventory.ports,
        limits=inventory.limits.model_dump() if inventory.limits else {},
        hosts_total=inventory.hosts_total,
        hosts_done=inventory.hosts_done,
        open_ports=inventory.open_ports,
        requests=inventory.requests,
        seconds=inventory.seconds,
        devices=len(devs),
        identified=sum(d.status == "identified" for _, d in devs),
    )
    inputs: dict[str, Input] = {}
    cited: dict[str, Evidence] = {}
    for o in opps:
        if o.case is not None:
            for i in o.case.inputs:
                inputs.setdefault(i.key, i)
            for eid in o.case.evidence:
                cited[eid] = EVIDENCE[eid]
    assumptions = [
        f"{i.label}: {i.value} {i.unit}".rstrip() + " (default, not answered by the site)"
        for i in inputs.values()
        if i.assumption
    ]
    assumptions += [
        "Business cases are per asset and year, initial ranges: the site's figures × a "
        "published effect range (evidence table); rounded to two significant figures.",
        f"Ranking: the midpoint of each range; an opportunity still missing a signal counts "
        f"at {NEEDS_SIGNAL_WEIGHT:.0%} of it (the signal may never be wired). Opportunities "
        f"missing more than {MAX_MISSING} signals are not listed.",
        "Recovered production time is worth the cost of an hour of downtime only where the "
        "machine's extra output is needed (a bottleneck, or overtime saved).",
        "Readiness: yes/pass 2, partly/partial 1, no/unknown/fail 0 points; a dimension's "
        "score is 5 × points / possible over the items answered or measured, to the half band.",
        f"Evidence sources were read in {READ_ON}; vendor-reported figures are labelled so.",
    ]
    if not inventory.complete:
        assumptions.insert(
            0, "The scan was stopped before it finished: devices may be missing from it."
        )
    unanswered = [i.key for d in ready.dimensions for i in d.items if i.result == "not answered"]
    if unanswered:
        assumptions.append(
            f"{len(unanswered)} readiness question(s) not answered and left out of the scores: "
            + ", ".join(unanswered)
        )
    return ScanReport(
        title=title,
        generated_at=generated_at or _now(),
        generated_by=f"kit {__version__}",
        scanned=scanned,
        devices=[list(r) for r in device_rows(inventory)],
        opportunities=opps,
        readiness=ready,
        assumptions=assumptions,
        site_inputs=list(inputs.values()),
        evidence=list(cited.values()),
        start_here=start_here(opps),
    )


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def scanned_sentence(s: Scanned) -> str:
    """One sentence: targets, ports, hosts, devices, when, which kit."""
    ports = ", ".join(f"{p}/{proto}" for p, proto in s.ports.items()) or "none"
    return (
        f"Scanned {', '.join(s.targets) or 'nothing'} (ports {ports}) from {s.started_at} to "
        f"{s.finished_at} with kit {s.kit_version}: {s.hosts_done} of {s.hosts_total} hosts, "
        f"{s.open_ports} open port(s), {s.devices} device(s), {s.identified} identified, "
        f"{s.requests} requests in {s.seconds:.1f} s"
        + ("" if s.complete else " — the scan was stopped before it finished")
        + "."
    )


def to_markdown(r: ScanReport) -> str:
    """The report as Markdown."""
    out = [f"# {r.title}", "", scanned_sentence(r.scanned), ""]
    out.append(f"Generated {r.generated_at} by {r.generated_by}.")
    lim = r.scanned.limits
    if lim:
        out.append(
            f"Limits: {lim.get('concurrency')} hosts at a time, {lim.get('rate')} requests/s in "
            f"total, {lim.get('host_rate')}/s per host, timeout {lim.get('timeout_s')} s; "
            "reads only."
        )
    out += ["", "## Start here", ""]
    if r.opportunities:
        for best in r.first_steps():
            case = best.case
            worth = (
                f", worth an estimated {money(case.low, case.currency)} – "
                f"{money(case.high, case.currency)} per asset and year"
                if case
                else ""
            )
            need = f" — first wire {', '.join(best.missing)}" if best.missing else ""
            out.append(
                f"* **{best.title}** ({best.recipe}) on {_where(best)}{worth}{need}: "
                f"`{best.install_hint()}`"
            )
    else:
        out.append("No recipe fits the devices found yet (see the devices below).")
    out += ["", "## Opportunities", ""]
    if r.opportunities:
        out.append(_md_table(OPPORTUNITY_HEADER, opportunity_rows(r.opportunities)))
        out += ["", "### Business cases", ""]
        seen: set[str] = set()
        for o in r.opportunities:
            if o.case is None or o.recipe in seen:
                continue
            seen.add(o.recipe)
            c = o.case
            out.append(
                f"* **{o.title}** — {money(c.low, c.currency)} – {money(c.high, c.currency)} "
                f"per {c.per}. {c.base_label.capitalize()} ≈ {money(c.base, c.currency)} × typical reported "
                f"{c.effect}. Formula: {c.formula}. {c.caveat}"
            )
    else:
        out.append("None yet.")
    out += ["", "## Readiness", ""]
    out.append(
        _md_table(
            ("dimension", "score (0–5)", "items assessed", "gaps"),
            [
                (
                    d.dimension,
                    "not assessed" if d.score is None else f"{d.score:g}",
                    str(d.assessed),
                    str(len(d.gaps())),
                )
                for d in r.readiness.dimensions
            ],
        )
    )
    for d in r.readiness.dimensions:
        out += ["", f"### {d.dimension.capitalize()}", ""]
        for i in d.items:
            ev = f" — measured: {i.evidence}" if i.evidence else ""
            step = f" **Next step:** {i.next_step}" if i.next_step else ""
            out.append(f"* {i.text} **{i.result}**{ev}.{step}")
    out += [
        "",
        "## Devices",
        "",
        _md_table(DEVICE_HEADER, r.devices) if r.devices else "None found.",
    ]
    out += ["", "## Assumptions", ""] + [f"* {a}" for a in r.assumptions]
    if r.site_inputs:
        out += ["", "## Site figures used", ""]
        out.append(
            _md_table(
                ("figure", "value", "from"),
                [
                    (
                        i.label,
                        f"{i.value} {i.unit}".strip(),
                        "assumption (default)" if i.assumption else "site",
                    )
                    for i in r.site_inputs
                ],
            )
        )
    if r.evidence:
        out += ["", "## Evidence", ""]
        for e in r.evidence:
            out.append(
                f"* `{e.id}`: {e.text()}. Source: {e.source.title}, {e.source.publisher} "
                f"({e.source.dated()}), <{e.source.url}>. {e.note}"
            )
    return "\n".join(out) + "\n"


def _where(o: Opportunity) -> str:
    return ", ".join(
        f"device #{a.device} ({a.profile}, {a.endpoint}"
        + (f" unit {a.unit_id}" if a.unit_id is not None else "")
        + ")"
        if a.device is not None
        else f"{a.role} (not found: {', '.join(a.missing)})"
        for a in o.assets
    )
