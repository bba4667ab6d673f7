"""Plausibility relations between vocabulary quantities — physics, not only ranges.

A range check cannot tell voltage L1 from voltage L2, or a value read one register off from
the right one: both look plausible. Relations between quantities can: the phase powers must
add up to the total, line voltages are √3 × phase voltages, |PF| ≤ 1, S² = P² + Q², energy
counters only rise and by about ∫P dt, OEE factors stay within 0…1. The relations are *data*
(:data:`RELATIONS`, one row per relation, tolerances included) used alike by ``kit probe``
(to choose address shift and word order), scan fingerprinting, commissioning and live data
quality. :func:`evaluate` is pure: ``{semantic name: value}`` in, one :class:`Check` per
relation out (satisfied / violated / not applicable, with evidence text).

Tolerances allow real imbalance and meter rounding (see shared field notes): a relation that
fires on a healthy meter is worse than none.

``docs/vocabulary.md`` lists the relations (generated with the vocabulary).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal[
    "sum", "mean", "scaled_mean", "le_abs", "abs_max", "hypot", "product", "pf", "near", "within"
]
Status = Literal["satisfied", "violated", "not_applicable"]

_PH = ("l1", "l2", "l3")
#: Apparent power below which PF ≈ P/S is not judged (no load: both are noise).
MIN_LOAD_VA = 50.0
SQRT3 = math.sqrt(3.0)


@dataclass(frozen=True)
class Relation:
    """One plausibility relation: ``target`` compared with a function of ``inputs``.

    Kinds (``f`` = factor):
        sum: target ≈ Σ inputs.  mean: target ≈ mean(inputs).
        scaled_mean: target ≈ f × mean(inputs).  le_abs: |target| ≤ inputs[0] (P ≤ S).
        abs_max: |target| ≤ f.  hypot: target ≈ √(Σ inputs²) (S² ≈ P² + Q²).
        product: target ≈ Π inputs (OEE = A × E × Q).
        pf: |target| ≈ |inputs[0]| / inputs[1] (PF ≈ P/S; not applicable below
        :data:`MIN_LOAD_VA`, where P/S is noise).
        near: target within ``abs_tol`` of one of ``options`` (frequency near 50/60 Hz).
        within: options[0] ≤ target ≤ options[1].
    A comparison holds when |a − b| ≤ max(abs_tol, rel_tol × max(|a|, |b|)).
    """

    id: str
    kind: Kind
    target: str
    inputs: tuple[str, ...] = ()
    statement: str = ""
    """Human statement shown in reports, e.g. "Σ phase active powers ≈ total"."""
    rel_tol: float = 0.0
    abs_tol: float = 0.0
    factor: float = 1.0
    options: tuple[float, ...] = ()
    group: str = "electrical"

    @property
    def names(self) -> tuple[str, ...]:
        """Every quantity the relation needs."""
        return (self.target, *self.inputs)


@dataclass(frozen=True)
class Check:
    """The outcome of one relation on one set of values."""

    relation: str
    statement: str
    status: Status
    evidence: str
    error: float | None = None
    """Relative deviation (0.004 = 0.4 %) where the relation compares two values."""


def _electrical() -> list[Relation]:
    r: list[Relation] = []
    for q, unit, tol, sym in (
        ("active", "w", 0.02, "P"),
        ("reactive", "var", 0.03, "Q"),
        # Meters compute total S arithmetically or as a vector sum; with unequal phase power
        # factors these differ by a few per cent.
        ("apparent", "va", 0.05, "S"),
    ):
        r.append(
            Relation(
                f"sum_{q}_power",
                "sum",
                f"power_{q}_total_{unit}",
                tuple(f"power_{q}_{p}_{unit}" for p in _PH),
                f"Σ phase {sym} ≈ total {sym}",
                rel_tol=tol,
                abs_tol=5.0,
            )
        )
    r += [
        Relation(
            "sum_current",
            "sum",
            "current_sum_a",
            tuple(f"current_{p}_a" for p in _PH),
            "Σ phase currents ≈ current sum",
            rel_tol=0.02,
            abs_tol=0.05,
        ),
        Relation(
            "mean_current",
            "mean",
            "current_avg_a",
            tuple(f"current_{p}_a" for p in _PH),
            "I_avg ≈ mean of phase currents",
            rel_tol=0.02,
            abs_tol=0.05,
        ),
        Relation(
            "mean_voltage_ln",
            "mean",
            "voltage_ln_avg_v",
            tuple(f"voltage_{p}_n_v" for p in _PH),
            "V_LN avg ≈ mean of phase voltages",
            rel_tol=0.01,
            abs_tol=0.5,
        ),
        Relation(
            "mean_voltage_ll",
            "mean",
            "voltage_ll_avg_v",
            ("voltage_l1_l2_v", "voltage_l2_l3_v", "voltage_l3_l1_v"),
            "V_LL avg ≈ mean of line voltages",
            rel_tol=0.01,
            abs_tol=0.5,
        ),
        Relation(
            "sqrt3_avg",
            "scaled_mean",
            "voltage_ll_avg_v",
            ("voltage_ln_avg_v",),
            "V_LL ≈ √3 · V_LN (averages)",
            rel_tol=0.05,
            abs_tol=1.0,
            factor=SQRT3,
        ),
    ]
    for a, b in (("l1", "l2"), ("l2", "l3"), ("l3", "l1")):
        r.append(
            Relation(
                f"sqrt3_{a}_{b}",
                "scaled_mean",
                f"voltage_{a}_{b}_v",
                (f"voltage_{a}_n_v", f"voltage_{b}_n_v"),
                f"V_{a.upper()}{b.upper()} ≈ √3 · mean(V_{a.upper()}N, V_{b.upper()}N)",
                rel_tol=0.05,
                abs_tol=1.0,
                factor=SQRT3,
            )
        )
    for p in (*_PH, "total"):
        tag = p.upper() if p != "total" else "total"
        r.append(
            Relation(
                f"pf_bound_{p}",
                "abs_max",
                f"power_factor_{p}",
                (),
                f"|PF {tag}| ≤ 1",
                abs_tol=0.001,
                factor=1.0,
            )
        )
        r.append(
            Relation(
                f"p_le_s_{p}",
                "le_abs",
                f"power_active_{p}_w",
                (f"power_apparent_{p}_va",),
                f"|P {tag}| ≤ S {tag}",
                rel_tol=0.02,
                abs_tol=5.0,
            )
        )
        r.append(
            Relation(
                f"s2_p2_q2_{p}",
                "hypot",
                f"power_apparent_{p}_va",
                (f"power_active_{p}_w", f"power_reactive_{p}_var"),
                f"S² ≈ P² + Q² ({tag})",
                rel_tol=0.05 if p == "total" else 0.02,
                abs_tol=5.0,
            )
        )
        r.append(
            Relation(
                f"pf_ratio_{p}",
                "pf",
                f"power_factor_{p}",
                (f"power_active_{p}_w", f"power_apparent_{p}_va"),
                f"|PF {tag}| ≈ |P| / S",
                abs_tol=0.03,
            )
        )
    r.append(
        Relation(
            "frequency_nominal",
            "near",
            "frequency_hz",
            (),
            "frequency near 50 or 60 Hz",
            abs_tol=3.0,
            options=(50.0, 60.0),
        )
    )
    return r


def _energy() -> list[Relation]:
    return [
        Relation(
            f"sum_energy_{d}",
            "sum",
            f"energy_active_{d}_total_kwh",
            tuple(f"energy_active_{d}_{p}_kwh" for p in _PH),
            f"Σ phase {d} energies ≈ total",
            rel_tol=0.01,
            abs_tol=0.5,
            group="energy",
        )
        for d in ("import", "export")
    ]


def _oee() -> list[Relation]:
    r = [
        Relation(
            f"{k}_fraction",
            "within",
            k,
            (),
            f"{k} within 0…100 %",
            abs_tol=1e-9,
            options=(0.0, 1.0),
            group="oee",
        )
        for k in ("oee", "availability", "effectiveness", "quality")
    ]
    r += [
        Relation(
            "oee_product",
            "product",
            "oee",
            ("availability", "effectiveness", "quality"),
            "OEE ≈ availability × effectiveness × quality",
            abs_tol=0.005,
            group="oee",
        ),
        Relation(
            "parts_add_up",
            "sum",
            "produced",
            ("good", "reject"),
            "good + reject parts = produced",
            abs_tol=0.5,
            group="oee",
        ),
        Relation(
            "counts_add_up",
            "sum",
            "count_total",
            ("count_good", "count_reject"),
            "count_good + count_reject ≈ count_total",
            abs_tol=1.0,
            group="oee",
        ),
    ]
    return r


#: Every relation, in report order.
RELATIONS: tuple[Relation, ...] = (*_electrical(), *_energy(), *_oee())

#: Energy counters integrated against power: (counter in kWh, power in W, sign of power).
INTEGRALS: tuple[tuple[str, str, int], ...] = (
    ("energy_active_import_total_kwh", "power_active_total_w", 1),
    ("energy_active_export_total_kwh", "power_active_total_w", -1),
)


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _pct(x: float) -> str:
    if x < 1e-4:
        return "0.01 %"
    return f"{x * 100:.2g} %" if x < 0.1 else f"{x * 100:.1f} %"


def _g(x: float) -> str:
    # 10 significant digits: meter values in full (123456.7 kWh), without binary float noise.
    return f"{x:.10g}"


def _close(rel: Relation, a: float, b: float, what: str) -> Check:
    diff = abs(a - b)
    scale = max(abs(a), abs(b))
    if rel.abs_tol and scale <= rel.abs_tol:
        # Both sides within rounding of zero (no load, or values that are not what they seem):
        # "0 ≈ 0" is no evidence either way.
        return Check(rel.id, rel.statement, "not_applicable", f"{what}: both ≈ 0, nothing to judge")
    err = diff / scale if scale > 0 else 0.0
    ok = diff <= max(rel.abs_tol, rel.rel_tol * scale)
    tol = _pct(rel.rel_tol) if rel.rel_tol else f"{_g(rel.abs_tol)}"
    if ok:
        return Check(rel.id, rel.statement, "satisfied", f"{what} within {_pct(err)}", err)
    return Check(
        rel.id,
        rel.statement,
        "violated",
        f"{what}: {_g(b)} vs {_g(a)} ({_pct(err)} off, tolerance {tol})",
        err,
    )


def _one(rel: Relation, values: Mapping[str, Any]) -> Check:
    vals = [_num(values.get(n)) for n in rel.names]
    if any(v is None for v in vals):
        missing = [n for n, v in zip(rel.names, vals) if v is None]
        return Check(rel.id, rel.statement, "not_applicable", "no value for " + ", ".join(missing))
    t, ins = vals[0], vals[1:]
    assert t is not None
    xs = [v for v in ins if v is not None]
    k = rel.kind
    if k == "sum":
        return _close(rel, t, sum(xs), rel.statement)
    if k == "mean":
        return _close(rel, t, sum(xs) / len(xs), rel.statement)
    if k == "scaled_mean":
        return _close(rel, t, rel.factor * sum(xs) / len(xs), rel.statement)
    if k == "hypot":
        return _close(rel, t, math.sqrt(sum(x * x for x in xs)), rel.statement)
    if k == "product":
        return _close(rel, t, math.prod(xs), rel.statement)
    if k == "pf":
        p, s = xs
        if s < MIN_LOAD_VA:
            return Check(rel.id, rel.statement, "not_applicable", f"S = {_g(s)} too small to judge")
        ratio = abs(p) / s
        diff = abs(abs(t) - ratio)
        if diff <= rel.abs_tol:
            return Check(
                rel.id, rel.statement, "satisfied", f"|PF| {_g(abs(t))} ≈ |P|/S {ratio:.3f}"
            )
        return Check(
            rel.id,
            rel.statement,
            "violated",
            f"|PF| {_g(abs(t))} vs |P|/S {ratio:.3f} (tolerance {_g(rel.abs_tol)})",
        )
    if k == "le_abs":
        s = xs[0]
        ok = abs(t) <= s + max(rel.abs_tol, rel.rel_tol * abs(s))
        return Check(
            rel.id,
            rel.statement,
            "satisfied" if ok else "violated",
            f"|{_g(t)}| {'≤' if ok else '>'} {_g(s)}",
        )
    if k == "abs_max":
        ok = abs(t) <= rel.factor + rel.abs_tol
        return Check(rel.id, rel.statement, "satisfied" if ok else "violated", f"{_g(t)}")
    if k == "near":
        best = min(rel.options, key=lambda o: abs(t - o))
        ok = abs(t - best) <= rel.abs_tol
        return Check(
            rel.id,
            rel.statement,
            "satisfied" if ok else "violated",
            f"{_g(t)} Hz {'within' if ok else 'more than'} {_g(rel.abs_tol)} Hz of {_g(best)} Hz",
        )
    if k == "within":
        lo, hi = rel.options
        ok = lo - rel.abs_tol <= t <= hi + rel.abs_tol
        return Check(
            rel.id,
            rel.statement,
            "satisfied" if ok else "violated",
            f"{_g(t)} {'within' if ok else 'outside'} {_g(lo)}…{_g(hi)}",
        )
    raise ValueError(f"relation {rel.id}: unknown kind {k!r}")


def _counters(
    values: Mapping[str, Any], previous: Mapping[str, Any], elapsed_s: float | None
) -> list[Check]:
    from kit.vocabulary import lookup

    out: list[Check] = []
    for name in sorted(set(values) & set(previous)):
        res = lookup(name)
        if res is None or res.kind != "counter":
            continue
        now, before = _num(values[name]), _num(previous[name])
        if now is None or before is None:
            continue
        ok = now >= before
        out.append(
            Check(
                f"counter_rises:{name}",
                f"{name} never decreases",
                "satisfied" if ok else "violated",
                f"{_g(before)} → {_g(now)}"
                + ("" if ok else " (decreased: reset, rollover or a wrong register?)"),
            )
        )
    if elapsed_s is None or elapsed_s <= 0:
        return out
    for counter, power, sign in INTEGRALS:
        e0, e1 = _num(previous.get(counter)), _num(values.get(counter))
        p0, p1 = _num(previous.get(power)), _num(values.get(power))
        if None in (e0, e1, p0, p1):
            continue
        assert e0 is not None and e1 is not None and p0 is not None and p1 is not None
        # Trapezoid of the two power readings; only the direction the counter counts.
        expected = max(0.0, sign * (p0 + p1) / 2) * elapsed_s / 3.6e6
        got = e1 - e0
        stmt = f"Δ{counter} ≈ ∫P dt"
        if expected < 0.5:  # below ~5 counter steps of 0.1 kWh nothing can be judged
            out.append(
                Check(
                    f"integral:{counter}",
                    stmt,
                    "not_applicable",
                    f"∫P dt = {expected:.3g} kWh is too small to judge",
                )
            )
            continue
        tol = max(0.2, 0.25 * expected)
        err = abs(got - expected) / expected
        out.append(
            Check(
                f"integral:{counter}",
                stmt,
                "satisfied" if abs(got - expected) <= tol else "violated",
                f"counter rose {_g(got)} kWh, ∫P dt = {_g(expected)} kWh ({_pct(err)} apart)",
                err,
            )
        )
    return out


def evaluate(
    values: Mapping[str, Any],
    *,
    previous: Mapping[str, Any] | None = None,
    elapsed_s: float | None = None,
    relations: Iterable[Relation] = RELATIONS,
) -> list[Check]:
    """Check ``values`` ({semantic name: value}; None/NaN = unknown) against the relations.

    With ``previous`` (an earlier snapshot) counters are checked for never decreasing, and with
    ``elapsed_s`` as well energy counters against ∫P dt (trapezoid of the two power readings).
    Returns one :class:`Check` per relation, in :data:`RELATIONS` order (counter checks last).
    """
    out = [_one(r, values) for r in relations]
    if previous is not None:
        out += _counters(values, previous, elapsed_s)
    return out


def score(checks: Iterable[Check]) -> tuple[int, int]:
    """(satisfied, violated) counts of ``checks``."""
    sat = vio = 0
    for c in checks:
        if c.status == "satisfied":
            sat += 1
        elif c.status == "violated":
            vio += 1
    return sat, vio


def render_markdown_rows() -> list[str]:
    """The relations as a Markdown table (for ``docs/vocabulary.md``)."""
    rows = ["| relation | checks | tolerance |", "|---|---|---|"]
    for r in RELATIONS:
        tol = []
        if r.rel_tol:
            tol.append(f"{r.rel_tol * 100:g} %")
        if r.abs_tol and r.kind not in ("within",):
            tol.append(f"±{r.abs_tol:g}" if r.kind != "abs_max" else f"+{r.abs_tol:g}")
        names = ", ".join(f"`{n}`" for n in r.names)
        stmt = r.statement.replace("|", "\\|")  # |PF| inside a Markdown table cell
        rows.append(f"| {stmt} | {names} | {' or '.join(tol) or '–'} |")
    return rows


class Monitor:
    """Continuous data quality for one asset: relations evaluated on live values, rate-limited.

    Call :meth:`observe` as often as data arrives; it evaluates at most once per
    ``interval_s`` (the relations are cheap, but a 10,000-point asset polled at 10 Hz should
    not pay for them on every cycle). Violations are counted per relation; :meth:`summary`
    is what health messages and ``kit status`` show. Counters are checked against the
    previous evaluation (never decreasing, and ≈ ∫P dt).
    """

    def __init__(self, interval_s: float = 10.0, relations: Iterable[Relation] = RELATIONS) -> None:
        self.interval_s = interval_s
        self.relations = tuple(relations)
        self.evaluations = 0
        self.violations: dict[str, int] = {}
        """Relation statement → evaluations in which it was violated."""
        self.last_evidence: dict[str, str] = {}
        self.violated_now: set[str] = set()
        """Statements violated at the last evaluation (to report changes once)."""
        self._next = 0.0
        self._previous: dict[str, Any] | None = None
        self._previous_t: float | None = None

    def due(self, now: float) -> bool:
        """True when an evaluation is due at monotonic time ``now``."""
        return self.interval_s > 0 and now >= self._next

    def observe(self, values: Mapping[str, Any], now: float) -> tuple[set[str], set[str]] | None:
        """Evaluate ``values`` if due. Returns (newly violated, no longer violated) statements,
        or None when nothing was evaluated."""
        if not self.due(now):
            return None
        self._next = now + self.interval_s
        elapsed = None if self._previous_t is None else now - self._previous_t
        checks = evaluate(
            values, previous=self._previous, elapsed_s=elapsed, relations=self.relations
        )
        self._previous, self._previous_t = dict(values), now
        self.evaluations += 1
        bad: set[str] = set()
        for c in checks:
            if c.status == "violated":
                bad.add(c.statement)
                self.violations[c.statement] = self.violations.get(c.statement, 0) + 1
                self.last_evidence[c.statement] = c.evidence
        new, gone = bad - self.violated_now, self.violated_now - bad
        self.violated_now = bad
        return new, gone

    def summary(self) -> dict[str, Any]:
        """``{"evaluations", "violations" (total), "violated_now", "by_relation", "last"}``."""
        return {
            "evaluations": self.evaluations,
            "violations": sum(self.violations.values()),
            "violated_now": sorted(self.violated_now),
            "by_relation": dict(self.violations),
            "last": {k: self.last_evidence[k] for k in sorted(self.violated_now)},
        }
