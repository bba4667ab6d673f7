"""Daily compaction of the historian's part files, run in a short-lived child process.

Compaction merges a finished day's part files with polars (streamed Parquet), once a day.
Run inside the runtime it would keep polars' ~35 MiB resident for the rest of the process's
life; a child process returns that memory when it exits (docs/sizing.md).

``python -m kit_historian.compact ROOT KIND DAY`` prints the number of files removed.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import date
from pathlib import Path


async def compact_in_child(root: Path, kind: str, day: date) -> int:
    """Compact ``kind``'s partition ``day`` under ``root`` in a child Python process.

    Returns:
        The number of part files removed.

    Raises:
        RuntimeError: the child failed (its error output is in the message); the journal of
            :class:`kit_historian.storage.Store` keeps the tree consistent either way.
    """
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "kit_historian.compact",
        str(root),
        kind,
        day.isoformat(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(
            f"compaction of {kind} {day} failed: {err.decode(errors='replace')[-2000:]}"
        )
    return int(out.decode().strip() or 0)


def main(argv: list[str]) -> int:
    """Compact one day of one kind; prints the files removed."""
    from kit_historian.storage import Store

    root, kind, day = argv
    # No recover() here: the runtime may be committing today's rows meanwhile; an
    # interrupted compaction's journal is finished by the historian's own recover at start.
    store = Store(Path(root), kind)
    print(store.compact(date.fromisoformat(day)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
