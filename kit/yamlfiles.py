"""YAML loading with line numbers, and validation errors as ``file:line: field: message``.

Used for every file a person writes: site config, hardware profiles, recipes. The rule
(docs/recipes.md) is that every problem is reported, each naming the file, the line and the
dotted field path, so a technician can fix them all in one pass.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError

from kit.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def load_yaml(path: Path | str) -> Any:
    """Parse a YAML file keeping line information (ruamel round-trip nodes).

    Raises:
        ConfigError: if the file is missing or is not valid YAML (with its line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return parse_yaml(text, str(path))


def parse_yaml(text: str, filename: str) -> Any:
    """Parse YAML text (see :func:`load_yaml`); ``filename`` is used in messages."""
    yaml = YAML(typ="rt")
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{filename}:{line}: invalid YAML: {exc.problem}") from None


def line_of(root: Any, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node along ``loc`` that still exists in ``root``."""
    node, line = root, None
    for key in loc:
        if isinstance(node, CommentedMap) and key in node:
            try:
                line = node.lc.key(key)[0] + 1
            except (KeyError, TypeError):
                pass
            node = node[key]
        elif isinstance(node, CommentedSeq) and isinstance(key, int) and 0 <= key < len(node):
            try:
                line = node.lc.item(key)[0] + 1
            except (KeyError, TypeError, IndexError):
                pass
            node = node[key]
        else:
            break
    if line is None and isinstance(root, (CommentedMap, CommentedSeq)):
        line = root.lc.line + 1
    return line


def dotted(loc: Sequence[str | int]) -> str:
    """``("points", 2, "address")`` → ``points[2].address``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def problem(filename: str, root: Any, loc: Sequence[str | int], message: str) -> str:
    """Format one problem as ``file:line: field: message``."""
    line = line_of(root, loc)
    return f"{filename}:{line or 1}: {dotted(loc)}: {message}"


def validation_problems(
    filename: str,
    root: Any,
    exc: ValidationError,
    prefix: Sequence[str | int] = (),
    model: type[BaseModel] | None = None,
) -> list[str]:
    """Turn every error of a pydantic ValidationError into ``file:line: field: message``.

    Unknown fields get a "did you mean" from the field names the model allows there.
    """
    out = []
    for err in exc.errors():
        loc = _existing_loc(root, [*prefix, *err["loc"]])
        msg = err["msg"]
        if err["type"] == "extra_forbidden" and model is not None:
            allowed = _fields_at(model, [p for p in err["loc"][:-1]])
            msg = "unknown field" + suggest(str(err["loc"][-1]), allowed)
            if allowed and not suggest(str(err["loc"][-1]), allowed):
                msg += f" (allowed: {', '.join(sorted(allowed))})"
        out.append(problem(filename, root, loc, msg))
    return out


def _existing_loc(root: Any, loc: Sequence[str | int]) -> list[str | int]:
    """Keep the parts of a pydantic location that name real nodes (skipping union tags).

    Pydantic inserts the tag of the chosen union member (``'modbus'``, ``'function-after[…]'``)
    into error locations; the file has no such key, so it is skipped to keep the path honest.
    A missing field is kept (named) and reported at its parent's line.
    """
    node, out = root, []
    for part in loc:
        if isinstance(node, dict) and part in node:
            out.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            out.append(part)
            node = node[part]
        elif isinstance(part, str) and (
            part.startswith(("function-", "tagged-union")) or "[" in part
        ):
            continue
        elif isinstance(node, dict):
            out.append(part)
            node = None
    return out


def _fields_at(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Field names (and aliases) allowed by the sub-model at ``loc``, best effort."""
    import typing

    current: Any = model
    for part in loc:
        if isinstance(part, int):
            continue
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return []
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = field.annotation
        # Unwrap list[X], X | None, dict[str, X] to reach X.
        for _ in range(3):
            args = [a for a in typing.get_args(current) if a is not type(None)]
            if args and not (isinstance(current, type) and issubclass(current, BaseModel)):
                current = args[-1]
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def suggest(name: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest match of ``name``, or an empty string."""
    close = difflib.get_close_matches(str(name), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def validate_data(
    model: type[M],
    data: Any,
    filename: str,
    root: Any | None = None,
    prefix: Sequence[str | int] = (),
) -> M:
    """Validate ``data`` against ``model``; raise ConfigError listing every problem.

    Args:
        model: the pydantic model.
        data: the parsed YAML (or a sub-node of it).
        filename: for messages.
        root: the document root the line numbers come from (defaults to ``data``).
        prefix: location of ``data`` inside ``root``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = validation_problems(
            filename, root if root is not None else data, exc, prefix, model
        )
        raise ConfigError(f"{filename}: {len(problems)} problem(s)", problems) from None


def load_model(model: type[M], path: Path | str) -> M:
    """Load a YAML file and validate it against ``model`` (see :func:`validate_data`)."""
    data = load_yaml(path)
    if data is None:
        raise ConfigError(f"{path}:1: (top level): the file is empty")
    return validate_data(model, data, str(path))
