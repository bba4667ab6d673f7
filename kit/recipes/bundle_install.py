"""Installing a bundle at a site: all deployments or none, with progress per step.

Every deployment's plan (values included) is checked before the first is installed; the
bundle's profiles this site lacks go into its library; then each deployment is installed
with the engine's own atomic install, and if one fails, the ones installed before it by
this call are removed again (newest first). ``progress`` gets one line per deployment and,
with ``wait_report``, one per acceptance check.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from kit.errors import ConfigError, PluginError
from kit.recipes.bundle import bundle_body, bundle_recipes, inspect_bundle, open_bundle

Progress = Callable[[str], None]
"""Receives one human-readable line per install step."""


async def install(
    engine: Any,
    data: bytes,
    values: dict[str, dict[str, Any]] | None = None,
    *,
    check_duration_s: float | None = None,
    wait_report: bool = False,
    name: str = "bundle",
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Install every deployment of a bundle, asking only for its blanked values.

    All or nothing: every deployment's plan is checked before the first is installed, and
    if one fails to install the ones this call installed before it are removed again.

    Args:
        values: ``{deployment: {param: value}}`` for the blanked parameters; one not given
            takes the recipe's default (never the exporting site's value), if it has one.
        progress: called with one line per step (per deployment, per check).

    Raises:
        BundleError: tampered or invalid bundle.
        PluginError: a required plugin version or profile is missing here (each named).
        ConfigError: blanked values not given (each named), or validation problems.
        InstallError: a deployment failed; the bundle's other new deployments were removed.
    """
    say = progress or (lambda _line: None)
    keys = engine.runtime.trust_store().keys
    library = engine.runtime.library
    info = inspect_bundle(data, library, await engine.store.all(), name, keys)
    if info["missing"]:
        raise _missing_error(info["missing"])
    _, files, _ = open_bundle(data, name, keys)
    body = bundle_body(files, name)
    recipes = bundle_recipes(data, name, keys)  # every recipe checked before anything is installed
    values = values or {}
    lacking = [
        f"{d['id']}: {b['name']} ({b['prompt']})"
        for d in body["deployments"]
        for b in d["blanked"]
        if values.get(d["id"], {}).get(b["name"]) in (None, "") and b.get("default") is None
    ]
    if lacking:
        raise ConfigError("site-specific values are needed; nothing was installed", lacking)
    # The plans need the bundle's profiles this site lacks: added first, removed again if
    # anything below fails (all or nothing includes the site library).
    added = _add_site_profiles(library, info["profiles"], files)
    plans = []
    for d, lr in zip(body["deployments"], recipes):
        params = {k: v for k, v in d["params"].items() if v is not None}
        params.update({k: v for k, v in values.get(d["id"], {}).items() if v not in (None, "")})
        try:
            engine.plan(lr, params, d["id"])  # a wrong value is refused before anything runs
        except ConfigError as exc:
            _remove_profiles(library, added)
            head = str(exc).split("\n", 1)[0]
            raise ConfigError(f"{d['id']}: {head}", exc.problems) from None
        plans.append((d, lr, params))
    results: list[dict[str, Any]] = []
    n = len(plans)
    for i, (d, lr, params) in enumerate(plans, 1):
        say(f"[{i}/{n}] {d['id']}: {lr.recipe.id} {lr.recipe.version} — testing connections")
        try:
            res = await engine.install(lr, params, d["id"], check_duration_s=check_duration_s)
        except Exception as exc:
            undone = await _roll_back(engine, results, say)
            _remove_profiles(library, added)
            from kit.recipes.engine import InstallError

            raise InstallError(
                f"{d['id']}: {exc}"
                + (f"\nrolled back: {', '.join(undone)}" if undone else "\nnothing was installed")
            ) from None
        say(f"[{i}/{n}] {d['id']}: {'installed' if res['changed'] else 'already installed'}")
        results.append(res)
    if wait_report:
        for i, res in enumerate(results, 1):
            task = engine.commissioning_task(res["deployment"])
            if task is None:
                continue
            say(f"[{i}/{n}] {res['deployment']}: checking live data")
            res["report"] = report = await task
            res["status"] = "running"
            for c in report.get("checks", []):
                say(f"[{i}/{n}] {res['deployment']}:   {c['result'].upper():4} {c['title']}")
    return {"installed": results, "profiles_added": added}


def _remove_profiles(library: Any, ids: list[str]) -> None:
    """Take the profiles this install added out of the site library again."""
    for pid in ids:
        (Path(library.profile_dir) / f"{pid}.yaml").unlink(missing_ok=True)


async def _roll_back(engine: Any, results: list[dict[str, Any]], say: Progress) -> list[str]:
    """Uninstall the deployments this bundle install created (newest first); their ids."""
    undone = []
    for res in reversed(results):
        if res.get("changed") and not res.get("repaired"):
            await engine.uninstall(res["deployment"])
            say(f"rolled back {res['deployment']}")
            undone.append(res["deployment"])
    return undone


def _add_site_profiles(
    library: Any, rows: list[dict[str, Any]], files: dict[str, bytes]
) -> list[str]:
    """Write the bundle's profiles this site lacks into its site library; returns their ids.

    All are validated first (every problem named, nothing written), so a bundle cannot put
    a broken profile into the library.
    """
    import tempfile

    from kit.library import write_site_file
    from kit.profiles import load_profile

    todo = [r for r in rows if r["state"] == "added to the site library on install"]
    if todo and library.profile_dir is None:
        raise ConfigError("this runtime has no data directory to add the bundle's profiles to")
    problems: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        for r in todo:
            check = Path(tmp) / r["file"]
            check.parent.mkdir(parents=True, exist_ok=True)
            check.write_bytes(files[r["file"]])
            try:
                prof = load_profile(check, library.host)
            except ConfigError as exc:
                problems.extend(exc.problems or [str(exc)])
                continue
            if prof.id != r["id"]:
                problems.append(f"{r['file']}:1: id: {prof.id!r}, but the bundle lists {r['id']!r}")
    if problems:
        raise ConfigError("the bundle's profiles are invalid; nothing was installed", problems)
    for r in todo:
        write_site_file(library.profile_dir, r["id"], files[r["file"]])
    return [r["id"] for r in todo]


def _missing_error(missing: list[str]) -> PluginError:
    return PluginError(
        "this site lacks what the bundle needs; nothing was installed:\n"
        + "\n".join(f"  {m}" for m in missing)
    )
