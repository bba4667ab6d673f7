"""Typed control API: request/reply models per endpoint, the reply envelope, structured errors.

One module per endpoint family (:mod:`kit.api.core`, :mod:`kit.api.recipes`,
:mod:`kit.api.deployments`, :mod:`kit.api.writes`); :mod:`kit.api.envelope` holds the
envelope and :class:`Problem`; :mod:`kit.api.endpoint` the :class:`Endpoint` spec and base
models that plugins use for their own endpoints. docs/bus.md publishes the JSON Schemas
(``scripts/gen_control_api_doc.py``).
"""

from typing import Any

from kit.api.endpoint import (
    CATALOG,
    MAX_BODY_BYTES,
    MAX_TEXT_CHARS,
    Empty,
    Endpoint,
    Reply,
    Request,
    endpoint,
)
from kit.api.envelope import (
    SCHEMA,
    SCHEMA_MAJOR,
    ErrorReply,
    OkReply,
    Problem,
    error_from_exception,
    error_reply,
    problem_from_text,
)
from kit.api.offload import run_cpu

__all__ = [
    "CATALOG",
    "MAX_BODY_BYTES",
    "MAX_TEXT_CHARS",
    "SCHEMA",
    "SCHEMA_MAJOR",
    "Empty",
    "Endpoint",
    "ErrorReply",
    "OkReply",
    "Problem",
    "Reply",
    "Request",
    "endpoint",
    "error_from_exception",
    "error_reply",
    "problem_from_text",
    "run_cpu",
]


def load_catalog() -> dict[str, Endpoint[Any, Any]]:
    """Import every core endpoint family so :data:`CATALOG` holds all core endpoints."""
    from kit.api import core, deployments, recipes, scan, writes  # noqa: F401

    return CATALOG
