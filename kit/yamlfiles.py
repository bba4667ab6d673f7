"""YAML loading with line numbers, and validation errors as ``file:line: field: message``.

Used for every file a person writes: site config, hardware profiles, recipes. The rule
(docs/recipes.md) is that every problem is reported, each naming the file, the line and the
dotted field path, so a technician can fix them all in one pass.

Loading is bounded in time and memory whatever the file holds (a recipe can arrive from a
viewer over the control API or inside a bundle from another site): at most
:data:`MAX_BYTES` of text, :data:`MAX_DEPTH` levels of nesting, :data:`MAX_NODES` values
counting every alias expansion (a "billion laughs" file is refused while it is composed,
before anything walks it) and integers of at most :data:`MAX_INT_DIGITS` digits. Text that
is not UTF-8 or holds control characters is refused with its line. Each refusal is a
:class:`~kit.errors.ConfigError` naming the file, the line, the field and the limit
(tests/fuzz).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.composer import Composer, ComposerError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from kit.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


MAX_BYTES = 512 * 1024
"""Largest YAML file read (512 KiB, about 2,500 profile points in block style). The largest
shipped file is 9 KB. ruamel parses 50–200 KB/s on a Raspberry Pi class machine, so this
also bounds a parse to seconds; a file at the limit is refused before it is parsed."""
MAX_DEPTH = 64
"""Deepest nesting: the most keys and list positions on the path to any value
(``points[2].address`` is 3). Shipped files nest fewer than 10 levels; ruamel's composer
recurses per level and overflowed Python's stack at about 400 (a RecursionError)."""
MAX_NODES = 100_000
"""Most values (scalars, mappings, lists) a document may hold, each alias counted as
everything it expands to — the bound that refuses "billion laughs" files. A profile with
2,000 points has about 20,000."""
MAX_INT_DIGITS = 100
"""Longest integer literal, in characters. Python refuses to convert decimal integers over
4,300 digits, and anything over ~20 digits is no Modbus address, port or limit."""

#: What the "field" slot says for problems found before there is a structure to point into.
INVALID = "invalid YAML"

_INT_LITERAL = re.compile(r"[-+]?(?:0[xX][0-9a-fA-F_]+|0[oO]?[0-7_]+|0[bB][01_]+|[0-9][0-9_]*)")


def read_text(path: Path | str) -> str:
    """The UTF-8 text of a file a person wrote, refused when too large or not UTF-8.

    Raises:
        ConfigError: unreadable, over :data:`MAX_BYTES`, or not UTF-8 (with the line).
    """
    path = Path(path)
    try:
        with path.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return decode_text(data, str(path))


def decode_text(data: bytes, filename: str) -> str:
    """``data`` as UTF-8 text (a leading BOM dropped); see :func:`read_text`."""
    if len(data) > MAX_BYTES:
        raise ConfigError(
            f"{filename}:1: {INVALID}: the file is larger than {MAX_BYTES:,} bytes "
            "(kit.yamlfiles.MAX_BYTES)"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{filename}:{line}: {INVALID}: not UTF-8 text (byte 0x{data[exc.start]:02x} at "
            f"column {col}); save the file as UTF-8"
        ) from None


def load_yaml(path: Path | str) -> Any:
    """Parse a YAML file keeping line information (ruamel round-trip nodes).

    Raises:
        ConfigError: if the file is missing, is not valid YAML (with its line) or exceeds
            a limit (module docstring).
    """
    return parse_yaml(read_text(path), str(path))


def parse_yaml(text: str, filename: str) -> Any:
    """Parse YAML text (see :func:`load_yaml`); ``filename`` is used in messages."""
    if len(text) > MAX_BYTES:  # text from the control API or a bundle: the same bound
        raise ConfigError(
            f"{filename}:1: {INVALID}: the text is longer than {MAX_BYTES:,} characters "
            "(kit.yamlfiles.MAX_BYTES)"
        )
    yaml = YAML(typ="rt")
    yaml.Composer = _BoundedComposer
    try:
        return yaml.load(text)
    except _LimitError as exc:
        raise ConfigError(f"{filename}:{exc.line}: {exc.field}: {exc.message}") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else 1
        raise ConfigError(f"{filename}:{line}: {INVALID}: {exc.problem}") from None
    except ReaderError as exc:
        pos = exc.position if isinstance(exc.position, int) else 0
        line = text.count("\n", 0, pos) + 1
        col = pos - (text.rfind("\n", 0, pos) + 1) + 1
        char = exc.character if isinstance(exc.character, int) else 0
        raise ConfigError(
            f"{filename}:{line}: {INVALID}: control character U+{char:04X} at column {col} "
            "(YAML allows tab and line breaks only)"
        ) from None
    except (YAMLError, ValueError) as exc:  # e.g. a constructor refusing a value
        raise ConfigError(f"{filename}:1: {INVALID}: {exc}") from None


class _LimitError(ComposerError):
    """A document exceeds a loading limit (raised while composing, caught in parse_yaml)."""

    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(None, None, message)
        self.line, self.field, self.message = line, field, message


class _BoundedComposer(Composer):
    """ruamel's composer with the module's depth, expansion and integer limits.

    It sees every node once, in document order, before any Python object is built; an
    alias returns the anchored node itself, so expansion is counted from the anchored
    node's size without expanding anything.
    """

    def __init__(self, loader: Any = None) -> None:
        super().__init__(loader)
        self._path: list[str | int] = []
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        # ``index`` is the key node for a mapping value, the position for a list item and
        # None for a mapping key (keys are not part of the field path).
        if isinstance(index, ScalarNode):
            part: str | int | None = str(index.value)
        elif isinstance(index, int):
            part = index
        else:
            part = None
        if part is not None:
            self._path.append(part)
        try:
            if len(self._path) > MAX_DEPTH:
                self._refuse(f"nested deeper than {MAX_DEPTH} levels (kit.yamlfiles.MAX_DEPTH)")
            node = super().compose_node(parent, index)
            self._measure(node)
            return node
        finally:
            if part is not None:
                self._path.pop()

    def _measure(self, node: Any) -> None:
        size = self._sizes.get(id(node))
        if size is not None:  # an alias (or a node seen before): its expansion counts again
            pass
        elif isinstance(node, ScalarNode):
            size = 1
            if (
                node.style is None
                and len(node.value) > MAX_INT_DIGITS
                and _INT_LITERAL.fullmatch(node.value)
            ):
                self._refuse(
                    f"integer of {len(node.value):,} characters; the limit is "
                    f"{MAX_INT_DIGITS} (kit.yamlfiles.MAX_INT_DIGITS)",
                    node,
                )
        elif isinstance(node, SequenceNode):
            size = 1 + sum(self._sizes.get(id(c), 1) for c in node.value)
        elif isinstance(node, MappingNode):
            size = 1 + sum(
                self._sizes.get(id(k), 1) + self._sizes.get(id(v), 1) for k, v in node.value
            )
        else:
            size = 1
        self._sizes[id(node)] = size
        if size > MAX_NODES:
            self._refuse(
                f"expands to more than {MAX_NODES:,} values (aliases counted as what they "
                f"repeat; kit.yamlfiles.MAX_NODES)",
                node,
            )

    def _refuse(self, message: str, node: Any = None) -> None:
        mark = node.start_mark if node is not None else self.parser.peek_event().start_mark
        path = self._path
        # A path 64 levels deep says nothing more than its first steps do.
        field = dotted(path) if len(path) <= 8 else dotted(path[:8]) + "…"
        raise _LimitError(mark.line + 1, field, message)


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


class ValidationErrors(Protocol):
    """What :func:`validation_problems` reads of a ValidationError (a cleaned copy will do)."""

    def errors(self) -> Sequence[Mapping[str, Any]]:
        """Pydantic's error dicts (``loc``, ``msg``, ``type``)."""
        ...


def validation_problems(
    filename: str,
    root: Any,
    exc: ValidationError | ValidationErrors,
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
