"""Loading recipe files (first validation pass) and the library of shipped recipes."""

from __future__ import annotations

import hashlib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kit.errors import ConfigError
from kit.recipes.model import Recipe
from kit.yamlfiles import parse_yaml, read_text, suggest, validation_problems


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
        raise ConfigError(
            f"{filename}: 1 problem(s)",
            [f"{filename}:1: (top level): a recipe is a mapping with id, version, title, assets …"],
        )
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
                if (
                    isinstance(node, dict)
                    and part not in node
                    and part in (node.get("type"), node.get("check"))
                ):
                    continue  # the discriminator tag pydantic inserts
                loc.append(part)
                try:
                    node = node[part]
                except (KeyError, IndexError, TypeError):
                    node = None
            msg = err["msg"].removeprefix("Value error, ")
            kind = err["type"]
            if kind == "extra_forbidden":
                allowed = _fields_at(self.root, loc[:-1])
                hint = suggest(str(loc[-1]), allowed) or (
                    f" (allowed: {', '.join(sorted(allowed))})" if allowed else ""
                )
                msg, kind = f"unknown field{hint}", "extra_forbidden_explained"
            out.append({**err, "loc": tuple(loc), "msg": msg, "type": kind})
        return out


def _fields_at(root: Any, loc: list[Any]) -> list[str]:
    """Field names allowed at ``loc`` of a recipe, resolving unions by the node's own tag."""
    current: Any = Recipe
    node = root
    for part in loc:
        node = node[part] if isinstance(node, (dict, list)) else None
        current = _resolve(current, node)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = None if isinstance(part, int) else current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]  # ``part`` is an index or a key
        else:
            return []
        current = _resolve(current, node)
    return (
        sorted(current.model_fields)
        if isinstance(current, type) and issubclass(current, BaseModel)
        else []
    )


def _resolve(tp: Any, node: Any) -> Any:
    """Strip ``Annotated``/``Optional``; pick the member of a tagged union that ``node`` carries."""
    for _ in range(4):
        if typing.get_origin(tp) is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif typing.get_origin(tp) in (typing.Union, types.UnionType):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
            if len(members) == 1:
                tp = members[0]
            elif isinstance(node, dict) and len(models) > 1:
                for m in models:
                    for tag in ("type", "check"):
                        f = m.model_fields.get(tag)
                        if f is not None and node.get(tag) in typing.get_args(f.annotation):
                            return m
                return tp
            else:
                return tp
        else:
            return tp
    return tp


def load_recipe(path: Path | str) -> LoadedRecipe:
    """Read and shape-check a recipe file (see :func:`parse_recipe`)."""
    return parse_recipe(read_text(path), str(path))


class RecipeLibrary:
    """Every recipe from a list of directories, the first holder of an id winning.

    ``sources`` is ``[(directory, origin)]`` in precedence order (see :mod:`kit.library`);
    by default the directories plugins registered (``register_resources``). A site recipe
    that uses the id of a shipped or plugin recipe shadows it (``shadowed``).
    """

    def __init__(self, host: Any, sources: list[tuple[Path, str]] | None = None) -> None:
        self.host = host
        self.sources = (
            sources if sources is not None else [(Path(d), "plugin") for d in host.recipe_dirs()]
        )
        self.recipes: dict[str, LoadedRecipe] = {}
        self.origins: dict[str, str] = {}
        self.shadowed: dict[str, list[str]] = {}
        self.problems: list[str] = []

    def load(self) -> RecipeLibrary:
        """Load every ``*.yaml`` (skipping ``schema/``); invalid files go to ``problems``."""
        for d, origin in self.sources:
            for f in sorted(Path(d).glob("*.yaml")):
                try:
                    lr = load_recipe(f)
                except ConfigError as exc:
                    self.problems.extend(exc.problems or [str(exc)])
                    continue
                rid = lr.recipe.id
                if rid in self.recipes:
                    if self.origins[rid] == "site" and origin != "site":
                        self.shadowed.setdefault(rid, []).append(str(f))
                        continue
                    self.problems.append(
                        f"{f}:1: id: duplicate recipe id {rid!r} "
                        f"(also in {self.recipes[rid].filename})"
                    )
                    continue
                self.recipes[rid] = lr
                self.origins[rid] = origin
        return self

    def get(self, recipe_id: str) -> LoadedRecipe:
        """The recipe ``recipe_id``.

        Raises:
            ConfigError: unknown id, with the closest match.
        """
        if recipe_id not in self.recipes:
            raise ConfigError(
                f"unknown recipe {recipe_id!r}{suggest(recipe_id, self.recipes)}; "
                "`kit recipes` lists them"
            )
        return self.recipes[recipe_id]


def resolve_recipe(ref: Any, library: Any) -> LoadedRecipe:
    """A recipe from a control-API reference: an id, or ``{"text": …, "filename": …}``.

    Args:
        library: the site's :class:`kit.library.Library` (ids are looked up there).
    """
    if isinstance(ref, dict) and "text" in ref:
        return parse_recipe(ref["text"], ref.get("filename") or "recipe.yaml")
    if isinstance(ref, str):
        lr: LoadedRecipe = library.recipe(ref)
        return lr
    raise ConfigError("recipe must be a recipe id or {text, filename}")
