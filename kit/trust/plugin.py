"""The trust layer's hook implementations (entry point ``kit-trust`` of fast-track-kit).

Adds the control API endpoints ``writes.request`` and ``writes.confirm`` and serves guarded
writes on ``kit.cmd.<asset>`` once the runtime is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from typing import Any

import kit
from kit.trust.busauth import identified_subject
from kit.trust.writes import WriteGuard


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """Guarded writes on the control API (technician role and above, see kit.trust.busauth)."""
    from kit.api import writes as writes_api

    guard = WriteGuard(runtime)
    runtime.write_guard = guard

    # The plain subjects are reachable only with the admin grant; lower roles call
    # kit.control.as.<role>.<endpoint>, which only that role may publish to, so the subject
    # the server delivered is the caller's authenticated identity (audit source, item 12).
    def handlers(identity: str) -> tuple[Any, Any]:
        async def request(b: writes_api.WriteRequest) -> dict[str, Any]:
            return await guard.request(b.model_dump(), identity=identity)

        async def confirm(b: writes_api.ConfirmRequest) -> dict[str, Any]:
            return await guard.confirm(b.model_dump(), identity=identity)

        return request, confirm

    request, confirm = handlers("admin")
    api.add(writes_api.REQUEST, request)
    api.add(writes_api.CONFIRM, confirm)
    for role in ("technician",):
        request, confirm = handlers(role)
        for spec, fn in ((writes_api.REQUEST, request), (writes_api.CONFIRM, confirm)):
            api.add(dataclasses.replace(spec, name=identified_subject(spec.name, role)), fn)


@kit.hookimpl
def runtime_started(runtime: Any) -> None:
    """Start serving ``kit.cmd.>`` (in the background: the hook must return quickly)."""
    guard = getattr(runtime, "write_guard", None)
    if guard is None:
        return
    task = asyncio.get_running_loop().create_task(guard.serve_cmd())
    runtime._trust_cmd_task = task


@kit.hookimpl
def runtime_stopping(runtime: Any) -> None:
    """Nothing to flush: the subscription closes with the runtime's connection."""
    task = getattr(runtime, "_trust_cmd_task", None)
    if task is not None and not task.done():
        with contextlib.suppress(Exception):
            task.cancel()
