"""``kit evidence verify``: check a pilot evidence pack at any site.

1. **Integrity**: every file matches the signed manifest (nothing changed, added, removed).
2. **Signature**: by a key this site trusts (``kit keys trust``).
3. **Reproduction**: the per-shift samples, comparisons, intervals, statuses and money are
   recomputed from the included KPI rows and pilot record with the same code and seed, and
   must equal what the report states — evidence is reproducible, not a screenshot.

Each check is reported; the pack passes only if all pass.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from kit.evidence import EvidenceError, Pack, check_signature, read_pack
from kit_pilot.progress import evaluate
from kit_pilot.report import build_report, stated, summary
from kit_pilot.samples import ROW_COLUMNS, WindowSamples, empty_rows, samples_from_rows
from kit_pilot.store import Pilot

_SCHEMA = empty_rows().schema


@dataclass
class Verification:
    """Outcome of :func:`verify_pack`: each check with its detail."""

    checks: list[tuple[str, bool, str]] = field(default_factory=list)
    recomputed: dict[str, Any] | None = None
    """The recomputed report's summary (what a second site gets from the series)."""

    @property
    def ok(self) -> bool:
        """True when every check passed."""
        return bool(self.checks) and all(ok for _, ok, _ in self.checks)


def _rows(pack: Pack, kpi: str, window: str) -> pl.DataFrame:
    name = f"kpi/{kpi}-{window}.csv"
    if name not in pack.files:
        return empty_rows()
    try:
        return (
            pl.read_csv(
                io.BytesIO(pack.files[name]), schema_overrides={**dict(_SCHEMA), "ts": pl.String}
            )
            .with_columns(pl.col("ts").str.to_datetime(time_zone="UTC", time_unit="us"))
            .select(*ROW_COLUMNS)
        )
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise EvidenceError(f"{name}: unreadable KPI rows ({exc})") from None


def recompute(pack: Pack) -> dict[str, Any]:
    """The report rebuilt from the pack's pilot record and KPI rows."""
    pilot = Pilot.model_validate(pack.json("pilot.json"))
    report = pack.json("report.json")
    now = datetime.fromisoformat(report["generated"])
    m = report["method"]
    kw: dict[str, Any] = dict(shifts=pilot.context.shifts, tz=pilot.tz, window=pilot.window)
    n = len(pilot.assets)
    results = []
    for g, said in zip(pilot.goals, report["goals"]):
        base: WindowSamples | None = None
        if pilot.baseline.source == "import":
            base_vals = [v for _, v in sorted(pilot.baseline.imported.get(g.kpi, []))]
        else:
            assert pilot.baseline.start and pilot.baseline.end
            base = samples_from_rows(
                _rows(pack, g.kpi, "baseline"),
                pilot.baseline.start,
                pilot.baseline.end,
                n_assets=n,
                **kw,
            )
            base_vals = base.values
        end = min(now, pilot.end)
        p = (
            samples_from_rows(_rows(pack, g.kpi, "pilot"), pilot.start, end, n_assets=n, **kw)
            if end > pilot.start
            else None
        )
        if p is not None:
            # Values stamped after the report time are not in the pack; their count is stated.
            p = replace(p, future=int(said.get("clock", {}).get("future", 0)))
        results.append(
            evaluate(
                pilot,
                g,
                base_vals,
                base,
                p,
                resamples=m["resamples"],
                seed=m["seed"],
                confidence=m["confidence"],
            )
        )
    return build_report(pilot, results, now, product_mix=report.get("product_mix_pilot"))


def _close(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two JSON-like values differ (floats to a relative 1e-9)."""
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, int | float) and isinstance(b, int | float):
            return (
                []
                if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
                else [f"{path}: {b} stated, {a} recomputed"]
            )
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d for k in sorted(set(a) | set(b)) for d in _close(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        if len(a) != len(b):
            return [f"{path}: {len(b)} items stated, {len(a)} recomputed"]
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _close(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {b!r} stated, {a!r} recomputed"]


def verify_pack(data: bytes, data_dir: Path, name: str = "pack") -> Verification:
    """Run every check on pack bytes ``data`` with the trust store of ``data_dir``."""
    v = Verification()
    try:
        pack = read_pack(data, name)
    except EvidenceError as exc:
        v.checks.append(("integrity", False, "; ".join([str(exc), *exc.problems])))
        return v
    v.checks.append(("integrity", True, f"{len(pack.files)} files match the manifest"))
    try:
        v.checks.append(("signature", True, check_signature(pack, data_dir)))
    except EvidenceError as exc:
        v.checks.append(("signature", False, str(exc)))
    try:
        report = pack.json("report.json")
        again = recompute(pack)
    except (EvidenceError, KeyError, ValueError) as exc:
        v.checks.append(("statistics", False, f"cannot recompute: {exc}"))
        return v
    diffs = _close(stated(again), stated(report), "report")
    diffs += _close(stated(report), pack.json("results.json"), "results.json")
    said = pack.manifest.get("summary", {})
    if not pack.manifest.get("redaction", {}).get("redacted"):
        diffs += _close(summary(again), said, "manifest.summary")
    else:  # names are pseudonyms in the manifest; the figures must still agree
        diffs += _close(summary(again)["goals"], said.get("goals"), "manifest.summary.goals")
    v.recomputed = summary(again)
    v.checks.append(
        (
            "statistics",
            not diffs,
            "recomputed from the included KPI rows: all stated figures match"
            if not diffs
            else f"{len(diffs)} stated figure(s) differ: " + "; ".join(diffs[:5]),
        )
    )
    return v
