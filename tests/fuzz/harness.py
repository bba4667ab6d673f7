"""The loaders under fuzz, and how an outcome is judged.

``load(kind, path, host)`` runs the whole path a file of that kind takes when a person hands
it to the kit: a recipe is read, shape-checked (pass 1) and planned against the installed
plugins and profiles as ``kit recipe validate`` does (pass 2); a profile through
``kit.profiles.load_profile`` (envelope, then the adapter's own model and checks); a site
config through ``kit.settings.load_settings``; a plugin manifest; a ``kit_quality.yaml``; a
bundle whose recipe is the mutant (``kit.recipes.bundle``).

An outcome is ``ok`` (loaded), ``error`` (a :class:`kit.errors.ConfigError` whose every
problem has the ``file:line: field: message`` shape) or a crash (anything else, including a
ConfigError of the wrong shape).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from pathlib import Path
from typing import Any

from kit.errors import ConfigError

#: ``file:line: field: message`` — the field is a dotted path or ``(top level)``.
SHAPE = re.compile(r"^(?P<file>[^\n]+?):(?P<line>\d+): (?P<field>[^\n]+?): (?P<message>.+)$", re.S)


def problems_of(exc: ConfigError) -> list[str]:
    """The problem lines of a ConfigError (its message when it lists none)."""
    return exc.problems or [str(exc)]


def well_shaped(exc: ConfigError) -> bool:
    """True when every problem of ``exc`` is ``file:line: field: message``."""
    return all(SHAPE.match(p) for p in problems_of(exc))


def load(kind: str, path: Path, host: Any) -> Any:
    """Load ``path`` as a file of ``kind`` through the kit's real loaders."""
    if kind == "recipe":
        from kit.recipes.loader import load_recipe
        from kit.recipes.plan import build_plan

        lr = load_recipe(path)
        plan = build_plan(lr, host, sample=True)
        if plan.problems:
            raise ConfigError(f"{path}: {len(plan.problems)} problem(s)", plan.problems)
        return plan
    if kind == "profile":
        from kit.profiles import load_profile

        return load_profile(path, host)
    if kind == "settings":
        from kit.settings import load_settings

        return load_settings(path, env={})
    if kind == "manifest":
        from kit.trust.manifest import load_manifest

        return load_manifest(path)
    if kind == "quality":
        from kit.trust.certify.rules import load_quality

        return load_quality(path.parent)
    if kind == "bundle":  # the mutant is a recipe, carried in an otherwise valid bundle
        return load_bundle_recipe(make_bundle(path.read_bytes(), path.name), host)
    raise ValueError(kind)


def make_bundle(recipe_text: bytes, name: str = "fuzz.yaml") -> bytes:
    """An unsigned bundle (consistent digests, so it opens) carrying ``recipe_text``."""
    from kit.recipes.bundle import FORMAT, MANIFEST

    recipe_file = f"recipes/{name}"
    body = {
        "deployments": [
            {
                "id": "fuzz",
                "recipe_file": recipe_file,
                "version": "1.0.0",
                "digest": hashlib.sha256(recipe_text).hexdigest(),
                "params": {},
                "blanked": [],
            }
        ],
        "plugins": [],
        "profiles": [],
    }
    files = {"bundle.json": json.dumps(body).encode(), recipe_file: recipe_text}
    manifest = {
        "format": FORMAT,
        "files": {k: hashlib.sha256(v).hexdigest() for k, v in files.items()},
    }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr(MANIFEST, json.dumps(manifest))
        for k, v in files.items():
            z.writestr(k, v)
    return out.getvalue()


def load_bundle_recipe(data: bytes, host: Any) -> Any:
    """Open a bundle, inspect it and parse its recipes as ``install_bundle`` does."""
    from kit.library import Library
    from kit.recipes.bundle import bundle_recipes, inspect_bundle

    inspect_bundle(data, Library(host), [], name="fuzz.bundle")
    return bundle_recipes(data, name="fuzz.bundle")
