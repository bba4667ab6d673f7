"""Which library profile is this Modbus device? Pure scoring for ``kit scan`` (no I/O).

For every candidate profile, :func:`plan` picks a handful of its points (those the physics
relations use first, then those with a range) and groups them into reads;
:mod:`kit_modbus.scan` reads each distinct ``(table, start, count)`` once per unit and
hands the registers to :func:`judge`, which weighs the evidence in log10 likelihood-ratio
units ("how much more likely is what we read if the device is this model than if it is
something else"), summed into ``score``:

====================================================  ==========================
evidence                                              score
====================================================  ==========================
identity register matches (all of them)               +4  (any mismatch: excluded)
identity register unreadable                          −2
FC43/14 object equals the profile's expected text     +2 each (mismatch −3)
FC43/14 vendor / model names the profile's vendor /   +1 / +3 (other vendor −4)
model (profiles without expected objects)
value in its range                                    +min(1, log10(1/p)) — p: the
                                                      share of random register words
                                                      that decode into the range
value outside its range                               −1
value whose registers are all zero, or a float        0 (unwritten memory reads as
below 1e-30 (a denormal)                              zero: no evidence either way)
comparing relation holds (Σ phases ≈ total, √3 …)     +1
relation violated                                     −1
read refused with exception 02 (no such register)     −1 per read
====================================================  ==========================

``confidence = 1 / (1 + 10^(3 − score))``: a prior of 1000 : 1 against any one profile
(most devices on a plant network are not in the library), so a device needs a score of 3
(confidence 0.5, :data:`kit.scan.inventory.MATCH_THRESHOLD`) to be called a match — e.g.
three relations that hold, or an identity register. Random registers score below zero on
average: every out-of-range value costs more than a lucky in-range one earns.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from kit.relations import RELATIONS, evaluate
from kit.scan.inventory import confidence  # one formula for all protocols
from kit_modbus import codec
from kit_modbus.probe_search import decode_point

MAX_POINTS = 16
"""Points read per candidate profile."""
MAX_READ = 60
"""Registers per read (meters often refuse more; see docs/adapters/modbus.md)."""
_RELATION_NAMES = {n for r in RELATIONS for n in r.names}
_KIND = {r.id: r.kind for r in RELATIONS}
_COMPARING = {"sum", "mean", "scaled_mean", "hypot", "pf", "product"}
_REGISTER_TABLES = ("holding", "input")
_TINY = 1e-30


@dataclass(frozen=True)
class Read:
    """One register read: ``(table, start, count)``."""

    table: str
    start: int
    count: int


@dataclass
class Plan:
    """The points chosen from one profile and the reads that cover them."""

    profile: Any
    points: list[Any]
    reads: list[Read]
    skipped: str = ""
    """Why the profile cannot be fingerprinted (parameterised without defaults …)."""


@dataclass
class Judgement:
    """One profile's score against what a unit answered."""

    profile: str
    score: float
    evidence: list[str] = field(default_factory=list)
    excluded: bool = False
    informative: int = 0
    """Points that spoke for the profile (in range and non-zero) — breaks ties."""

    @property
    def confidence(self) -> float:
        """``1 / (1 + 10^(PRIOR − score))``; 0 when excluded."""
        return 0.0 if self.excluded else confidence(self.score)


def plan(prof: Any) -> Plan:
    """Choose up to :data:`MAX_POINTS` register points of ``prof`` and group them into reads."""
    if getattr(prof, "is_parameterised", False):
        try:
            prof = prof.resolve({})
        except Exception as exc:  # no defaults: the technician must give the addresses
            return Plan(prof, [], [], skipped=f"parameterised without defaults ({exc})")
    pts = [
        p
        for p in prof.points
        if p.access != "w" and p.table in _REGISTER_TABLES and p.type in codec.NUMERIC
    ]
    # Relations carry the strongest evidence; then ranged points; then the rest.
    pts.sort(key=lambda p: (p.semantic not in _RELATION_NAMES, p.range is None, p.pdu_address))
    chosen = sorted(pts[:MAX_POINTS], key=lambda p: (p.table, p.pdu_address))
    limit = min(MAX_READ, getattr(prof.connection, "max_registers_per_read", MAX_READ) or MAX_READ)
    gap = getattr(prof.connection, "max_gap", 8) or 0
    reads: list[Read] = []
    cur: list[Any] = []
    for p in chosen:
        if cur:
            start = cur[0].pdu_address
            end = max(q.pdu_address + q.count for q in cur)
            if (
                p.table == cur[0].table
                and p.pdu_address - end <= gap
                and max(end, p.pdu_address + p.count) - start <= limit
            ):
                cur.append(p)
                continue
            reads.append(Read(cur[0].table, start, end - start))
        cur = [p]
    if cur:
        start = cur[0].pdu_address
        reads.append(Read(cur[0].table, start, max(q.pdu_address + q.count for q in cur) - start))
    return Plan(prof, chosen, reads)


@lru_cache(maxsize=4096)
def _p_random(ptype: str, order: str, scale: float, offset: float, lo: float, hi: float) -> float:
    """Share of random register words that decode into [lo, hi] (fixed seed: reproducible)."""
    pc = codec.PointCodec(ptype, order, scale=scale, offset=offset)
    rng = random.Random(0x5CA1)
    hits = 0
    n = 400
    for _ in range(n):
        v = pc.decode([rng.randrange(65536) for _ in range(pc.count)])
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
            hits += lo <= v <= hi
    return max(hits / n, 0.01)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def judge(
    pl: Plan,
    regs: Mapping[Read, Sequence[int] | str],
    identification: Mapping[str, str] | None = None,
    identity: Sequence[Any] | None = None,
) -> Judgement:
    """Score ``pl.profile`` against what was read.

    Args:
        regs: per read, the registers — or a failure reason (``modbus_exception_2`` …);
            the reads of ``pl`` or smaller ones covering its points.
        identification: FC43/14 objects by name (``vendor_name`` …), when the device has them.
        identity: :class:`kit_modbus.identity.IdentityResult` list, when the profile has
            identity registers.
    """
    prof = pl.profile
    j = Judgement(prof.id, 0.0)
    # -- identity registers: the model's own word -----------------------------------
    if identity:
        bad = [r for r in identity if r.status == "mismatch"]
        if bad:
            j.excluded = True
            j.evidence.append("; ".join(r.text() for r in bad))
            return j
        if any(r.status == "unreadable" for r in identity):
            j.score -= 2
            j.evidence.append("identity register not readable")
        elif any(r.status == "ok" for r in identity):
            j.score += 4
            j.evidence.append(
                ", ".join(r.text() for r in identity if r.status == "ok") + f" = {prof.model}"
            )
    # -- FC43/14 ------------------------------------------------------------------------
    if identification:
        ident = getattr(prof, "identification", None)
        expected = ident.expected() if ident is not None else {}
        names = {v: k for k, v in type(ident).OBJECT_IDS.items()} if ident is not None else {}
        if expected:
            for oid, text in expected.items():
                got = identification.get(names.get(oid, ""), "")
                if got and text.lower() in got.lower():
                    j.score += 2
                    j.evidence.append(f"FC43 {names.get(oid)} {got!r}")
                elif got:
                    j.score -= 3
                    j.evidence.append(f"FC43 {names.get(oid)} {got!r}, profile expects {text!r}")
        else:
            vendor = identification.get("vendor_name", "").lower()
            model_text = " ".join(
                identification.get(k, "") for k in ("product_code", "product_name", "model_name")
            ).lower()
            if vendor and str(prof.vendor).lower() in vendor:
                j.score += 1
                j.evidence.append(f"FC43 vendor {identification['vendor_name']!r}")
                if str(prof.model).lower() in model_text:
                    j.score += 3
                    j.evidence.append(f"FC43 model {prof.model!r}")
            elif vendor:
                # The device names another maker: values that happen to fit cannot outweigh it.
                j.score -= 4
                j.evidence.append(f"FC43 vendor {identification['vendor_name']!r} ≠ {prof.vendor}")
    # -- values -------------------------------------------------------------------------
    values: dict[str, Any] = {}
    in_range = out_range = zeros = refused = 0
    for reply in regs.values():
        if isinstance(reply, str) and reply == "modbus_exception_2":
            refused += 1
    reads = list(regs)
    for p in pl.points:
        raw = _slice(reads, regs, p)
        if raw is None:
            continue
        if not any(raw):
            zeros += 1
            continue
        v = decode_point(p, raw, None)
        if v is None or isinstance(v, (str, bool)):
            continue
        if isinstance(v, float) and abs(v) < _TINY:
            # A float whose exponent bits are zero (one 16-bit word of a zero pair set) is
            # a denormal such as 1.4e-45: in almost every range, and meaningless.
            zeros += 1
            continue
        values[p.semantic] = v
        if p.range is not None:
            lo, hi = p.range
            if lo <= v <= hi:
                pr = _p_random(
                    p.type, p.byte_order or "ABCD", p.scale or 1.0, p.offset or 0.0, lo, hi
                )
                j.score += min(1.0, math.log10(1.0 / pr))
                in_range += 1
                j.informative += 1
            else:
                j.score -= 1
                out_range += 1
    if refused:
        j.score -= refused
        j.evidence.append(f"{refused} read(s) refused with exception 02 (no such register)")
    held = violated = 0
    for ch in evaluate(values):
        if ch.status == "satisfied" and _KIND.get(ch.relation) in _COMPARING:
            held += 1
            j.score += 1
            if held <= 3:
                j.evidence.append(ch.evidence)
        elif ch.status == "violated":
            violated += 1
            j.score -= 1
            if violated <= 2:
                j.evidence.append("violated: " + ch.evidence)
    ranged = in_range + out_range
    if ranged:
        j.evidence.append(f"{in_range} of {ranged} values in range")
    if zeros:
        j.evidence.append(f"{zeros} of {len(pl.points)} values read as 0 (no evidence)")
    j.score = round(j.score, 3)
    return j


def _slice(
    reads: Sequence[Read], regs: Mapping[Read, Sequence[int] | str], p: Any
) -> list[int] | None:
    for r in reads:
        if (
            r.table == p.table
            and r.start <= p.pdu_address
            and p.pdu_address + p.count <= r.start + r.count
        ):
            got = regs.get(r)
            if got is None or isinstance(got, str):
                return None
            off = p.pdu_address - r.start
            return list(got[off : off + p.count])
    return None


def rank(judgements: Sequence[Judgement]) -> list[Judgement]:
    """Best first: score, then points that spoke for the profile, then id (stable)."""
    return sorted(judgements, key=lambda j: (-j.confidence, -j.score, -j.informative, j.profile))
