"""``kit profile add FILE`` and ``kit recipe add FILE``: put a site's own file in its library.

The site library lives under the data directory (``<data dir>/profiles``,
``<data dir>/recipes``, see :mod:`kit.library`). ``add`` validates the file completely
first — every problem as ``file:line: field: message``, exit code 2, nothing copied — and
then copies it as ``<id>.yaml`` atomically, so a running runtime (which reloads its library
when a file changes) never sees half a file. Every command, the runtime and the TUI find
it like a shipped one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from kit.cli.common import library_from, settings_from
from kit.errors import ConfigError
from kit.library import write_site_file


def _place(
    kind: str,
    file_id: str,
    src: str,
    target_dir: Path,
    site_files: dict[str, Any],
    other: tuple[str, Any] | None,
    replace: bool,
) -> Path:
    """Check for clashes in the site library, then copy. ``other``: (origin, file) of a
    shipped or plugin file with the same id, which the site copy will shadow."""
    if file_id in site_files:
        existing = Path(site_files[file_id])
        if not replace:
            raise ConfigError(
                f"{src}: {kind} {file_id!r} is already in the site library ({existing}); "
                "use --replace to overwrite it"
            )
        if existing.name != f"{file_id}.yaml":  # same id under another name: keep only one
            existing.unlink()
    dest = write_site_file(target_dir, file_id, Path(src).read_bytes())
    click.echo(f"added {kind} {file_id} to the site library: {dest}")
    if other is not None:
        click.echo(
            f"note: it shadows the {other[0]} {kind} {file_id!r} ({other[1]}); "
            "the site copy is used from now on",
            err=True,
        )
    return dest


@click.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Overwrite a site profile with the same id.")
@click.pass_context
def profile_add(ctx: click.Context, file: str, replace: bool) -> None:
    """Validate FILE and copy it into the site library (<data dir>/profiles/<id>.yaml).

    Every problem is printed as file:line: field: message and nothing is copied (exit 2).
    A running runtime uses the profile from its next install on, without a restart.
    """
    from kit.profiles import load_profile

    library = library_from(ctx)
    prof = load_profile(file, library.host)  # ConfigError: every problem, nothing copied
    lib = library.profiles()
    site = {pid: f for pid, f in lib.files.items() if lib.origins[pid] == "site"}
    other = None
    if prof.id in lib.files and lib.origins[prof.id] != "site":
        other = (lib.origins[prof.id], lib.files[prof.id])
    elif prof.id in lib.shadowed:
        other = ("shipped or plugin", lib.shadowed[prof.id][0])
    _place("profile", prof.id, file, library.profile_dir, site, other, replace)


@click.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--replace", is_flag=True, help="Overwrite a site recipe with the same id.")
@click.pass_context
def recipe_add(ctx: click.Context, file: str, replace: bool) -> None:
    """Validate FILE (shape, then plugins and profiles of this site) and copy it into the
    site library (<data dir>/recipes/<id>.yaml).

    Every problem is printed as file:line: field: message and nothing is copied (exit 2).
    """
    from kit.recipes.loader import load_recipe
    from kit.recipes.plan import build_plan

    library = library_from(ctx)
    lr = load_recipe(file)  # first pass: the file's shape
    plan = build_plan(
        lr,
        library.host,
        {},
        site=settings_from(ctx).site,
        profiles=library.profiles(),
        sample=True,  # no values yet: check what follows from the recipe itself
    )
    if plan.problems:
        raise ConfigError(f"{file}: {len(plan.problems)} problem(s); nothing copied", plan.problems)
    lib = library.recipes()
    rid = lr.recipe.id
    site = {r: lib.recipes[r].filename for r in lib.recipes if lib.origins[r] == "site"}
    other = None
    if rid in lib.recipes and lib.origins[rid] != "site":
        other = (lib.origins[rid], lib.recipes[rid].filename)
    elif rid in lib.shadowed:
        other = ("shipped or plugin", lib.shadowed[rid][0])
    _place("recipe", rid, file, library.recipe_dir, site, other, replace)


def register(cli: click.Group) -> None:
    """Add ``add`` to the ``profile`` and ``recipe`` groups (registered before this)."""
    from kit.cli.common import add_config_option

    for name, cmd in (("profile", profile_add), ("recipe", recipe_add)):
        group = cli.commands[name]
        assert isinstance(group, click.Group)
        add_config_option(cmd)
        group.add_command(cmd)
