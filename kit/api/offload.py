"""CPU-heavy endpoint work (YAML parsing, recipe validation) runs off the event loop.

The runtime's event loop also polls devices and serves every other endpoint; a request that
parses a large or hostile YAML document must not stall it (issue 19.7: a 2.6 KB alias bomb
sent to ``recipes.validate`` once blocked the loop for 7.6 s). Work goes to a small bounded
thread pool, so a flood of such requests queues there instead of taking every thread.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

T = TypeVar("T")

#: Threads for CPU-heavy endpoint work; more requests wait for a free one.
WORKERS = 2
_pool: ThreadPoolExecutor | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="kit-api-cpu")
    return _pool


async def run_cpu(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in the bounded pool and await its result."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), functools.partial(fn, *args, **kwargs))
