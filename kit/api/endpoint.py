"""Endpoint specs: the name, request model and reply model of one control API endpoint.

An :class:`Endpoint` is the single description shared by the runtime (which validates the
request body against ``request`` before the handler runs and the handler's result against
``reply``), the CLI and TUI clients (which build ``request`` and read ``reply``), the tests,
and docs/bus.md (whose JSON Schemas are generated from these models).

Plugins describe their own endpoints the same way with :func:`endpoint` and the base models
here (:class:`Request`, :class:`Reply`), and pass the spec to ``api.add(spec, handler)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, RootModel

#: Largest request body accepted (bytes); bigger bodies are refused before parsing.
MAX_BODY_BYTES = 1024 * 1024
#: Largest YAML text accepted inside a request (recipe text for validate/plan/install): the
#: largest shipped recipe is under 3 KB; parsing 64 KiB of YAML costs about a second of CPU.
MAX_TEXT_CHARS = 64 * 1024


class Request(BaseModel):
    """Base of request bodies: unknown fields are refused (a typo must not be ignored)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Empty(Request):
    """An endpoint that takes no arguments (an empty body or ``{}``)."""


class Reply(BaseModel):
    """Base of reply results: clients ignore fields they do not know (additive changes)."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


ReqT = TypeVar("ReqT", bound=BaseModel)
RepT = TypeVar("RepT", bound=BaseModel)


class AnyReply(RootModel[Any]):
    """A reply whose shape is not described (only for endpoints added without a model)."""


@dataclass(frozen=True)
class Endpoint(Generic[ReqT, RepT]):
    """One endpoint ``kit.control.<name>``: request model, reply model, one-line summary."""

    name: str
    request: type[ReqT]
    reply: type[RepT]
    summary: str = ""
    max_body: int = MAX_BODY_BYTES

    def parse_reply(self, result: Any) -> RepT:
        """The reply model from a reply's ``result`` (raises pydantic.ValidationError)."""
        return self.reply.model_validate(result)


#: Every endpoint spec created with :func:`endpoint`, by name (for docs and tests).
CATALOG: dict[str, Endpoint[Any, Any]] = {}


def endpoint(
    name: str,
    request: type[ReqT],
    reply: type[RepT],
    summary: str = "",
    *,
    max_body: int = MAX_BODY_BYTES,
) -> Endpoint[ReqT, RepT]:
    """Create (and catalogue) the spec of endpoint ``name``."""
    spec = Endpoint(name, request, reply, summary, max_body)
    CATALOG[name] = spec
    return spec
