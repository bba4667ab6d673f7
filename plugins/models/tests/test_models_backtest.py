"""``kit model backtest`` against figures computed here, independently, from the injected onset."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime

import polars as pl
import pytest
from click.testing import CliRunner
from kit_models import artefact
from kit_models.train import train

from kit.cli import cli as kit_cli

T0 = 1_790_000_000.0
DAY = 86400.0
WEEK = 7 * DAY
ZONE_C, DOWN = 2.8, 2.8 * 0.95  # ISO class II B/C boundary; the zones' 5 % hysteresis down


def _model_alerts(doc, rows) -> list[float]:
    """Window means → Mahalanobis per feature → 3 high windows in a row raise, 3 low clear."""
    m, p = doc["model"], doc["manifest"]["parameters"]
    sig, w = m["signals"], p["window_s"]
    sums: dict[int, dict[str, list[float]]] = {}
    for t, s, v in rows:
        sums.setdefault(int(t // w), {}).setdefault(s, []).append(v)
    out, active, run = [], False, 0
    for idx in sorted(sums)[:-1]:  # the last window never closes
        if set(sums[idx]) != set(sig):
            continue
        z = [
            (sum(sums[idx][s]) / len(sums[idx][s]) - c) / sc
            for s, c, sc in zip(sig, m["center"], m["scale"])
        ]
        d2 = sum(z[i] * m["inv_cov"][i][j] * z[j] for i in range(len(z)) for j in range(len(z)))
        high = math.sqrt(d2 / len(z)) > m["threshold"]
        run = run + 1 if high != active else 0
        if run >= (p["on_windows"] if high else p["off_windows"]):
            active, run = high, 0
            if active:
                out.append((idx + 1) * w)
    return out


def _rule_alerts(rows) -> list[float]:
    out, inside = [], False
    for t, s, v in rows:
        if s == "vib":
            if not inside and v >= ZONE_C:
                out.append(t)
                inside = True
            elif inside and v < DOWN:
                inside = False
    return out


def _figures(raised, start, end, onset):
    false = [t for t in raised if t < onset]
    hits = [t for t in raised if t >= onset]
    return {
        "false_alerts": len(false),
        "false_alerts_per_week": len(false) / ((onset - start) / WEEK),
        "detections": len(hits),
        "precision_pct": 100 * len(hits) / len(raised),
        "delay_h": (hits[0] - onset) / 3600,
        "lead_time_h": (end - hits[0]) / 3600,
    }


def test_backtest_reports_model_and_rule_figures_from_a_known_onset(bearing, tmp_path) -> None:
    data = tmp_path / "data"
    healthy = bearing.simulate(T0, DAY, seed=1, step_s=20)
    artefact.store(data, train(healthy, name="pump1", version=1, points=bearing.POINTS, asset="a"))
    # Two healthy days, then a bearing defect from a known onset (fake timestamps throughout).
    start, onset = T0 + DAY, T0 + DAY + 2.5 * DAY
    rows = bearing.simulate(start, 3 * DAY, seed=3, step_s=20, onset=onset)
    csv = tmp_path / "history.csv"
    pl.DataFrame(
        {
            "ts": [r[0] for r in rows],
            "point": [bearing.POINTS[r[1]] for r in rows],
            "value": [r[2] for r in rows],
        }
    ).with_columns(pl.from_epoch("ts", time_unit="s").dt.replace_time_zone("UTC")).write_csv(csv)
    site = tmp_path / "site.yaml"
    site.write_text(f"site: t\ndata_dir: {data}\n")
    onset_iso = datetime.fromtimestamp(onset, UTC).isoformat()
    base = ["--config", str(site), "model", "backtest", "pump1", "1", "--csv", str(csv)]
    out = CliRunner().invoke(kit_cli, [*base, "--onset", onset_iso, "--json"])
    assert out.exit_code == 0, out.output
    res = json.loads(out.stdout)

    doc = artefact.read_doc(artefact.model_path(data, "pump1", 1))
    end = rows[-1][0]
    want_model = _figures(_model_alerts(doc, rows), start, end, onset)
    want_rule = _figures(_rule_alerts(rows), start, end, onset)
    for got, want in ((res["model_figures"], want_model), (res["rule_figures"], want_rule)):
        for k, v in want.items():
            assert got[k] == pytest.approx(v), k
    # The evidence that decides promotion: the model is the better judge on this machine.
    assert want_model["false_alerts_per_week"] < want_rule["false_alerts_per_week"]
    assert want_model["precision_pct"] > want_rule["precision_pct"]
    assert 0 <= want_model["delay_h"] < 8

    table = CliRunner().invoke(kit_cli, [*base, "--onset", onset_iso])
    assert table.exit_code == 0, table.output
    line = next(x for x in table.stdout.splitlines() if x.startswith("precision"))
    assert line.split()[-2:] == [
        f"{want_model['precision_pct']:.0f}",
        f"{want_rule['precision_pct']:.0f}",
    ]
