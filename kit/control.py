"""The control API: a NATS micro-service (``nats.micro``) named ``kit-control``.

Every endpoint is request/reply with JSON bodies on ``kit.control.<endpoint>``. The CLI and
the TUI use only this API (plus the bus contract) to talk to a runtime, local or remote.
Replies are ``{"ok": true, "result": …}`` or ``{"ok": false, "error": "…", "code": N}``
where ``code`` is the CLI exit code of the matching :class:`kit.errors.KitError`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import nats.errors
from nats import micro
from nats.micro.request import Request

from kit.bus import Bus
from kit.errors import KitError, RuntimeNotRunning

log = logging.getLogger(__name__)
PREFIX = "kit.control"
SERVICE = "kit-control"

Handler = Callable[[Any], Awaitable[Any]]


class ControlAPI:
    """Endpoints of the runtime. Modules add theirs with :meth:`add` before :meth:`start`."""

    def __init__(self, bus: Bus, version: str) -> None:
        self.bus = bus
        self.version = version
        self.handlers: dict[str, Handler] = {}
        self._service: Any = None

    def add(self, name: str, handler: Handler) -> None:
        """Expose ``handler(body) -> result`` as ``kit.control.<name>``."""
        self.handlers[name] = handler

    async def start(self) -> None:
        """Register the service and its endpoints on the bus."""
        self._service = await micro.add_service(
            self.bus.nc,
            name=SERVICE,
            version=self.version,
            description="Fast-Track Kit runtime control API",
        )
        for name, handler in self.handlers.items():
            await self._service.add_endpoint(
                name=name.replace(".", "_"), subject=f"{PREFIX}.{name}", handler=self._wrap(handler)
            )

    def _wrap(self, handler: Handler) -> Callable[[Request], Awaitable[None]]:
        async def _h(req: Request) -> None:
            try:
                body = json.loads(req.data) if req.data else None
                result = await handler(body)
                reply = {"ok": True, "result": result}
            except KitError as exc:
                reply = {"ok": False, "error": str(exc), "code": exc.exit_code}
            except Exception as exc:  # report, keep serving
                log.exception("control endpoint failed")
                reply = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "code": 1}
            await req.respond(json.dumps(reply, default=str).encode())

        return _h

    async def stop(self) -> None:
        """Unregister the service."""
        if self._service is not None:
            try:
                await self._service.stop()
            except Exception:  # connection may already be closing
                pass


class ControlClient:
    """Calls control API endpoints; raises KitError for failures, with the remote message."""

    def __init__(self, bus: Bus, timeout: float = 10.0) -> None:
        self.bus = bus
        self.timeout = timeout

    async def call(self, endpoint: str, body: Any = None, timeout: float | None = None) -> Any:
        """Call ``kit.control.<endpoint>`` and return its result.

        Raises:
            RuntimeNotRunning: nobody serves the control API at this bus.
            KitError: the runtime reported an error (exit code preserved).
        """
        try:
            reply = await self.bus.request_json(
                f"{PREFIX}.{endpoint}", body, timeout or self.timeout
            )
        except (nats.errors.NoRespondersError, nats.errors.TimeoutError):
            raise RuntimeNotRunning(
                f"no kit runtime answered at {self.bus.url}; start one with `kit up`"
            ) from None
        if not reply.get("ok"):
            err = KitError(reply.get("error", "unknown error"))
            err.exit_code = int(reply.get("code", 1))
            raise err
        return reply.get("result")
