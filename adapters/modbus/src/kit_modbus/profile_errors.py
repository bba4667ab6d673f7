"""Pydantic error plumbing for Modbus profiles: every problem reported in one pass.

Pydantic stops before cross-field checks when any field is wrong; a technician would then fix
one typo only to meet the next batch. :func:`cross_problems_of_valid_points` re-validates the
well-formed points on their own and maps their problems back to the file's indices.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

__all__ = ["cross_problems_of_valid_points", "detail"]


def _with_ctx(details: InitErrorDetails, ctx: Any) -> InitErrorDetails:
    """``details`` with the error's context, when it has one."""
    if ctx:
        details["ctx"] = ctx
    return details


def detail(err: Any) -> InitErrorDetails:
    """A pydantic error dict back as InitErrorDetails (keeping its type, e.g. extra_forbidden)."""
    ctx = err.get("ctx")
    try:
        # Probe that pydantic-core knows the type with this context.
        ValidationError.from_exception_data(
            "probe", [_with_ctx(InitErrorDetails(type=err["type"], loc=(), input=None), ctx)]
        )
        return _with_ctx(
            InitErrorDetails(type=err["type"], loc=err["loc"], input=err.get("input")), ctx
        )
    except (KeyError, TypeError, ValueError):
        return InitErrorDetails(
            type=PydanticCustomError(str(err["type"]), "{msg}", {"msg": err["msg"]}),
            loc=err["loc"],
            input=err.get("input"),
        )


def cross_problems_of_valid_points(
    data: Any, exc: ValidationError, handler: Any
) -> list[InitErrorDetails]:
    """Cross-field problems among the points that passed field validation (see ``_every_problem``)."""
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        return []
    bad: set[int] = set()
    for err in exc.errors():
        loc = list(err["loc"])
        if loc and loc[0] == "points" and len(loc) > 1 and isinstance(loc[1], int):
            bad.add(loc[1])
        elif loc and loc[0] not in ("simulation",):
            return []  # connection or envelope broken: cross checks would only mislead
    kept = [i for i in range(len(data["points"])) if i not in bad]
    if not kept:
        return []
    dropped = {
        str(p.get("semantic"))
        for i, p in enumerate(data["points"])
        if i in bad and isinstance(p, dict)
    }
    reduced = {k: v for k, v in data.items() if k != "points"}
    reduced["points"] = [data["points"][i] for i in kept]
    if any(err["loc"][:1] == ("simulation",) for err in exc.errors()):
        reduced.pop("simulation", None)
    try:
        # Depending on how pydantic nests the validators, the handler may or may not run the
        # after-validator; run the cross checks explicitly when it returns a model.
        model = handler(reduced)
    except ValidationError as again:
        errors: Sequence[Any] = again.errors()
    else:
        errors = [
            {"type": "modbus_profile", "loc": loc, "msg": msg}
            for loc, msg in model._expand()
            + model._normalise(model._defaults())
            + model._check_simulation()
        ]
    out = []
    if errors:
        for err in errors:
            loc = list(err["loc"])
            if err["type"] != "modbus_profile":
                continue
            if loc[:2] and loc[0] == "simulation" and len(loc) > 2 and loc[2] in dropped:
                continue  # names a point that has its own (shape) error
            if loc[0] == "points" and len(loc) > 1 and isinstance(loc[1], int):
                loc[1] = kept[loc[1]]
            msg = re.sub(
                r"points\[(\d+)\]", lambda m: f"points[{kept[int(m.group(1))]}]", err["msg"]
            )
            out.append(
                InitErrorDetails(
                    type=PydanticCustomError("modbus_profile", "{msg}", {"msg": msg}),
                    loc=tuple(loc),
                    input=None,
                )
            )
    return out
