"""``kit scan questions / opportunities / readiness / report``: from the saved inventory and
the site's answers to what to start with, what it may be worth and how ready the site is.

Thin commands: the logic lives in :mod:`kit.scan.questionnaire`,
:mod:`kit.scan.opportunities`, :mod:`kit.scan.readiness` and :mod:`kit.scan.report`. They
read ``<data dir>/inventory.json`` (``kit scan TARGETS`` writes it) and
``<data dir>/scan-answers.yaml`` (``kit scan questions`` writes it); nothing touches the
network.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click


def _site(ctx: click.Context) -> tuple[Any, Any, Any]:
    """(inventory, library, answers) of this invocation's site."""
    from kit.cli.common import library_from, settings_from
    from kit.scan.inventory import inventory_path, load_inventory
    from kit.scan.questionnaire import answers_path, load_answers

    data_dir = settings_from(ctx).data_dir
    inv = load_inventory(inventory_path(data_dir))
    return inv, library_from(ctx), load_answers(answers_path(data_dir))


@click.command("questions")
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="YAML answers file (same layout as <data dir>/scan-answers.yaml), merged in.",
)
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="One answer, e.g. energy_tariff=0.25 or target_set=yes (repeatable; KEY= clears).",
)
@click.option(
    "--ask/--no-ask",
    default=None,
    help="Ask every question (default: on a terminal, when no --answers/--set is given).",
)
@click.pass_context
def questions(
    ctx: click.Context, answers_file: Path | None, sets: tuple[str, ...], ask: bool | None
) -> None:
    """Answer the site questionnaire: business figures and readiness (yes/partly/no).

    Unanswered figures keep their defaults, which every report marks as assumptions.
    Saved as <data dir>/scan-answers.yaml.
    """
    from kit.cli.common import settings_from
    from kit.scan import questionnaire as q

    path = q.answers_path(settings_from(ctx).data_dir)
    answers = q.load_answers(path)
    if answers_file is not None:
        given = q.load_answers(answers_file, missing_ok=False)
        merged = answers.model_dump(mode="json", exclude_none=True)
        for section, values in given.model_dump(mode="json", exclude_none=True).items():
            if isinstance(values, dict):
                merged.setdefault(section, {}).update(values)
        answers = q.Answers.model_validate(merged)
    answers = q.apply_sets(answers, sets)
    if ask is None:
        ask = sys.stdin.isatty() and answers_file is None and not sets
    if ask:
        click.echo("Press Enter to keep the value shown; y/p/n/? answer the readiness questions.")

        def prompt(text: str) -> str:
            return str(click.prompt(text, default="", show_default=False))

        answers = q.ask(answers, prompt, lambda msg: click.echo(f"  {msg}", err=True))
    q.save_answers(answers, path)
    assumed = [k.key for k in q.SITE_QUESTIONS if answers.assumed(k.key)]
    open_q = [r.key for r in q.READINESS_QUESTIONS if answers.level(r.key) is None]
    click.echo(f"answers saved to {path}")
    if assumed:
        click.echo("defaults used as assumptions: " + ", ".join(assumed))
    if open_q:
        click.echo(
            f"readiness questions not answered: {len(open_q)} of {len(q.READINESS_QUESTIONS)}"
        )


@click.command("opportunities")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--all", "include_enablers", is_flag=True, help="Also list enabler recipes.")
@click.pass_context
def opportunities(ctx: click.Context, as_json: bool, include_enablers: bool) -> None:
    """Which recipes fit which scanned devices, ranked by expected value."""
    import json

    from kit.scan.opportunities import rank
    from kit.scan.tables import OPPORTUNITY_HEADER, opportunity_rows, text_table

    inv, library, answers = _site(ctx)
    opps = rank(inv, library, answers, include_enablers=include_enablers)
    if as_json:
        click.echo(json.dumps([o.model_dump(mode="json") for o in opps], indent=2))
        return
    if not opps:
        click.echo("no recipe fits the devices of the inventory yet")
        return
    click.echo(text_table([OPPORTUNITY_HEADER, *opportunity_rows(opps)]))
    if any(o.case and o.case.assumptions() for o in opps):
        click.echo("\nvalues use default site figures (assumptions): `kit scan questions`")


@click.command("readiness")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def readiness(ctx: click.Context, as_json: bool) -> None:
    """Readiness per dimension (process, technology, organisation), with the next steps."""
    from kit.scan.readiness import assess

    inv, library, answers = _site(ctx)
    res = assess(inv, answers, library)
    if as_json:
        click.echo(res.model_dump_json(indent=2))
        return
    for d in res.dimensions:
        score = "not assessed" if d.score is None else f"{d.score:g} / 5"
        click.echo(f"{d.dimension}: {score} ({d.assessed} item(s) assessed)")
        for i in d.items:
            ev = f" [{i.evidence}]" if i.evidence else ""
            click.echo(f"  {i.result:<12} {i.text}{ev}")
            if i.next_step:
                click.echo(f"               next: {i.next_step}")


FORMATS = ("md", "html", "json")


@click.command("report")
@click.option(
    "--output",
    "-o",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory for the files (default: <data dir>/reports).",
)
@click.option(
    "--format",
    "formats",
    type=click.Choice(FORMATS),
    multiple=True,
    help="Which forms to write (repeatable; default all three).",
)
@click.option("--title", default="Scan report", show_default=True, help="Report title.")
@click.pass_context
def report(ctx: click.Context, output: Path | None, formats: tuple[str, ...], title: str) -> None:
    """Write the Scan report: scan-report.md, scan-report.html (self-contained) and .json."""
    from kit.cli.common import settings_from
    from kit.scan.report import build_report, to_markdown
    from kit.scan.report_html import to_html

    inv, library, answers = _site(ctx)
    rep = build_report(inv, library, answers, title=title)
    out = output or Path(settings_from(ctx).data_dir) / "reports"
    out.mkdir(parents=True, exist_ok=True)
    for fmt in formats or FORMATS:
        path = out / f"scan-report.{fmt}"
        text = (
            to_markdown(rep)
            if fmt == "md"
            else to_html(rep)
            if fmt == "html"
            else rep.model_dump_json(indent=2) + "\n"
        )
        _write_private(path, text)
        click.echo(str(path))


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` readable by the owner only (0600), atomically: the report maps the
    plant network and its weak spots (docs/security/threat-model.md, T17)."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}-", dir=path.parent)  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(group: click.Group) -> None:
    """Add the subcommands to the ``kit scan`` group."""
    for cmd in (questions, opportunities, readiness, report):
        group.add_command(cmd)
