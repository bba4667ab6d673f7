"""The trust layer's hook implementations (entry point ``kit-trust`` of fast-track-kit).

Adds the control API endpoints ``writes.request`` and ``writes.confirm`` and serves guarded
writes on ``kit.cmd.<asset>`` once the runtime is up.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from typing import Any

import kit
from kit.trust.busauth import identified_subject
from kit.trust.writes import WriteGuard


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """Guarded writes on the control API (technician role and above, see kit.trust.busauth)."""
    guard = WriteGuard(runtime)
    runtime.write_guard = guard
    # The plain subjects are reachable only with the admin grant; lower roles call
    # kit.control.as.<role>.<endpoint>, which only that role may publish to, so the subject
    # the server delivered is the caller's authenticated identity (audit source, item 12).
    api.add("writes.request", guard.request)
    api.add("writes.confirm", guard.confirm)
    for role in ("technician",):
        for ep, fn in (("writes.request", guard.request), ("writes.confirm", guard.confirm)):
            api.add(identified_subject(ep, role), functools.partial(_as, fn, role))


async def _as(fn: Any, role: str, body: Any) -> Any:
    return await fn(body, identity=role)


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
