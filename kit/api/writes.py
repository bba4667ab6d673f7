"""Models of guarded device writes: ``writes.request`` / ``writes.confirm`` on the control
API, and the same two steps on ``kit.cmd.<site>.<area>.<line>.<asset>`` (``action`` field)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kit.api.endpoint import Reply, Request, endpoint

WriteValue = float | int | bool | str
WHO = Field(None, max_length=200)


class WriteRequest(Request):
    """Step 1: ask to write ``value`` to ``point`` of ``asset`` (checked against the rules)."""

    asset: str = Field(min_length=1, max_length=400)
    """Asset path ``site/area/line/asset``."""
    point: str = Field(min_length=1, max_length=200)
    value: WriteValue
    who: str | None = WHO


class Bounds(Reply):
    """The rule's bounds for the point."""

    min: float | None = None
    max: float | None = None
    values: list[WriteValue] | None = None


class WriteRequestReply(Reply):
    """A pending write: confirm it with its ``request_id`` within ``expires_in_s``."""

    request_id: str
    asset: str
    point: str
    value: WriteValue
    deployment: str
    bounds: Bounds
    expires_in_s: float


class ConfirmRequest(Request):
    """Step 2: execute a requested write."""

    request_id: str = Field(min_length=1, max_length=200)
    who: str | None = WHO


class ConfirmReply(Reply):
    """The executed write."""

    request_id: str
    executed: bool
    component: str
    asset: str
    point: str
    value: WriteValue


class CmdRequest(Request):
    """A body on ``kit.cmd.<asset>``: the subject names the asset, the body the action.

    An ``asset`` in the body must name the subject's asset (the subject is authoritative; the
    server permissions are granted per subject).
    """

    action: Literal["request", "confirm"]
    asset: str | None = Field(None, max_length=400)
    point: str | None = Field(None, min_length=1, max_length=200)
    value: WriteValue | None = None
    request_id: str | None = Field(None, min_length=1, max_length=200)
    who: str | None = WHO


REQUEST = endpoint("writes.request", WriteRequest, WriteRequestReply, "Request a device write.")
CONFIRM = endpoint("writes.confirm", ConfirmRequest, ConfirmReply, "Confirm a requested write.")
