"""Training: history rows → feature windows → a fitted, evaluated model document.

The last ``holdout`` share of the windows is kept out of fitting and scored afterwards: the
evaluation metrics in the model file (false alerts per week on data the model has not seen,
score quantiles) describe the stored model honestly. The training window must be healthy
operation; a model learns *normal*, it cannot know a fault it has never been told about.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import polars as pl

import kit
from kit.errors import KitError
from kit_models.artefact import FORMAT
from kit_models.detector import (
    AlertState,
    RobustMahalanobis,
    data_hash,
    quantile,
    windows_from_rows,
)

KIND = "robust_mahalanobis"
Progress = Callable[[str], None]


def rows_from_frame(df: pl.DataFrame, points: dict[str, str]) -> list[tuple[float, str, float]]:
    """``(ts, signal, value)`` of good values from a long frame ``ts, point, value[, quality]``."""
    by_point = {p: s for s, p in points.items()}
    if "quality" in df.columns:
        df = df.filter(pl.col("quality") == "good")
    df = df.filter(pl.col("point").is_in(list(by_point)) & pl.col("value").is_not_null())
    if df.schema["ts"] == pl.String:
        df = df.with_columns(pl.col("ts").str.to_datetime(time_zone="UTC"))
    df = df.sort("ts")
    ts = df["ts"].dt.epoch("us").to_list()
    return [
        (t / 1e6, by_point[p], float(v))
        for t, p, v in zip(ts, df["point"].to_list(), df["value"].to_list())
    ]


def read_csv(path: Path, points: dict[str, str]) -> list[tuple[float, str, float]]:
    """Rows from a CSV in the historian's export form (``kit history query --format csv``).

    Raises:
        KitError: unreadable file or missing columns.
    """
    try:
        df = pl.read_csv(path, try_parse_dates=False)
    except Exception as exc:
        raise KitError(f"{path}: cannot read CSV: {exc}") from None
    missing = {"ts", "point", "value"} - set(df.columns)
    if missing:
        raise KitError(f"{path}: missing column(s) {sorted(missing)}; expected ts, point, value")
    return rows_from_frame(df.with_columns(pl.col("ts").cast(pl.String)), points)


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def train(
    rows: list[tuple[float, str, float]],
    *,
    name: str,
    version: int,
    points: dict[str, str],
    asset: str | None,
    window_s: float = 60.0,
    quantile_q: float = 0.999,
    margin: float = 1.5,
    on_windows: int = 3,
    off_windows: int = 3,
    holdout: float = 0.2,
    source: str = "",
    progress: Progress = lambda _m: None,
) -> dict[str, Any]:
    """Fit and evaluate; return an unsigned model document.

    Raises:
        KitError: too little data for the features asked for.
    """
    signals = list(points)
    progress(f"building {window_s:g} s windows from {len(rows)} values of {len(signals)} signals")
    wins = windows_from_rows(rows, signals, window_s)
    n_fit = int(len(wins) * (1 - holdout))
    fit_v = [v for _t, v in wins[:n_fit]]
    progress(f"fitting on {n_fit} windows, holding out {len(wins) - n_fit} for evaluation")
    try:
        model = RobustMahalanobis.fit(signals, fit_v, quantile_q=quantile_q, margin=margin)
    except ValueError as exc:
        raise KitError(f"cannot train: {exc}") from None
    progress("evaluating on the held-out windows")
    held = [v for _t, v in wins[n_fit:]]
    scores = [model.score(v) for v in held]
    st, alerts = AlertState(on_windows, off_windows), 0
    for s in scores:
        alerts += st.update(s > model.threshold) == "raised"
    held_s = len(held) * window_s
    evaluation = {
        "holdout_windows": len(held),
        "holdout_alerts": alerts,
        "false_alerts_per_week": alerts / held_s * 7 * 86400 if held_s else None,
        "score_p50": quantile(scores, 0.5) if scores else None,
        "score_p99": quantile(scores, 0.99) if scores else None,
        "threshold": model.threshold,
    }
    start, end = (wins[0][0], wins[-1][0] + window_s) if wins else (None, None)
    manifest = {
        "name": name,
        "version": version,
        "kind": KIND,
        "parameters": {
            "window_s": window_s,
            "quantile": quantile_q,
            "margin": margin,
            "on_windows": on_windows,
            "off_windows": off_windows,
            "holdout": holdout,
        },
        "features": {
            "asset": asset,
            "signals": {
                s: {"point": p, "aggregate": "mean", "window_s": window_s}
                for s, p in points.items()
            },
        },
        "training": {
            "source": source,
            "from": _iso(start),
            "to": _iso(end),
            "windows": n_fit,
            "data_sha256": data_hash(fit_v),
        },
        "evaluation": evaluation,
        "versions": {
            "kit": kit.__version__,
            "kit_api": kit.API_VERSION,
            "kit_models": _version("kit-models"),
        },
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    progress(
        f"done: threshold {model.threshold:.3g}, {alerts} alert(s) on {len(held)} held-out windows"
    )
    return {"format": FORMAT, "manifest": manifest, "model": model.to_dict(), "signature": None}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).isoformat()
