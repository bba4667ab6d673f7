"""Process-level settings that keep the runtime small on an edge box (docs/sizing.md).

glibc gives every thread that allocates its own malloc arena (up to 8 per core), and freed
memory in an arena is rarely returned to the system. The runtime's threads are few and
short-lived (``asyncio.to_thread`` for file work, the historian's Parquet writes), yet each
left tens of MiB of resident, mostly empty heap: limiting the process to two arenas measured
16 MiB less RSS at 1,000 points per second, with no throughput cost.
"""

from __future__ import annotations

import os
import sys

M_ARENA_MAX = -8  # from glibc's malloc.h
DEFAULT_ARENAS = 2


def limit_malloc_arenas(arenas: int = DEFAULT_ARENAS) -> bool:
    """Cap glibc's malloc arenas for this process; call before any thread starts.

    An operator's own ``MALLOC_ARENA_MAX`` wins (glibc has already applied it).

    Returns:
        True if the limit was set here; False elsewhere (not glibc, or set by the operator).
    """
    if not sys.platform.startswith("linux") or "MALLOC_ARENA_MAX" in os.environ:
        return False
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, int(arenas)))
    except (OSError, AttributeError):  # musl and others have no mallopt: nothing to do
        return False
