"""``kit model backtest``: a stored model version vs the ISO zone rule on replayed history.

History comes from the historian (``--asset --from --to``), a CSV export (``--csv``) or the
built-in simulated motor with a developing bearing fault (``--simulate``, kit_models.simulator:
synthetic timestamps, nothing waits). No runtime is needed.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from kit.cli.common import settings_from
from kit.errors import KitError
from kit_models import artefact, backtest, simulator
from kit_models.cli import model

DAY = 86400.0


def _time(text: str | None, what: str) -> float | None:
    if text is None:
        return None
    from kit_historian.query import parse_time

    try:
        return parse_time(text).timestamp()
    except (ValueError, KitError) as exc:
        raise KitError(f"{what} {text!r}: {exc}") from None


def history_rows(
    data_dir: Path,
    points: dict[str, str],
    *,
    csv_file: Path | None,
    asset: str | None,
    start: str | None,
    end: str,
    history_dir: Path | None,
) -> tuple[list[tuple[float, str, float]], str]:
    """``(ts, signal, value)`` rows of ``points`` from a CSV or the historian, and a source label."""
    from kit_models import train

    if csv_file is not None:
        return train.read_csv(csv_file, points), f"csv:{csv_file.name}"
    if asset is None or start is None:
        raise KitError("give --asset and --from (historian), --csv FILE or --simulate")
    from kit_historian.query import parse_time, query

    root = history_dir or data_dir / "history"
    df = query(
        root, asset, list(points.values()), parse_time(start), parse_time(end), kinds=("data",)
    )
    return train.rows_from_frame(df, points), f"historian:{asset}"


@model.command("backtest")
@click.argument("name")
@click.argument("version", type=int)
@click.option(
    "--csv",
    "csv_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="Replay a CSV (ts,point,value[,quality]).",
)
@click.option("--asset", help="Replay the historian's history of this asset.")
@click.option("--from", "start", help="History start (ISO, -7d).")
@click.option("--to", "end", default="now", show_default=True, help="History end.")
@click.option(
    "--history-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Historian Parquet root (default <data_dir>/history).",
)
@click.option(
    "--simulate",
    "sim_days",
    type=float,
    help="Replay DAYS of the built-in simulated motor instead (fault onset: --onset-h).",
)
@click.option(
    "--onset-h",
    type=float,
    help="With --simulate: bearing fault onset, hours after the start (default: 22 h before the end).",
)
@click.option(
    "--seed", type=int, default=7, show_default=True, help="With --simulate: random seed."
)
@click.option(
    "--onset", help="Known fault onset in the history (ISO 8601): alerts before it are false."
)
@click.option("--fault-at", help="When the fault was confirmed (default: the end of the history).")
@click.option(
    "--rule-signal",
    help="Signal the ISO zone rule watches (default: the model's vibration signal).",
)
@click.option(
    "--machine-class",
    type=click.Choice(["I", "II", "III", "IV"]),
    default="II",
    show_default=True,
    help="ISO 20816 machine class of the rule.",
)
@click.option(
    "--zones",
    help="Custom zone boundaries A/B,B/C,C/D in mm/s (e.g. 1.4,2.8,4.5) instead of the class.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def backtest_cmd(
    ctx: click.Context,
    name: str,
    version: int,
    csv_file: Path | None,
    asset: str | None,
    start: str | None,
    end: str,
    history_dir: Path | None,
    sim_days: float | None,
    onset_h: float | None,
    seed: int,
    onset: str | None,
    fault_at: str | None,
    rule_signal: str | None,
    machine_class: str,
    zones: str | None,
    as_json: bool,
) -> None:
    """Replay history through NAME VERSION and the ISO zone rule: lead time, false alerts, precision."""
    s = settings_from(ctx)
    doc = artefact.read_doc(artefact.model_path(s.data_dir, name, version))
    signals: dict[str, Any] = doc["manifest"]["features"]["signals"]
    points = {sig: f["point"] for sig, f in signals.items()}
    if rule_signal is None:
        vib = [sig for sig, p in points.items() if "vibration" in p or sig.startswith("vib")]
        if not vib:
            raise KitError(f"no vibration signal among {sorted(points)}; give --rule-signal")
        rule_signal = vib[0]
    elif rule_signal not in points:
        raise KitError(
            f"--rule-signal {rule_signal!r} is not one of the model's signals {sorted(points)}"
        )
    from kit_condition.plugin import VibrationZones

    try:
        vz = (
            VibrationZones(custom=tuple(float(x) for x in zones.split(",")))
            if zones
            else VibrationZones(machine_class=machine_class)
        )
    except ValueError as exc:
        raise KitError(f"--zones {zones!r}: {exc}") from None
    t_onset, t_fault = _time(onset, "--onset"), _time(fault_at, "--fault-at")
    if sim_days is not None:
        if set(points) != set(simulator.POINTS):
            raise KitError(
                f"--simulate makes signals {sorted(simulator.POINTS)}; the model has {sorted(points)}"
            )
        to = doc["manifest"]["training"].get("to")
        t0 = datetime.fromisoformat(to).timestamp() if to else 1_790_000_000.0
        if t_onset is None:
            t_onset = t0 + (onset_h * 3600 if onset_h is not None else sim_days * DAY - 22 * 3600)
        rows = simulator.simulate(t0, sim_days * DAY, seed=seed, onset=t_onset)
        source = f"simulated motor, seed {seed}"
    else:
        rows, source = history_rows(
            s.data_dir,
            points,
            csv_file=csv_file,
            asset=asset,
            start=start,
            end=end,
            history_dir=history_dir,
        )
    try:
        res = backtest.run(
            doc,
            rows,
            rule_signal=rule_signal,
            bounds=vz.bounds,
            onset=t_onset,
            fault_at=t_fault,
            source=source,
        )
    except ValueError as exc:
        raise KitError(f"backtest: {exc}") from None
    click.echo(json.dumps(res, indent=2) if as_json else backtest.table(res))
