"""``kit pilot start|status|list``: record a measurable goal and follow it from history."""

from __future__ import annotations

import getpass
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click

from kit.cli.common import option_group, settings_from
from kit.errors import KitError
from kit_pilot.fmt import fmt, fmt_change
from kit_pilot.goal import parse_baseline, parse_goal
from kit_pilot.store import Context, Money, Pilot, PilotStore

#: ``--tariff``, ``--downtime-cost``, ``--parts-per-shift``, ``--shifts-per-year``, ``--currency``.
money_options = option_group(
    click.option("--tariff", type=click.FloatRange(min=0), help="Energy price per kWh."),
    click.option(
        "--downtime-cost",
        type=click.FloatRange(min=0),
        help="Cost of one hour of lost production.",
    ),
    click.option(
        "--parts-per-shift",
        type=click.FloatRange(min=0, min_open=True),
        help="Output of a shift.",
    ),
    click.option(
        "--shifts-per-year",
        type=click.FloatRange(min=0, min_open=True),
        help="Default: shifts per day × 250.",
    ),
    click.option("--currency", help="Currency code for the money figures (default GBP)."),
)


def money_from(base: Money, opts: dict[str, Any]) -> Money:
    """``base`` with the money options that were given."""
    names = {
        "tariff": "tariff_per_kwh",
        "downtime_cost": "downtime_cost_per_h",
        "parts_per_shift": "parts_per_shift",
        "shifts_per_year": "shifts_per_year",
        "currency": "currency",
    }
    update = {names[k]: v for k, v in opts.items() if k in names and v is not None}
    return base.model_copy(update=update)


def _split(values: tuple[str, ...]) -> list[str]:
    return [x.strip() for v in values for x in v.split(",") if x.strip()]


def _period(text: str) -> timedelta:
    m = re.fullmatch(r"(\d+)d", text.strip())
    if not m or int(m.group(1)) < 1:
        raise KitError(f"--period {text!r}: use a number of days, e.g. 28d")
    return timedelta(days=int(m.group(1)))


def _now(text: str | None) -> datetime:
    if not text:
        return datetime.now(UTC)
    dt = datetime.fromisoformat(text)
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


@click.group()
def pilot() -> None:
    """Pilots: a measurable goal, a baseline and progress from history (docs/pilots.md)."""


@pilot.command("start")
@click.argument("name")
@click.option(
    "--kpi",
    "kpis",
    multiple=True,
    required=True,
    help="Goal, e.g. oee:+5pp or kwh_per_part:-8% (repeat).",
)
@click.option(
    "--baseline", required=True, help="14d (days before now), FROM..TO, or import:FILE (CSV)."
)
@click.option(
    "--asset",
    "assets",
    multiple=True,
    required=True,
    help="Asset path whose KPIs count (repeat or comma-separate).",
)
@click.option(
    "--deployments", multiple=True, help="Recipe deployments taking part (comma-separated)."
)
@click.option("--period", default="28d", show_default=True, help="Planned length of the pilot.")
@click.option("--owner", help="Who answers for the pilot (default: your login name).")
@click.option(
    "--shifts", default="06:00,14:00,22:00", show_default=True, help="Local shift start times."
)
@click.option("--product-mix", help="Product mix to hold fixed (free text, listed in the report).")
@click.option("--window", help="KPI window to use when a KPI has several (e.g. shift).")
@click.option("--tz", help="Time zone of the shift times (default: this machine's).")
@money_options
@click.option("--now", "now_text", hidden=True, help="Pretend it is this time (tests, replays).")
@click.pass_context
def start_cmd(
    ctx: click.Context,
    /,
    name: str,
    kpis: tuple[str, ...],
    baseline: str,
    assets: tuple[str, ...],
    deployments: tuple[str, ...],
    period: str,
    owner: str | None,
    shifts: str,
    product_mix: str | None,
    window: str | None,
    tz: str | None,
    now_text: str | None,
    **money: Any,
) -> None:
    """Start pilot NAME: record its goal, baseline window and the context to hold fixed."""
    from kit_historian.export import check_tz, local_tz_name

    now = _now(now_text)
    goals = [parse_goal(k) for k in kpis]
    dup = {g.kpi for g in goals if sum(x.kpi == g.kpi for x in goals) > 1}
    if dup:
        raise KitError(f"--kpi: {', '.join(sorted(dup))} given more than once")
    base = parse_baseline(baseline, now)
    if base.source == "import":
        missing = [g.kpi for g in goals if g.kpi not in base.imported]
        if missing:
            raise KitError(f"{base.file}: no rows for {', '.join(missing)}")
    ctx_model = Context(shifts=_split((shifts,)), product_mix=product_mix)
    from kit_pilot.samples import _minutes

    for s in ctx_model.shifts:
        _minutes(s)
    p = Pilot(
        name=name,
        owner=owner or getpass.getuser(),
        deployments=_split(deployments),
        assets=_split(assets),
        goals=goals,
        window=window,
        start=now,
        end=now + _period(period),
        baseline=base,
        context=ctx_model,
        tz=check_tz(tz or local_tz_name()),
        created=now,
        money=money_from(Money(), money),
    )
    path = PilotStore(settings_from(ctx).data_dir).save(p)
    click.echo(
        f"pilot {name} started: {', '.join(g.text() for g in goals)} until "
        f"{p.end:%Y-%m-%d}; recorded in {path}"
    )


_fmt = fmt
_fmt_change = fmt_change


def site_history_dir(settings: Any) -> Path:
    """Parquet root of the site-wide historian: its configured ``directory``, else the
    default ``<data_dir>/history`` (also where the default site historian writes).

    ``settings``: the site settings from ``kit.cli.common.settings_from`` (typed loosely:
    ``kit.settings`` is not part of the API plugins may import)."""
    for spec in settings.components:
        if spec.type == "historian" and not spec.config.get("own_asset_only"):
            if spec.config.get("directory"):
                return Path(spec.config["directory"])
            break
    return Path(settings.data_dir) / "history"


@pilot.command("status")
@click.argument("name")
@click.option(
    "--history",
    "history_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Historian directory (default: <data_dir>/history, the site historian's).",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--now", "now_text", hidden=True, help="Pretend it is this time (tests, replays).")
@click.pass_context
def status_cmd(
    ctx: click.Context, name: str, history_dir: Path | None, as_json: bool, now_text: str | None
) -> None:
    """Show pilot NAME against its goal: baseline, pilot so far, change with interval, target."""
    from kit_pilot.progress import progress

    settings = settings_from(ctx)
    p = PilotStore(settings.data_dir).load(name)
    now = _now(now_text)
    res = progress(p, history_dir or site_history_dir(settings), now)
    if as_json:
        click.echo(json.dumps({"pilot": p.name, "goals": [r.as_dict() for r in res]}, default=str))
        return
    click.echo(
        f"pilot {p.name} (owner {p.owner}): {p.start:%Y-%m-%d} → {p.end:%Y-%m-%d}; "
        f"baseline {'imported from ' + str(p.baseline.file) if p.baseline.source == 'import' else f'{p.baseline.start:%Y-%m-%d %H:%M}..{p.baseline.end:%Y-%m-%d %H:%M}'}"
    )
    if p.context.product_mix:
        click.echo(
            f"  held fixed: product mix {p.context.product_mix}; shifts {', '.join(p.context.shifts)}"
        )
    for r in res:
        c = r.comparison
        ci = (
            f"[{_fmt_change(c.ci_low, r.unit)} … {_fmt_change(c.ci_high, r.unit)}]"
            if c.ci_low is not None
            else ""
        )
        click.echo(
            f"  {r.goal}: baseline {_fmt(c.baseline_mean, r.unit)} ({c.n_baseline} shifts), "
            f"pilot {_fmt(c.pilot_mean, r.unit)} ({c.n_pilot} shifts), "
            f"change {_fmt_change(c.change, r.unit)} {ci} → {c.verdict}; "
            f"target {_fmt(r.target, r.unit)}: {r.status}"
        )
        for w in c.warnings:
            click.echo(f"    warning: {w}")


@pilot.command("list")
@click.pass_context
def list_cmd(ctx: click.Context) -> None:
    """List the recorded pilots."""
    store = PilotStore(settings_from(ctx).data_dir)
    for n in store.names():
        p = store.load(n)
        click.echo(
            f"{n}: {', '.join(g.text() for g in p.goals)} ({p.start:%Y-%m-%d} → {p.end:%Y-%m-%d}, owner {p.owner})"
        )


@pilot.command("report")
@click.argument("name")
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for report.html, report.json and the SVG charts (default: pilot-NAME).",
)
@click.option(
    "--history",
    "history_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Historian directory (default: the site historian's).",
)
@click.option(
    "--product-mix", help="Product mix that ran in the pilot (compared with the baseline's)."
)
@click.option("--png", is_flag=True, help="Also report.png (needs headless Chromium).")
@click.option(
    "--json", "as_json", is_flag=True, help="Print the report as JSON instead of a summary."
)
@money_options
@click.option("--now", "now_text", hidden=True, help="Pretend it is this time (tests, replays).")
@click.pass_context
def report_cmd(
    ctx: click.Context,
    /,
    name: str,
    out_dir: Path | None,
    history_dir: Path | None,
    product_mix: str | None,
    png: bool,
    as_json: bool,
    now_text: str | None,
    **money: Any,
) -> None:
    """Report pilot NAME: baseline vs pilot with intervals, warnings, money and charts.

    Writes a self-contained report.html, report.json and SVG charts; money options given
    here override the ones recorded at start (docs/pilots.md).
    """
    from kit_pilot.html import screenshot, write_outputs
    from kit_pilot.pack import make_report

    settings = settings_from(ctx)
    p = PilotStore(settings.data_dir).load(name)
    p = p.model_copy(update={"money": money_from(p.money, money)})
    report = make_report(
        p, history_dir or site_history_dir(settings), _now(now_text), product_mix=product_mix
    )
    out = out_dir or Path(f"pilot-{name}")
    files = write_outputs(report, out)
    if png:
        # Chromium captures its window, not the page: tall enough for every goal's section.
        height = 420 + 1150 * max(1, len(report["goals"]))
        files.append(screenshot(out / "report.html", out / "report.png", height=height))
    if as_json:
        click.echo(json.dumps(report, default=str))
        return
    _print_summary(report)
    click.echo(f"wrote {', '.join(str(f) for f in files)}")


def _print_summary(report: dict[str, Any]) -> None:
    from kit_pilot.fmt import fmt_money

    cur = report["money"]["currency"]
    for g in report["goals"]:
        c, u = g["comparison"], g["unit"]
        ci = (
            f" [{fmt_change(c['ci_low'], u)} … {fmt_change(c['ci_high'], u)}]"
            if c["ci_low"] is not None
            else ""
        )
        comp = g["completeness"]
        click.echo(
            f"{g['goal']}: baseline {fmt(c['baseline_mean'], u)} ({c['n_baseline']} shifts), "
            f"pilot {fmt(c['pilot_mean'], u)} ({c['n_pilot']} shifts), change "
            f"{fmt_change(c['change'], u)}{ci} → {c['verdict']}; {g['status']}; data "
            f"{'—' if comp['baseline'] is None else format(comp['baseline'], '.0%')} / "
            f"{'—' if comp['pilot'] is None else format(comp['pilot'], '.0%')} complete"
        )
        v = g["value"]
        click.echo(
            f"  value: {fmt_money(v['per_year'], cur)} per year"
            if v["per_year"] is not None
            else f"  value: not valued ({v['reason']})"
        )
        for w in g["warnings"]:
            click.echo(f"  warning: {w}")
    for w in report["warnings"]:
        click.echo(f"warning: {w}")
    click.echo("goal met" if report["goal_met"] else "goal not (yet) met")
