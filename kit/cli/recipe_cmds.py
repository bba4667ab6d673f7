"""``kit recipes``, ``kit recipe …``, ``kit install``, ``kit uninstall``, ``kit upgrade``,
``kit deployments`` and ``kit bundle …`` — every one through the control API.

Only ``kit recipe validate`` also works without a running runtime (it then validates
against the plugins installed on this machine), so a recipe author can check a file anywhere.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from kit.api import Problem
from kit.api import deployments as dep_api
from kit.api import recipes as rec_api
from kit.cli.common import control_call, library_from, run, settings_from
from kit.errors import ConfigError, KitError, RuntimeNotRunning

#: How long ``kit install`` waits beyond the commissioning window for the runtime's answer.
_INSTALL_MARGIN_S = 60.0


def _call(
    ctx: click.Context,
    endpoint: Any,
    body: Any = None,
    url: str | None = None,
    timeout: float = 30.0,
) -> Any:
    return run(control_call(settings_from(ctx), endpoint, body, url=url, timeout=timeout))


def _parse_sets(pairs: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise ConfigError(f"--set {pair!r}: write key=value")
        k, v = pair.split("=", 1)
        out[k.strip()] = v
    return out


def _recipe_ref(recipe: str) -> tuple[rec_api.RecipeRef, dict[str, Any]]:
    """``(reference for the API, parameter definitions)`` for an id or a file path."""
    p = Path(recipe)
    if p.suffix in (".yaml", ".yml") or p.is_file():
        from kit.recipes.loader import load_recipe

        lr = load_recipe(p)
        ref = rec_api.RecipeText(text=lr.text, filename=str(p))
        return ref, lr.recipe.model_dump(mode="json")["parameters"]
    return recipe, {}


def _dump(model: Any) -> str:
    return json.dumps(model.model_dump(mode="json", by_alias=True), indent=2)


def _interactive(yes: bool) -> bool:
    return not yes and sys.stdin.isatty()


def _prompt_missing(
    defs: dict[str, Any], given: dict[str, Any], yes: bool, profiles: Any = None
) -> dict[str, Any]:
    """Ask for parameters that have no value and no default (only when interactive).

    ``profiles()`` returns the fitting profile ids, offered as choices for ``profile`` parameters.
    """
    if not _interactive(yes):
        return given
    for name, d in defs.items():
        if name in given or d.get("default") is not None:
            continue
        unit = f" [{d['unit']}]" if d.get("unit") else ""
        kind: Any = None
        if d["type"] == "choice":
            kind = click.Choice([str(c) for c in d["choices"]])
        elif d["type"] == "profile" and profiles is not None:
            fitting = profiles()
            kind = click.Choice(fitting) if fitting else None
        given[name] = click.prompt(
            f"{d['prompt']}{unit}", hide_input=d["type"] == "secret", type=kind
        )
    return given


def _fitting_profiles(ctx: click.Context, recipe: Any, url: str | None) -> list[str]:
    try:
        if not isinstance(recipe, str):
            return []
        res = _call(ctx, rec_api.MATCH, rec_api.ByIdRequest(id=recipe), url=url)
    except KitError:
        return []
    return sorted({p.id for m in res.assets.values() for p in m.profiles})


def _print_plan(plan: rec_api.PlanReply) -> None:
    click.echo(f"Plan: install {plan.recipe} {plan.version} as deployment {plan.deployment}")
    for c in plan.connections:
        prof = f" profile {c.profile}" if c.profile else ""
        click.echo(
            f"  device   {c.asset:<10} {c.adapter}{prof} → {c.path}  {json.dumps(c.settings)}"
        )
    for comp in plan.components:
        click.echo(f"  create   {comp['name']} ({comp['type']}) on {comp['asset']}")
    for kind, subs in plan.subjects.items():
        for s in subs:
            click.echo(f"  subject  {kind:<6} {s}")
    for ch in plan.checks:
        click.echo(f"  check    {ch['title']}")


def _print_report(rep: rec_api.CommissioningReport) -> None:
    click.echo(
        f"Commissioning ({rep.duration_s or 0:g} s of live data): {(rep.result or '?').upper()}"
    )
    for c in rep.checks:
        click.echo(f"  {'PASS' if c.passed else 'FAIL'}  {c.title}  — {c.detail or ''}")


@click.command("recipes")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--url", help="NATS URL of the runtime's bus (default: the local runtime).")
@click.pass_context
def recipes_cmd(ctx: click.Context, as_json: bool, url: str | None) -> None:
    """List the recipes this runtime can install."""
    res = _call(ctx, rec_api.LIST, url=url)
    if as_json:
        click.echo(_dump(res))
        return
    for r in res.recipes:
        click.echo(f"{r.id:<32} {r.version:<8} {r.title}  [{', '.join(r.plugins + r.adapters)}]")
    for p in res.problems:
        click.echo(f"invalid recipe skipped: {p.text()}", err=True)


@click.group("recipe")
def recipe_group() -> None:
    """Show, validate and match recipes."""


@recipe_group.command("show")
@click.argument("recipe_id")
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def recipe_show(ctx: click.Context, recipe_id: str, url: str | None) -> None:
    """Print a recipe (its YAML, as shipped)."""
    res = _call(ctx, rec_api.SHOW, rec_api.ByIdRequest(id=recipe_id), url=url)
    click.echo(f"# {res.title} ({res.id} {res.version}) — {res.file}")
    click.echo(res.text)


@recipe_group.command("validate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Also check these parameter values."
)
@click.option(
    "--url", help="NATS URL of the runtime's bus (default: the local runtime, else local plugins)."
)
@click.pass_context
def recipe_validate(ctx: click.Context, file: str, sets: tuple[str, ...], url: str | None) -> None:
    """Check a recipe file; every problem as file:line: field: message (exit code 2)."""
    text = Path(file).read_text(encoding="utf-8")
    body = rec_api.ValidateRequest(text=text, filename=file, params=_parse_sets(sets))
    try:
        res = _call(ctx, rec_api.VALIDATE, body, url=url)
    except RuntimeNotRunning:
        res = validate_locally(body, settings_from(ctx).site, library_from(ctx))
    if res.ok:
        click.echo(f"{file}: OK ({res.id}; shape and plugin configs checked)")
        return
    for p in res.problems:
        click.echo(p.text(), err=True)
    click.echo(f"{file}: {len(res.problems)} problem(s)", err=True)
    sys.exit(ConfigError.exit_code)


def validate_locally(
    body: rec_api.ValidateRequest, site: str, library: Any
) -> rec_api.ValidateReply:
    """Both validation passes of a recipe without a runtime, against this site's library."""
    from kit.api import problem_from_text
    from kit.recipes.loader import parse_recipe
    from kit.recipes.plan import build_plan

    try:
        lr = parse_recipe(body.text, body.filename or "recipe.yaml")
    except ConfigError as exc:
        problems = [problem_from_text(p) for p in exc.problems] or [Problem(message=str(exc))]
        return rec_api.ValidateReply(ok=False, problems=problems, pass_="shape")
    params = body.params or {}
    plan = build_plan(
        lr,
        library.host,
        params,
        site=site,
        profiles=library.profiles(),
        sample=not params,
    )
    return rec_api.ValidateReply(
        ok=not plan.problems,
        problems=[problem_from_text(p) for p in plan.problems],
        pass_="plugins",
        id=lr.recipe.id,
    )


@recipe_group.command("match")
@click.argument("recipe_id")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def recipe_match(ctx: click.Context, recipe_id: str, as_json: bool, url: str | None) -> None:
    """Which hardware profiles and running assets satisfy a recipe."""
    res = _call(ctx, rec_api.MATCH, rec_api.ByIdRequest(id=recipe_id), url=url)
    if as_json:
        click.echo(_dump(res))
        return
    for role, m in res.assets.items():
        click.echo(f"{role} ({m.adapter}) needs: {', '.join(m.needs) or 'nothing specific'}")
        for p in m.profiles:
            click.echo(
                f"  profile  {p.id:<28} {p.vendor} {p.model}{'' if p.verified else ' (unverified)'}"
            )
        for n in m.nearly:
            click.echo(f"  almost   {n.id:<28} lacks {', '.join(n.missing)}")
        for a in m.running_assets:
            click.echo(f"  running  {a}")
        if not (m.profiles or m.running_assets):
            click.echo("  nothing installed fits")


@click.command("install")
@click.argument("recipe")
@click.option(
    "--set", "sets", multiple=True, metavar="KEY=VALUE", help="Parameter value (repeatable)."
)
@click.option("--deployment", help="Deployment name (default: recipe id + first asset name).")
@click.option(
    "--device",
    type=click.IntRange(min=1),
    help="Device N of the site's inventory (`kit scan`): fills host, port, unit id and profile.",
)
@click.option("--yes", is_flag=True, help="Do not prompt or ask for confirmation.")
@click.option(
    "--check-duration",
    type=click.FloatRange(min=0.1),
    help="Seconds of live data for the acceptance checks.",
)
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def install_cmd(
    ctx: click.Context,
    recipe: str,
    sets: tuple[str, ...],
    deployment: str | None,
    device: int | None,
    yes: bool,
    check_duration: float | None,
    url: str | None,
) -> None:
    """Install RECIPE (an id from `kit recipes` or a YAML file): plan, test, apply, commission."""
    ref, defs = _recipe_ref(recipe)
    if not defs:
        defs = _call(ctx, rec_api.SHOW, rec_api.ByIdRequest(id=recipe), url=url).recipe[
            "parameters"
        ]
    given = _parse_sets(sets)
    if device is not None:
        from kit.scan.inventory import install_params, inventory_path, load_inventory

        inv = load_inventory(inventory_path(settings_from(ctx).data_dir))
        # --set wins over the inventory: the technician's word over the scan's guess.
        given = {**install_params(inv, device, defs), **given}
    params = _prompt_missing(defs, given, yes, lambda: _fitting_profiles(ctx, ref, url))
    body = rec_api.PlanRequest(recipe=ref, params=params, deployment=deployment)
    plan = _call(ctx, rec_api.PLAN, body, url=url)
    _print_plan(plan)
    if _interactive(yes) and not click.confirm("Install?", default=True):
        raise KitError("cancelled; nothing was installed")
    dur = check_duration or 30.0
    res = _call(
        ctx,
        rec_api.INSTALL,
        rec_api.InstallRequest(
            **body.model_dump(exclude_unset=True), wait_report=True, check_duration_s=check_duration
        ),
        url=url,
        timeout=dur + _INSTALL_MARGIN_S + (3600 if check_duration is None else 0),
    )
    if not res.changed:
        click.echo(res.message)
        return
    click.echo(f"installed {res.deployment}: {len(res.components)} component(s) running")
    for role, ident in res.identification.items():
        click.echo(f"  {role}: {ident}")
    if res.report:
        _print_report(res.report)
        click.echo(f"full report: kit deployments show {res.deployment} --format md")


@click.command("uninstall")
@click.argument("deployment")
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def uninstall_cmd(ctx: click.Context, deployment: str, url: str | None) -> None:
    """Remove every component of DEPLOYMENT and forget it."""
    res = _call(ctx, rec_api.UNINSTALL, rec_api.UninstallRequest(deployment=deployment), url=url)
    click.echo(f"uninstalled {res.deployment}: removed {', '.join(res.removed) or 'nothing'}")


@click.command("upgrade")
@click.argument("deployment")
@click.argument("recipe")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="Changed parameter value (repeatable).",
)
@click.option(
    "--check-duration", type=click.FloatRange(min=0.1), help="Seconds of live data for the checks."
)
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def upgrade_cmd(
    ctx: click.Context,
    deployment: str,
    recipe: str,
    sets: tuple[str, ...],
    check_duration: float | None,
    url: str | None,
) -> None:
    """Move DEPLOYMENT to RECIPE (new version or values); the old one comes back on failure."""
    ref, _ = _recipe_ref(recipe)
    res = _call(
        ctx,
        rec_api.UPGRADE,
        rec_api.UpgradeRequest(
            deployment=deployment,
            recipe=ref,
            params=_parse_sets(sets),
            wait_report=True,
            check_duration_s=check_duration,
        ),
        url=url,
        timeout=(check_duration or 3600) + _INSTALL_MARGIN_S,
    )
    if not res.changed:
        click.echo(res.message)
        return
    click.echo(f"upgraded {res.deployment} {res.from_} → {res.to}")
    if res.report:
        _print_report(res.report)


@click.group("deployments", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def deployments_group(ctx: click.Context, as_json: bool, url: str | None) -> None:
    """List installed deployments (or `show` one)."""
    if ctx.invoked_subcommand is not None:
        return
    res = _call(ctx, dep_api.LIST, url=url)
    if as_json:
        click.echo(_dump(res))
        return
    if not res.deployments:
        click.echo("no deployments; install one with `kit install RECIPE`")
    for d in res.deployments:
        running = sum(1 for s in d.components.values() if s == "running")
        click.echo(
            f"{d.id:<36} {d.recipe} {d.version:<8} {d.status:<14} "
            f"checks {d.result or '-':<5} components {running}/{len(d.components)} running"
        )


@deployments_group.command("show")
@click.argument("deployment")
@click.option("--format", "fmt", type=click.Choice(["md", "json"]), default="md", show_default=True)
@click.option("--url", help="NATS URL of the runtime's bus.")
@click.pass_context
def deployments_show(ctx: click.Context, deployment: str, fmt: str, url: str | None) -> None:
    """Print a deployment and its commissioning report (Markdown or JSON)."""
    res = _call(ctx, dep_api.SHOW, dep_api.DeploymentRequest(deployment=deployment), url=url)
    body = res.model_dump(mode="json", by_alias=True, exclude={"markdown"})
    click.echo(res.markdown if fmt == "md" else json.dumps(body, indent=2))


def register(cli: click.Group) -> None:
    """Add the recipe, deployment and bundle commands."""
    from kit.cli.bundle_cmds import bundle_group

    for cmd in (
        recipes_cmd,
        recipe_group,
        install_cmd,
        uninstall_cmd,
        upgrade_cmd,
        deployments_group,
        bundle_group,
    ):
        cli.add_command(cmd)
