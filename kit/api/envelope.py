"""The control API's reply envelope and its structured errors.

Every reply on ``kit.control.<endpoint>`` is one JSON object carrying the schema version:

* success: ``{"schema": "kit.control/1", "ok": true, "result": …}``
* failure: ``{"schema": "kit.control/1", "ok": false, "error": "…", "code": N, "kind": "…",
  "problems": [{"file", "line", "field", "message", "hint"}, …]}``

``code`` is the CLI exit code of the matching :class:`kit.errors.KitError`; ``kind`` tells a
client whether the request was malformed (``invalid_request``), refused or failed for a
reason the user can act on (``error``), or hit a bug in the runtime (``internal``).
``problems`` is never empty, so a client can always show a list.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

#: Schema version of every control API reply. Additive changes keep it; a breaking change
#: bumps the number (see docs/bus.md "Control API versioning").
SCHEMA = "kit.control/1"
SCHEMA_MAJOR = 1

ErrorKind = Literal["invalid_request", "error", "internal"]


class Problem(BaseModel):
    """One thing wrong with a request, a recipe or a file — located as precisely as known."""

    model_config = ConfigDict(extra="allow")

    file: str | None = None
    """File the problem is in (a recipe's filename), when it comes from a file."""
    line: int | None = None
    """1-based line in ``file``."""
    field: str | None = None
    """Dotted path of the field (``params.host``, ``assets.press.adapter``, ``points[2]``)."""
    message: str
    """What is wrong, in words for the user."""
    hint: str | None = None
    """What to do about it (``did you mean 'host'?``), when known."""

    def text(self) -> str:
        """The kit's one-line form ``file:line: field: message (hint)``."""
        parts = []
        if self.file:
            parts.append(f"{self.file}:{self.line or 1}")
        if self.field:
            parts.append(self.field)
        msg = self.message + (f" ({self.hint})" if self.hint else "")
        return ": ".join([*parts, msg])


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)

    schema_: str = Field(SCHEMA, alias="schema")
    """``kit.control/<major>``: clients refuse a major they do not know."""


class OkReply(_Envelope):
    """A successful reply; ``result`` follows the endpoint's reply model."""

    ok: Literal[True] = True
    result: Any = None


class ErrorReply(_Envelope):
    """A failed reply: a message, the exit code, its kind and every problem found."""

    ok: Literal[False] = False
    error: str
    """The whole message as the CLI prints it (``problems`` holds the same, structured)."""
    code: int = 1
    """CLI exit code (docs/cli.md)."""
    kind: ErrorKind = "error"
    problems: list[Problem] = Field(default_factory=list)
    endpoint: str | None = None


def encode_reply(reply: OkReply | ErrorReply) -> bytes:
    """The JSON bytes of a reply envelope (values pydantic cannot dump become text)."""
    import orjson

    obj = reply.model_dump(mode="python", by_alias=True)
    return orjson.dumps(obj, default=str, option=orjson.OPT_NON_STR_KEYS)


def schema_major(value: Any) -> int | None:
    """The major version of a ``kit.control/<n>`` schema string (None if not one)."""
    m = re.fullmatch(r"kit\.control/(\d+)", str(value or ""))
    return int(m.group(1)) if m else None


# `file:line: field: message` as kit.yamlfiles.problem formats it.
_LOCATED = re.compile(r"^(?P<file>[^:\n]+):(?P<line>\d+): (?P<field>[^:\n]+?): (?P<message>.+)$")
_HINT = re.compile(r"^(?P<message>.*?)\s*\((?P<hint>did you mean [^)]*|allowed: [^)]*)\)$")


def problem_from_text(text: str) -> Problem:
    """A structured :class:`Problem` from the kit's ``file:line: field: message`` text.

    Recipe and profile loaders report problems in that one-line form (kit.yamlfiles); this is
    the single place that reads it back, so clients never parse error text themselves.
    """
    text = str(text).strip()
    m = _LOCATED.match(text)
    fields: dict[str, Any] = {"message": text}
    if m:
        fields = {
            "file": m.group("file"),
            "line": int(m.group("line")),
            "field": None if m.group("field") == "(top level)" else m.group("field"),
            "message": m.group("message"),
        }
    h = _HINT.match(fields["message"])
    if h and h.group("message"):
        fields["message"], fields["hint"] = h.group("message"), h.group("hint")
    return Problem(**fields)


def dotted(loc: tuple[Any, ...] | list[Any]) -> str | None:
    """``("params", "host")`` → ``params.host``; ``("points", 2)`` → ``points[2]``; None for
    the body itself (the same notation as YAML problems: :func:`kit.yamlfiles.dotted`)."""
    from kit.yamlfiles import dotted as yaml_dotted

    return yaml_dotted(loc) if loc else None


def problems_from_validation(exc: ValidationError, model: type[BaseModel]) -> list[Problem]:
    """One :class:`Problem` per pydantic error of a request body, with a did-you-mean hint."""
    from kit.yamlfiles import suggest

    out = []
    for err in exc.errors(include_url=False):
        loc = [p for p in err["loc"] if not (isinstance(p, str) and "[" in p)]
        hint = None
        message = err["msg"]
        if err["type"] == "extra_forbidden" and len(loc) == 1:
            allowed = [f.alias or n for n, f in model.model_fields.items()]
            close = suggest(str(loc[-1]), allowed).strip()
            message = "unknown field"
            hint = close.strip("()") if close else f"allowed: {', '.join(sorted(allowed))}"
        elif err["type"] == "model_type" and not loc:
            message = "the request body must be a JSON object"
        out.append(Problem(field=dotted(loc), message=message, hint=hint))
    return out


def error_reply(
    message: str,
    *,
    code: int = 1,
    kind: ErrorKind = "error",
    problems: list[Problem] | None = None,
    endpoint: str | None = None,
) -> ErrorReply:
    """An :class:`ErrorReply`; ``problems`` defaults to one problem holding ``message``."""
    return ErrorReply(
        error=message,
        code=code,
        kind=kind,
        problems=problems or [Problem(message=message)],
        endpoint=endpoint,
    )


def error_from_exception(exc: BaseException, endpoint: str | None = None) -> ErrorReply:
    """The reply for an exception raised by a handler (KitError → its problems and code)."""
    from kit.errors import ConfigError, KitError

    if isinstance(exc, KitError):
        raw = getattr(exc, "problems", None) if isinstance(exc, ConfigError) else None
        problems = [problem_from_text(p) for p in raw] if raw else None
        if problems is None:
            structured = getattr(exc, "problem_list", None)  # KitErrors may carry Problems
            problems = list(structured) if structured else None
        return error_reply(
            str(exc) or type(exc).__name__,
            code=int(getattr(exc, "exit_code", 1)),
            kind="error",
            problems=problems,
            endpoint=endpoint,
        )
    return error_reply(
        f"internal error in {endpoint or 'the runtime'}: {type(exc).__name__} "
        "(details in the runtime's log)",
        code=1,
        kind="internal",
        endpoint=endpoint,
    )
