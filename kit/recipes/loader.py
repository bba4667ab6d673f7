"""Loading recipe files (first validation pass) and the library of shipped recipes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kit.errors import ConfigError
from kit.recipes.model import Recipe
from pydantic import ValidationError

from kit.yamlfiles import parse_yaml, suggest, validation_problems


@dataclass
class LoadedRecipe:
    """A recipe model plus the YAML it came from (for line numbers) and its text."""

    recipe: Recipe
    root: Any
    filename: str
    text: str

    @property
    def digest(self) -> str:
        """SHA-256 of the recipe text: identifies exactly what was installed."""
        return hashlib.sha256(self.text.encode()).hexdigest()


def parse_recipe(text: str, filename: str) -> LoadedRecipe:
    """Parse and shape-check a recipe (pass 1).

    Raises:
        ConfigError: invalid YAML, or every shape problem as ``file:line: field: message``.
    """
    root = parse_yaml(text, filename)
    if not isinstance(root, dict):
        raise ConfigError(f"{filename}: 1 problem(s)",
                          [f"{filename}:1: (top level): a recipe is a mapping with id, version, title, assets …"])
    try:
        recipe = Recipe.model_validate(root)
    except ValidationError as exc:
        problems = validation_problems(filename, root, _Cleaned(exc, root), model=Recipe)
        raise ConfigError(f"{filename}: {len(problems)} problem(s)", problems) from None
    return LoadedRecipe(recipe, root, filename, text)


class _Cleaned:
    """A ValidationError's errors without union tags (``number``, ``range``) in locations,
    and without pydantic's "Value error, " prefix: the file has no such key."""

    def __init__(self, exc: ValidationError, root: Any) -> None:
        self.exc, self.root = exc, root

    def errors(self) -> list[dict[str, Any]]:
        out = []
        for err in self.exc.errors():
            node, loc = self.root, []
            for part in err["loc"]:
                if isinstance(node, dict) and part not in node and part in (node.get("type"), node.get("check")):
                    continue  # the discriminator tag pydantic inserts
                loc.append(part)
                try:
                    node = node[part]
                except (KeyError, IndexError, TypeError):
                    node = None
            msg = err["msg"].removeprefix("Value error, ")
            out.append({**err, "loc": tuple(loc), "msg": msg})
        return out


def load_recipe(path: Path | str) -> LoadedRecipe:
    """Read and shape-check a recipe file (see :func:`parse_recipe`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_recipe(text, str(path))


class RecipeLibrary:
    """Every recipe from the directories plugins registered (``register_resources``)."""

    def __init__(self, host: Any) -> None:
        self.host = host
        self.recipes: dict[str, LoadedRecipe] = {}
        self.problems: list[str] = []

    def load(self) -> "RecipeLibrary":
        """Load every ``*.yaml`` (skipping ``schema/``); invalid files go to ``problems``."""
        for d in self.host.recipe_dirs():
            for f in sorted(Path(d).glob("*.yaml")):
                try:
                    lr = load_recipe(f)
                except ConfigError as exc:
                    self.problems.extend(exc.problems or [str(exc)])
                    continue
                if lr.recipe.id in self.recipes:
                    self.problems.append(f"{f}:1: id: duplicate recipe id {lr.recipe.id!r} "
                                         f"(also in {self.recipes[lr.recipe.id].filename})")
                    continue
                self.recipes[lr.recipe.id] = lr
        return self

    def get(self, recipe_id: str) -> LoadedRecipe:
        """The recipe ``recipe_id``.

        Raises:
            ConfigError: unknown id, with the closest match.
        """
        if recipe_id not in self.recipes:
            raise ConfigError(f"unknown recipe {recipe_id!r}{suggest(recipe_id, self.recipes)}; "
                              "`kit recipes` lists them")
        return self.recipes[recipe_id]


def resolve_recipe(ref: Any, host: Any) -> LoadedRecipe:
    """A recipe from a control-API reference: an id, or ``{"text": …, "filename": …}``."""
    if isinstance(ref, dict) and "text" in ref:
        return parse_recipe(ref["text"], ref.get("filename") or "recipe.yaml")
    if isinstance(ref, str):
        from kit.recipes import cache  # here: cache imports this module

        return cache.recipes(host).get(ref)
    raise ConfigError("recipe must be a recipe id or {text, filename}")
