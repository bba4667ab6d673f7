"""Which address shift and word order make a device's values plausible? (``kit probe``)

Pure (no I/O): given the registers read at each candidate address shift, decode every point
in every word order, score each combination by the physics relations of
:mod:`kit.relations` first and the profile's ranges second, and word a verdict.

Why relations: ranges cannot catch the most common profile errors. A CDAB meter whose
profile has every address one register too high, decoded as ABCD, gives each 32-bit point
the value of its neighbour — in range, and wrong (voltage L1 shows L2's value). Relations
between quantities (Σ phases ≈ total, V_LL ≈ √3·V_LN, S² ≈ P² + Q²) are broken by it.

The shift covers the 0-/1-based addressing confusion: a shift of −1 is "the manual counts
registers from 1" (Modicon 300001 written as PDU 1).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kit.relations import RELATIONS, Check, evaluate
from kit_modbus import codec

_KIND = {r.id: r.kind for r in RELATIONS}
_COMPARING = {"sum", "mean", "scaled_mean", "hypot", "pf", "product"}

SHIFTS = (0, -1, 1, -2, 2)
"""Address shifts tried (registers added to every profile address), most likely first."""
ORDERS = ("ABCD", "CDAB", "BADC", "DCBA")


@dataclass
class Candidate:
    """One (shift, word order) combination and how plausible it makes the values."""

    shift: int
    order: str | None
    """Byte order of every 32/64-bit point; None = each point's own (the profile as written)."""
    values: dict[str, Any] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    strong: int = 0
    """Satisfied relations that compare two values (sums, means, √3, S² = P² + Q², PF = P/S):
    a bound such as |PF| ≤ 1 also holds for many wrong values."""
    satisfied: int = 0
    violated: int = 0
    in_range: int = 0
    ranged: int = 0
    read: int = 0

    @property
    def key(self) -> tuple[Any, ...]:
        """Sort key, best first: comparing relations satisfied minus all violated, then all
        satisfied minus violated, then values in range, then values read; the profile as
        written wins ties."""
        return (
            self.strong - self.violated,
            self.satisfied - self.violated,
            self.in_range,
            self.read,
            self.shift == 0 and self.order is None,
        )

    def label(self) -> str:
        """``address shift −1, byte order CDAB``."""
        shift = "no address shift" if self.shift == 0 else f"address shift {_signed(self.shift)}"
        return f"{shift}, byte order {self.order or 'as in the profile'}"


def _signed(n: int) -> str:
    return f"+{n}" if n > 0 else f"−{-n}"


def _is_wide(p: Any) -> bool:
    return p.type in codec.NUMERIC and codec.NUMERIC[p.type][0] >= 2


def point_codec(p: Any, order: str | None) -> codec.PointCodec:
    """The codec of point ``p`` with word ``order`` (None: the point's own), every profile
    feature included (bytes, packed versions, sentinel values)."""
    use = order if (order is not None and _is_wide(p)) else (p.byte_order or "ABCD")
    return codec.PointCodec(
        p.type,
        use,
        scale=p.scale,
        offset=p.offset,
        bit=p.bit,
        count=p.count,
        byte=getattr(p, "byte", None),
        parts=p.length if p.type == "version" else None,
        invalid=getattr(p, "invalid_raw", None),
    )


def decode_point(p: Any, regs: Sequence[int], order: str | None) -> Any:
    """The value of point ``p`` from its registers in ``order`` (None: the point's own);
    None when the device says "invalid" (a sentinel) or the value is not finite."""
    v = point_codec(p, order).decode(list(regs))
    if isinstance(v, codec.Invalid) or (isinstance(v, float) and not math.isfinite(v)):
        return None
    return v


def _in_range(value: Any, rng: Any) -> bool | None:
    if rng is None or value is None or isinstance(value, (str, bool)):
        return None
    return bool(rng[0] <= value <= rng[1])


def score(
    points: Sequence[Any], raw: Mapping[int, Mapping[int, Sequence[int] | None]]
) -> list[Candidate]:
    """Every candidate for ``raw[shift][point index]`` (registers, or None when unread),
    best first."""
    has_wide = any(_is_wide(p) for p in points)
    out: list[Candidate] = []
    for shift, regs_by_key in raw.items():
        for order in (None, *ORDERS) if has_wide else (None,):
            c = Candidate(shift, order)
            for k, p in enumerate(points):
                regs = regs_by_key.get(k)
                if regs is None:
                    continue
                v = decode_point(p, regs, order)
                if v is None:
                    continue
                c.read += 1
                c.values[p.semantic] = v
                ok = _in_range(v, p.range)
                if ok is not None:
                    c.ranged += 1
                    c.in_range += ok
            c.checks = evaluate(c.values)
            c.satisfied = sum(ch.status == "satisfied" for ch in c.checks)
            c.strong = sum(
                ch.status == "satisfied" and _KIND.get(ch.relation) in _COMPARING for ch in c.checks
            )
            c.violated = sum(ch.status == "violated" for ch in c.checks)
            out.append(c)
    out.sort(key=lambda c: c.key, reverse=True)
    return out


def _evidence(c: Candidate, status: str, n: int = 3) -> str:
    got = [ch.evidence for ch in c.checks if ch.status == status]
    return "; ".join(got[:n]) + (f"; … ({len(got) - n} more)" if len(got) > n else "")


def _fit(c: Candidate) -> str:
    return (
        f"{c.satisfied} of {c.satisfied + c.violated} relations hold, "
        f"{c.in_range} of {c.ranged} values in range"
    )


def verdict(cands: Sequence[Candidate], addressing: str, configured_order: str) -> dict[str, Any]:
    """The probe's conclusion from :func:`score`'s candidates: what fits and what to change.

    Returns a dict with ``kind`` (``fits`` / ``fix`` / ``nothing_fits`` / ``no_data``),
    ``text`` (one paragraph for a technician), and for ``fix`` the ``shift`` and ``byte_order``.
    """
    if not cands or cands[0].read == 0:
        return {"kind": "no_data", "text": "no value was read, so nothing can be judged"}
    best = cands[0]
    asis = next(c for c in cands if c.shift == 0 and c.order is None)
    if best.strong == 0:
        # Ranges alone cannot tell a neighbour's value from the right one: without a relation
        # to back it, never recommend moving addresses — only a word order, as before.
        best = next(c for c in cands if c.shift == 0)
    # A change is recommended only when it is better on the evidence that matters — more
    # comparisons hold — and no worse on ranges. A correct profile on a device whose values
    # break some relations (unbalanced wiring, an odd CT setting) must not be told to swap
    # its word order because swapped floats turn into "0 ≈ 0" non-evidence.
    # Word order alone, when the comparisons tie: a swapped int32 of a small value is the
    # value × 65536, so sums and ratios hold either way (Σ phases ≈ total) and only the
    # ranges tell — recommended when the profile as written has most values out of range.
    asis_ranges_ok = asis.ranged == 0 or asis.in_range >= 0.8 * asis.ranged
    order_by_ranges = (
        best.shift == asis.shift
        and best.strong >= asis.strong
        and best.violated <= asis.violated
        and best.in_range > asis.in_range
        and not asis_ranges_ok
    )
    if best is not asis and not (
        (best.strong > asis.strong and best.in_range >= asis.in_range) or order_by_ranges
    ):
        best = asis
    in_range_ok = best.ranged == 0 or best.in_range >= 0.8 * best.ranged
    if best is asis or best.key[:4] == asis.key[:4]:
        if not in_range_ok and asis.satisfied < asis.violated:
            return _nothing(best)
        if asis.violated:
            return {
                "kind": "fits",
                "text": "no address shift or word order fits better than the profile as "
                f"written: {_fit(asis)}; violated: {_evidence(asis, 'violated')} — check the "
                "scale and address of these points, or the device's own configuration",
            }
        return {
            "kind": "fits",
            "text": f"the profile as written fits: {_fit(asis)}"
            + (f" ({_evidence(asis, 'satisfied', 2)})" if asis.satisfied else ""),
        }
    # Plausible: more relations hold than break, and nearly every value is in range. With 25
    # combinations tried, random words satisfy a few relations by chance — never most of them.
    if not (best.satisfied >= best.violated and in_range_ok):
        return _nothing(best)
    fixes: list[str] = []
    parts: list[str] = []
    if best.shift:
        n = abs(best.shift)
        regs = f"{n} register{'s' if n > 1 else ''}"
        if best.shift < 0:
            parts.append(f"every address is {regs} too high")
            fix = f"subtract {n} from every address"
            if best.shift == -1 and addressing == "pdu":
                fix += (
                    " (the manual counts registers from 1: keep its numbers and set "
                    "connection.addressing: one_based — or modicon for 30001/300001-style "
                    "references)"
                )
        else:
            parts.append(f"every address is {regs} too low")
            fix = f"add {n} to every address"
            if best.shift == 1 and addressing in ("one_based", "modicon"):
                fix += " (the manual's addresses are 0-based: set connection.addressing: pdu)"
        fixes.append(fix)
    else:
        parts.append("the addresses are right")
    order = best.order or configured_order
    low = (
        " (low word first)" if order == "CDAB" else " (high word first)" if order == "ABCD" else ""
    )
    if order != configured_order:
        parts.append(f"32/64-bit values are {order}{low}, not {configured_order}")
        fixes.append(f"set connection.byte_order: {order}")
    else:
        parts.append(f"32/64-bit values are {order}{low} as the profile says")
    text = (
        "; ".join(parts)
        + f". With address shift {_signed(best.shift) if best.shift else '0'} and byte order "
        + f"{order}: {_fit(best)} ({_evidence(best, 'satisfied')}). The profile as written: "
        + _fit(asis)
        + (f" ({_evidence(asis, 'violated', 2)})" if asis.violated else "")
        + ". Fix: "
        + " and ".join(fixes)
        + "."
    )
    return {
        "kind": "fix",
        "text": text,
        "shift": best.shift,
        "byte_order": order,
        "fixes": fixes,
    }


def _nothing(best: Candidate) -> dict[str, Any]:
    return {
        "kind": "nothing_fits",
        "text": (
            "no combination of address shift (−2…+2 registers, covering 0/1-based addressing) "
            "and word order (ABCD/CDAB/BADC/DCBA) makes the values plausible — best: "
            f"{best.label()}, {_fit(best)}. Check the table (holding vs input), the scale, the "
            "unit id, and that this is the right profile for the device."
        ),
    }


def implausible_points(c: Candidate) -> dict[str, list[str]]:
    """Points of ``c`` that take part in violated relations and in no satisfied one."""
    by_id = {r.id: r for r in RELATIONS}
    bad: dict[str, list[str]] = {}
    good: set[str] = set()
    for ch in c.checks:
        rel = by_id.get(ch.relation)
        if rel is None:
            continue
        if ch.status == "satisfied":
            good.update(rel.names)
        elif ch.status == "violated":
            for n in rel.names:
                bad.setdefault(n, []).append(ch.statement)
    return {n: s for n, s in bad.items() if n not in good}
