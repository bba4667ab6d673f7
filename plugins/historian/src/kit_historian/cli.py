"""``kit history query``: read the historian's Parquet files through the runtime or directly."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import polars as pl

from kit.cli.common import control_call, option_group, run, settings_from
from kit.display import DEFAULT_DIGITS
from kit.errors import KitError
from kit_historian.query import AGGS, from_json, parse_time, query, units

#: ``--asset`` and ``--points``: what to read (query and export).
_what_options = option_group(
    click.option("--asset", required=True, help="Asset path site/area/line/asset."),
    click.option("--points", required=True, help="Comma-separated point or KPI names."),
)
#: ``--dir`` and ``--url``: where to read it from (query and export).
_source_options = option_group(
    click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        help="Read this history directory directly instead of asking the running runtime.",
    ),
    click.option("--url", help="NATS URL of the runtime (default: the local one)."),
)


@click.group()
def history() -> None:
    """Look at stored history (needs a historian component)."""


@history.command("query")
@_what_options
@click.option(
    "--from",
    "start",
    required=True,
    help="Start: ISO time (UTC if no offset), 'now' or relative like -2h.",
)
@click.option(
    "--to", "end", default="now", show_default=True, help="End (exclusive), same forms as --from."
)
@click.option("--every", help="Aggregate into intervals, e.g. 1m, 15m, 1h.")
@click.option(
    "--agg",
    type=click.Choice(AGGS),
    default="mean",
    show_default=True,
    help="Aggregate of good values.",
)
@click.option("--window", help="Only KPI values of this KPI window (shift, rolling, ...).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "parquet"]),
    default="table",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file (required for parquet).",
)
@_source_options
@click.pass_context
def query_cmd(
    ctx: click.Context,
    asset: str,
    points: str,
    start: str,
    end: str,
    every: str | None,
    agg: str,
    window: str | None,
    fmt: str,
    output: Path | None,
    directory: Path | None,
    url: str | None,
) -> None:
    """Print the history of POINTS of ASSET between --from and --to."""
    names = _names(points)
    if fmt == "parquet" and output is None:
        raise KitError("--format parquet needs --output FILE")
    df, _units = fetch(ctx, asset, names, start, end, every, agg, directory, url, window)
    write(df, fmt, output)


def _names(points: str) -> list[str]:
    names = [p.strip() for p in points.split(",") if p.strip()]
    if not names:
        raise KitError("--points: give at least one point name")
    return names


def fetch(
    ctx: click.Context,
    asset: str,
    names: list[str],
    start: str,
    end: str,
    every: str | None,
    agg: str,
    directory: Path | None,
    url: str | None,
    window: str | None = None,
) -> tuple[pl.DataFrame, dict[str, str | None]]:
    """Query result and units, from ``directory`` or the runtime's ``history.query``."""
    t0, t1 = parse_time(start), parse_time(end)
    if directory is not None:
        df = query(directory, asset, names, t0, t1, every=every, agg=agg, window=window)  # type: ignore[arg-type]
        return df, units(directory, asset, names, t0, t1)
    from kit_historian import api as hist_api

    body = hist_api.QueryRequest(
        asset=asset,
        points=names,
        from_=t0.isoformat(),
        to=t1.isoformat(),
        every=every,
        agg=agg,
        window=window,
    )
    result = run(control_call(settings_from(ctx), hist_api.QUERY, body, url=url, timeout=60))
    if result.truncated:
        click.echo("warning: result truncated; narrow the time range or use --every", err=True)
    return from_json(result.model_dump()), result.units


@history.command("export")
@_what_options
@click.option("--from", "start", required=True, help="Start: ISO time, 'now' or relative (-1d).")
@click.option("--to", "end", default="now", show_default=True, help="End (exclusive).")
@click.option("--every", help="Aggregate into intervals, e.g. 1m, 15m, 1h.")
@click.option("--agg", type=click.Choice(AGGS), default="mean", show_default=True)
@click.option("--window", help="Only KPI values of this KPI window (shift, rolling, ...).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx"]),
    help="File format (default: from the file name).",
)
@click.option(
    "--tz",
    help="Time zone of the time column, e.g. Europe/London (default: this machine's).",
)
@click.option("--output", "-o", required=True, type=click.Path(dir_okay=False, path_type=Path))
@_source_options
@click.pass_context
def export_cmd(
    ctx: click.Context,
    asset: str,
    points: str,
    start: str,
    end: str,
    every: str | None,
    agg: str,
    window: str | None,
    fmt: str | None,
    tz: str | None,
    output: Path,
    directory: Path | None,
    url: str | None,
) -> None:
    """Export POINTS of ASSET to CSV or Excel: one column per point, units in the headers,
    times in the local time zone, values at their resolution."""
    from kit_historian.export import check_tz, export, local_tz_name

    fmt = fmt or output.suffix.lstrip(".").lower()
    if fmt not in ("csv", "xlsx"):
        raise KitError(f"{output}: give --format csv or xlsx (or a .csv/.xlsx file name)")
    zone = check_tz(tz or local_tz_name())
    df, unit_map = fetch(ctx, asset, _names(points), start, end, every, agg, directory, url, window)
    n = export(df, unit_map, zone, fmt, output)
    click.echo(f"{n} rows written to {output} (times in {zone})", err=True)


def write(df: pl.DataFrame, fmt: str, output: Path | None) -> None:
    """Write ``df`` as a table, CSV or Parquet to ``output`` or stdout.

    Text formats (CSV, table) drop binary float noise (averages such as 230.14999999999998):
    floats keep :data:`kit.display.DEFAULT_DIGITS` significant digits. Parquet keeps the
    stored values bit for bit.
    """
    if fmt != "parquet":
        df = df.with_columns(pl.col(pl.Float64, pl.Float32).round_sig_figs(DEFAULT_DIGITS))
    if fmt == "parquet":
        df.write_parquet(output)  # type: ignore[arg-type]
        click.echo(f"{df.height} rows written to {output}", err=True)
    elif fmt == "csv":
        if output:
            df.write_csv(output)
        else:
            sys.stdout.write(df.write_csv())
    else:
        with pl.Config(
            tbl_rows=-1 if df.height <= 1000 else 40, tbl_cols=-1, tbl_hide_dataframe_shape=False
        ):
            text = str(df)
        if output:
            output.write_text(text + "\n")
        else:
            click.echo(text)
