"""The control API: a NATS micro-service (``nats.micro``) named ``kit-control``.

Every endpoint is request/reply with JSON bodies on ``kit.control.<endpoint>``. The CLI and
the TUI use only this API (plus the bus contract) to talk to a runtime, local or remote.

Each endpoint is registered with its :class:`kit.api.Endpoint` spec (request and reply
models). The server refuses a body that is too large, not JSON or not valid for the request
model *before* the handler runs, and answers with the envelope of :mod:`kit.api.envelope`:
``{"schema": "kit.control/1", "ok": true, "result": …}`` or ``{"schema": …, "ok": false,
"error": "…", "code": N, "kind": …, "problems": [{file, line, field, message, hint}]}``
where ``code`` is the CLI exit code of the matching :class:`kit.errors.KitError`.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, overload

import nats.errors
import orjson
from nats import micro
from nats.micro.request import Request
from pydantic import BaseModel, ValidationError

from kit.api.endpoint import MAX_BODY_BYTES, Endpoint
from kit.api.envelope import (
    SCHEMA_MAJOR,
    ErrorReply,
    OkReply,
    Problem,
    encode_reply,
    error_from_exception,
    error_reply,
    problems_from_validation,
    schema_major,
)
from kit.bus import Bus
from kit.errors import KitError, RuntimeNotRunning

log = logging.getLogger(__name__)
PREFIX = "kit.control"
SERVICE = "kit-control"

Handler = Callable[[Any], Awaitable[Any]]
RepT = TypeVar("RepT", bound=BaseModel)


class ControlError(KitError):
    """The runtime answered a control call with an error; ``problems`` says what exactly."""

    def __init__(self, reply: ErrorReply) -> None:
        super().__init__(reply.error)
        self.exit_code = reply.code
        self.kind = reply.kind
        self.problems: list[Problem] = list(reply.problems)
        self.problem_list = self.problems  # carried through when re-raised by another server

    def field_problems(self) -> dict[str, Problem]:
        """Problems that name a field, by field (first one wins)."""
        out: dict[str, Problem] = {}
        for p in self.problems:
            if p.field:
                out.setdefault(p.field, p)
        return out


def _invalid(message: str, problems: list[Problem] | None = None, name: str = "") -> ErrorReply:
    return error_reply(message, code=2, kind="invalid_request", problems=problems, endpoint=name)


class ControlAPI:
    """Endpoints of the runtime. Modules add theirs with :meth:`add` before :meth:`start`."""

    def __init__(self, bus: Bus, version: str) -> None:
        self.bus = bus
        self.version = version
        self.handlers: dict[str, Handler] = {}
        self.specs: dict[str, Endpoint[Any, Any] | None] = {}
        self._service: Any = None

    def add(
        self,
        endpoint: str | Endpoint[Any, Any],
        handler: Handler,
        *,
        request: type[BaseModel] | None = None,
        reply: type[BaseModel] | None = None,
    ) -> None:
        """Expose ``handler`` as ``kit.control.<name>``.

        ``endpoint`` is an :class:`kit.api.Endpoint` spec (preferred: the handler then gets a
        validated instance of its request model and its result is checked against the reply
        model) or a name, with optional ``request``/``reply`` models. Without a request model
        the handler gets the parsed JSON body as is (older plugins).
        """
        if isinstance(endpoint, Endpoint):
            spec: Endpoint[Any, Any] | None = endpoint
            name = endpoint.name
        else:
            name = endpoint
            spec = None
            if request is not None or reply is not None:
                from kit.api.endpoint import AnyReply, Empty

                spec = Endpoint(name, request or Empty, reply or AnyReply)
        self.handlers[name] = handler
        self.specs[name] = spec

    async def start(self) -> None:
        """Register the service and its endpoints on the bus."""
        self._service = await micro.add_service(
            self.bus.nc,
            name=SERVICE,
            version=self.version,
            description="Fast-Track Kit runtime control API",
        )
        for name in self.handlers:
            await self._service.add_endpoint(
                name=name.replace(".", "_"), subject=f"{PREFIX}.{name}", handler=self._wrap(name)
            )

    def _wrap(self, name: str) -> Callable[[Request], Awaitable[None]]:
        async def _h(req: Request) -> None:
            data = await self.dispatch(name, req.data)
            try:
                await req.respond(data)
            except Exception as exc:  # requester gone / connection closing: keep serving
                log.debug("control reply on %s not sent: %s", name, exc)

        return _h

    async def dispatch(self, name: str, data: bytes) -> bytes:
        """Validate ``data``, run the handler of ``name``, and encode the reply envelope.

        Never raises: every failure becomes an error envelope (the runtime keeps serving).
        """
        spec = self.specs.get(name)
        limit = spec.max_body if spec is not None else MAX_BODY_BYTES
        reply: OkReply | ErrorReply
        try:
            if len(data) > limit:
                reply = _invalid(
                    f"request body too large: {len(data)} bytes (at most {limit})", name=name
                )
                return _encode(reply)
            try:
                body = orjson.loads(data) if data.strip() else None
            except orjson.JSONDecodeError as exc:
                reply = _invalid(
                    "request body is not valid JSON",
                    [Problem(message=f"not valid JSON: {exc}", hint="send a JSON object")],
                    name,
                )
                return _encode(reply)
            arg: Any = body
            if spec is not None:
                try:
                    arg = spec.request.model_validate({} if body is None else body)
                except ValidationError as exc:
                    problems = problems_from_validation(exc, spec.request)
                    reply = _invalid(
                        f"invalid request for {name}: "
                        + "; ".join(p.text() for p in problems[:3])
                        + (f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""),
                        problems,
                        name,
                    )
                    return _encode(reply)
            result = await self.handlers[name](arg)
            if spec is not None:
                model = (
                    result if isinstance(result, spec.reply) else spec.reply.model_validate(result)
                )
                result = model.model_dump(mode="json", by_alias=True)
            reply = OkReply(result=result)
        except Exception as exc:  # KitError = the user's problem; anything else is a bug
            if not isinstance(exc, KitError):
                log.exception("control endpoint %s failed", name)
            reply = error_from_exception(exc, name)
        return _encode(reply)

    async def stop(self) -> None:
        """Unregister the service."""
        if self._service is not None:
            try:
                await self._service.stop()
            except Exception:  # connection may already be closing
                pass


def _encode(reply: OkReply | ErrorReply) -> bytes:
    try:
        return encode_reply(reply)
    except Exception:  # an unencodable result (untyped endpoint): report it, still as JSON
        log.exception("control reply could not be encoded")
        return encode_reply(error_from_exception(TypeError("unencodable reply")))


def parse_envelope(reply: Any) -> OkReply | ErrorReply:
    """The envelope of a raw reply; refuses a schema major this client does not know.

    A reply without ``schema`` comes from a runtime older than the typed API; its shape is
    the same as ``kit.control/1``.
    """
    if not isinstance(reply, dict):
        raise KitError(f"the runtime sent a reply that is not a JSON object: {str(reply)[:80]}")
    major = schema_major(reply.get("schema")) if "schema" in reply else SCHEMA_MAJOR
    if major != SCHEMA_MAJOR:
        raise KitError(
            f"the runtime speaks control API {reply.get('schema')!r}; this client knows "
            f"kit.control/{SCHEMA_MAJOR} — install the same kit version on both sides"
        )
    if reply.get("ok"):
        return OkReply.model_validate(reply)
    err = dict(reply)
    err.setdefault("error", "unknown error")
    if not isinstance(err["error"], str):
        err["error"] = str(err["error"])
    err.setdefault("problems", [{"message": err["error"]}])
    return ErrorReply.model_validate(err)


class ControlClient:
    """Calls control API endpoints; raises :class:`ControlError` for failures."""

    def __init__(self, bus: Bus, timeout: float = 10.0) -> None:
        self.bus = bus
        self.timeout = timeout

    @overload
    async def call(
        self, endpoint: Endpoint[Any, RepT], body: Any = None, timeout: float | None = None
    ) -> RepT: ...

    @overload
    async def call(self, endpoint: str, body: Any = None, timeout: float | None = None) -> Any: ...

    async def call(
        self, endpoint: str | Endpoint[Any, Any], body: Any = None, timeout: float | None = None
    ) -> Any:
        """Call ``kit.control.<endpoint>`` and return its result.

        With an :class:`kit.api.Endpoint` spec, ``body`` may be its request model (or a dict)
        and the result is the reply model; with a name, the result is the plain JSON value.

        Raises:
            RuntimeNotRunning: nobody serves the control API at this bus.
            ControlError: the runtime reported an error (exit code and problems preserved).
        """
        spec = endpoint if isinstance(endpoint, Endpoint) else None
        name = spec.name if spec is not None else str(endpoint)
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
        try:
            raw = await self.bus.request_json(f"{PREFIX}.{name}", body, timeout or self.timeout)
        except nats.errors.NoRespondersError:
            raise RuntimeNotRunning(
                f"no kit runtime answered at {self.bus.url}; start one with `kit up`"
            ) from None
        except nats.errors.TimeoutError:
            # Someone may be listening but did not answer in time (a busy runtime): say so
            # rather than claim nothing runs there.
            raise RuntimeNotRunning(
                f"no kit runtime answered at {self.bus.url} within "
                f"{timeout or self.timeout:g} s ({name}); is `kit up` running and not overloaded?"
            ) from None
        env = parse_envelope(raw)
        if isinstance(env, ErrorReply):
            raise ControlError(env)
        return spec.parse_reply(env.result) if spec is not None else env.result
