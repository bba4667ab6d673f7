"""Readiness assessment: short answers plus what the scan *measured*, scored per dimension.

In the spirit of Singapore's Smart Industry Readiness Index (SIRI: three building blocks —
process, technology, organisation — each scored in bands 0–5), kept to the twelve questions
of :data:`kit.scan.questionnaire.READINESS_QUESTIONS`. SIRI itself is a paper
self-assessment; here the technology dimension also carries evidence the scan measured on
the network (:func:`measured_checks`): devices reachable, share of devices with a known
profile, device clocks, secure OPC UA offered, controllers reachable over plain Modbus TCP.

Scoring: every item earns 2 (yes / pass), 1 (partly / partial) or 0 (no, unknown, fail) of 2
points; items not answered or not measurable are left out (and listed as such). A
dimension's score is 5 × earned / possible, rounded to the half band — no more precise than
a dozen answers allow. Every gap carries the next step that closes it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Literal

from pydantic import BaseModel, ConfigDict

from kit.scan.questionnaire import READINESS_QUESTIONS, Answers

if TYPE_CHECKING:
    from kit.library import Library
    from kit.scan.inventory import Inventory

Dimension = Literal["process", "technology", "organisation"]
DIMENSIONS: Final[tuple[Dimension, ...]] = ("process", "technology", "organisation")
WEAK_POLICIES: Final = frozenset({"None", "Basic128Rsa15", "Basic256"})
"""OPC UA security policies that do not count as secure (standards.md §1.2: deprecated)."""
CONTROLLER_CATEGORIES: Final = frozenset({"plc", "drive", "controller", "remote_io", "machine"})
"""Profile categories that can be *written* to: a segmentation concern when reachable."""
CLOCK_OK_S: Final = 1.0
CLOCK_PARTIAL_S: Final = 60.0

_POINTS: Final = {"yes": 2, "pass": 2, "partly": 1, "partial": 1}


class Item(BaseModel):
    """One question or measured check and where it leaves the site."""

    model_config = ConfigDict(extra="forbid")

    key: str
    dimension: Dimension
    source: Literal["answer", "measured"]
    text: str
    result: str
    """``yes/partly/no/unknown`` (answers), ``pass/partial/fail/n/a`` (measured),
    ``not answered``."""
    evidence: str = ""
    """For measured items: what the scan saw."""
    next_step: str = ""
    """Set when the item is a gap."""

    @property
    def scored(self) -> bool:
        """Counts toward the score (answered, or measurable)."""
        return self.result not in ("not answered", "n/a")

    @property
    def points(self) -> int:
        """0–2."""
        return _POINTS.get(self.result, 0)


class DimensionScore(BaseModel):
    """A dimension's score (0–5, None when nothing was assessed) and its items."""

    model_config = ConfigDict(extra="forbid")

    dimension: Dimension
    score: float | None
    assessed: int
    items: list[Item]

    def gaps(self) -> list[Item]:
        """Scored items short of full points (each has a next step)."""
        return [i for i in self.items if i.scored and i.points < 2]


class Readiness(BaseModel):
    """The assessment: one score per dimension."""

    model_config = ConfigDict(extra="forbid")

    dimensions: list[DimensionScore]

    def get(self, dim: str) -> DimensionScore:
        """The score of dimension ``dim``."""
        return next(d for d in self.dimensions if d.dimension == dim)


def _check(key: str, text: str, result: str, evidence: str, next_step: str = "") -> Item:
    return Item(
        key=key,
        dimension="technology",
        source="measured",
        text=text,
        result=result,
        evidence=evidence,
        next_step=next_step if result in ("partial", "fail") else "",
    )


def measured_checks(inventory: Inventory, library: Library | None, answers: Answers) -> list[Item]:
    """What the scan measured, as pass / partial / fail / n/a checks."""
    devices = inventory.devices()
    n = len(devices)
    out: list[Item] = []
    out.append(
        _check(
            "devices_reachable",
            "Devices reachable from the kit's network",
            "pass" if n else ("partial" if inventory.open_ports else "fail"),
            f"{n} device(s) on {inventory.open_ports} open port(s); "
            f"{inventory.hosts_done} of {inventory.hosts_total} hosts scanned",
            "Scan the machine network from where the kit will run (right segment, ports "
            "502/4840 open towards the devices).",
        )
    )
    ident = sum(d.status == "identified" for _, d in devices)
    share = ident / n if n else 0.0
    out.append(
        _check(
            "known_profiles",
            "Share of devices with a known hardware profile",
            "n/a" if not n else "pass" if share >= 0.8 else "partial" if share >= 0.4 else "fail",
            f"{ident} of {n} identified ({share:.0%})" if n else "no device found",
            "Write or import profiles for the unknown devices (`kit profile new`), or check "
            "their model on the nameplate.",
        )
    )
    offsets = [
        float(e.info["clock_offset_s"])
        for e in inventory.endpoints
        if isinstance(e.info.get("clock_offset_s"), int | float)
    ]
    # The offset furthest from zero, with its sign (ahead or behind the kit's clock).
    worst_signed = max(offsets, key=abs, default=None)
    worst = abs(worst_signed) if worst_signed is not None else None
    out.append(
        _check(
            "time_sync",
            "Device clocks agree with the kit's clock",
            "n/a"
            if worst is None
            else "pass"
            if worst <= CLOCK_OK_S
            else "partial"
            if worst <= CLOCK_PARTIAL_S
            else "fail",
            f"largest clock offset {worst_signed:+.1f} s over {len(offsets)} device clock(s)"
            if worst is not None
            else "no device clock readable (Modbus has no standard clock; OPC UA servers "
            "without anonymous access were not opened)",
            "Synchronise device clocks with one NTP server; timestamps from a drifting clock "
            "cannot be trusted.",
        )
    )
    ua = [e for e in inventory.endpoints if e.protocol == "opcua" and e.info.get("endpoints")]
    secure = [e for e in ua if any(_secure(x) for x in e.info["endpoints"])]
    open_none = [
        e for e in ua if any(x.get("security_policy") == "None" for x in e.info["endpoints"])
    ]
    out.append(
        _check(
            "secure_opcua",
            "OPC UA servers offer a secure endpoint (SignAndEncrypt, current policy)",
            "n/a"
            if not ua
            else "fail"
            if len(secure) < len(ua)
            else "partial"
            if open_none
            else "pass",
            f"{len(secure)} of {len(ua)} server(s) offer one; {len(open_none)} also offer "
            "security None"
            if ua
            else "no OPC UA server found",
            "Enable Basic256Sha256 (or newer) with SignAndEncrypt on every OPC UA server and "
            "switch off security None.",
        )
    )
    out.append(_segmentation(inventory, library, answers))
    return out


def _secure(ep: dict[str, Any]) -> bool:
    return ep.get("security_mode") == "SignAndEncrypt" and (
        ep.get("security_policy") not in WEAK_POLICIES
    )


def _segmentation(inventory: Inventory, library: Library | None, answers: Answers) -> Item:
    """Controllers answering without authentication — plain Modbus TCP (anyone who reaches
    it can write), or OPC UA offering security None with anonymous login — from the network
    the scan ran on: fine inside a separated machine network, a gap anywhere else."""
    profiles = library.profiles().profiles if library is not None else {}
    ctrl = []
    for ep, dev in inventory.devices():
        if ep.protocol == "modbus":
            prof = profiles.get(dev.profile) if dev.profile else None
            if prof is None or prof.category in CONTROLLER_CATEGORIES:
                ctrl.append(f"{ep.host}:{ep.port}")
        elif ep.protocol == "opcua" and any(
            x.get("security_policy") == "None" and "Anonymous" in x.get("user_tokens", [])
            for x in ep.info.get("endpoints", [])
        ):
            ctrl.append(f"{ep.host}:{ep.port}")
    ctrl = sorted(set(ctrl))
    what = (
        f"{len(ctrl)} controller(s) or unidentified device(s) answer without authentication "
        "(plain Modbus TCP, or OPC UA security None with anonymous login)"
    )
    separated = answers.level("ot_network_separated")
    if not inventory.devices():
        result, why = "n/a", "no device found: nothing to judge"
    elif not ctrl:
        result, why = "pass", "no controller answers without authentication on this network"
    elif separated == "yes":
        result, why = "partial", what + " here; the site says this is a separated machine network"
    else:
        result, why = "fail", what + " from this network, which is not known to be separated"
    return _check(
        "segmentation",
        "Controllers reachable only from a separated machine network",
        result,
        why + (f": {', '.join(ctrl[:5])}" if ctrl else ""),
        "Keep PLCs and drives in a machine network behind a firewall; allow Modbus/OPC UA "
        "only from the kit's host (docs/scan.md#readiness).",
    )


def assess(inventory: Inventory, answers: Answers, library: Library | None = None) -> Readiness:
    """Score every dimension from ``answers`` and what ``inventory`` measured."""
    items: list[Item] = []
    for q in READINESS_QUESTIONS:
        level = answers.level(q.key)
        result = level or "not answered"
        items.append(
            Item(
                key=q.key,
                dimension=q.dimension,
                source="answer",
                text=q.text,
                result=result,
                next_step=q.next_step if result in ("partly", "no", "unknown") else "",
            )
        )
    items += measured_checks(inventory, library, answers)
    dims = []
    for dim in DIMENSIONS:
        mine = [i for i in items if i.dimension == dim]
        scored = [i for i in mine if i.scored]
        score = None
        if scored:
            raw = 5 * sum(i.points for i in scored) / (2 * len(scored))
            score = round(raw * 2) / 2
        dims.append(DimensionScore(dimension=dim, score=score, assessed=len(scored), items=mine))
    return Readiness(dimensions=dims)
