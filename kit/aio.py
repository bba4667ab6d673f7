"""``wait_for`` that never loses a cancellation, on every Python the kit supports.

On Python 3.11 ``asyncio.wait_for`` returns the awaited result — and drops the cancellation
— when the task is cancelled in the same loop tick as the awaited future completes
(CPython gh-86296, gh-107547; Python 3.12 rewrote it on ``asyncio.timeout``). nats-py awaits
every request through it, so a component cancelled while its KV put was being answered kept
running: its stop waited forever (a CI run hung 300 s in an OEE stop) and, after a restart,
the old instance would keep saving state next to the new one. Raspberry Pi OS and Debian 12
ship Python 3.11, so the kit carries the 3.12 semantics itself: :func:`wait_for` here, and
:mod:`kit.natscompat` points nats-py's modules at it.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


async def _wait_for_312(aw: Awaitable[T], timeout: float | None) -> T:
    """Python 3.12's ``asyncio.wait_for``: the timeout is an ``asyncio.timeout`` scope, so a
    cancellation from outside always propagates and only our own deadline becomes
    ``TimeoutError``."""
    if timeout is not None and timeout <= 0:
        fut = asyncio.ensure_future(aw)
        if fut.done():
            return fut.result()
        fut.cancel()
        # Wait for the cancellation to finish without being cancelled by it (as 3.12 does).
        await asyncio.wait({fut})
        try:
            return fut.result()
        except asyncio.CancelledError as exc:
            raise TimeoutError from exc
    async with asyncio.timeout(timeout):
        return await aw


if sys.version_info >= (3, 12):
    wait_for = asyncio.wait_for
else:
    wait_for = _wait_for_312


def asyncio_namespace() -> Any:
    """A stand-in for the ``asyncio`` module whose ``wait_for`` is :func:`wait_for`.

    For libraries that call ``asyncio.wait_for`` through their module-level ``asyncio`` name
    (nats-py): assigning this to ``library_module.asyncio`` fixes them without touching the
    ``asyncio`` module everybody else uses.
    """
    import types

    ns = types.ModuleType("asyncio", asyncio.__doc__)
    ns.__dict__.update({k: v for k, v in vars(asyncio).items() if not k.startswith("__")})
    ns.wait_for = wait_for  # type: ignore[attr-defined]
    return ns
