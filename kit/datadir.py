"""One runtime per data directory: a lock file, and where a running runtime advertises itself.

A runtime holds an exclusive ``flock`` on ``<data_dir>/runtime.lock`` for its whole life
(the kernel releases it when the process dies, even after ``kill -9``), so a second runtime
on the same data directory refuses to start instead of stopping the first one's server and
rewriting its credentials. While it runs it advertises its bus URL and pid in
``<data_dir>/runtime.json``; CLI commands without ``--url`` read that file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any

from kit.errors import KitError

LOCK_FILE = "runtime.lock"
RUNTIME_FILE = "runtime.json"


class DataDirInUse(KitError):
    """Another kit runtime is running on this data directory."""

    exit_code = 8


def runtime_file(data_dir: Path) -> Path:
    """Where a running runtime advertises its bus URL and pid (read by the CLI)."""
    return Path(data_dir) / RUNTIME_FILE


def read_runtime_file(data_dir: Path) -> dict[str, Any] | None:
    """The advertised runtime of ``data_dir`` if its process is alive, else None."""
    try:
        info: dict[str, Any] = json.loads(runtime_file(data_dir).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError, ProcessLookupError):
        return None
    return info


class DataDirLock:
    """The exclusive lock of one data directory (held open for the runtime's life)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.path = self.data_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    def try_acquire(self) -> bool:
        """Take the lock if free; False if another process holds it."""
        if self._fd is not None:
            return True
        self.data_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return True

    def acquire(self) -> None:
        """Take the lock or raise :class:`DataDirInUse` naming the runtime that holds it."""
        if self.try_acquire():
            return
        info = read_runtime_file(self.data_dir)
        who = f" (pid {info['pid']}, bus {info['url']})" if info else ""
        raise DataDirInUse(
            f"data directory {self.data_dir} is in use by another kit runtime{who}. "
            "Stop that runtime first, or give this one its own data directory "
            "(KIT_DATA_DIR or data_dir in the site config); `kit status` talks to the "
            "running one."
        )

    def release(self) -> None:
        """Give the lock up (the file stays; an unlocked file means nothing)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def running_runtimes(data_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    """Running runtimes of ``data_dir`` itself and of the demo directories under it
    (``kit demo`` runs in ``<data_dir>/demo``, ``demo-2`` …), as (directory, advertisement)."""
    base = Path(data_dir)
    dirs = [base]
    with contextlib.suppress(OSError):
        dirs += sorted(p for p in base.iterdir() if p.is_dir() and p.name.startswith("demo"))
    out = []
    for d in dirs:
        info = read_runtime_file(d)
        if info is not None:
            out.append((d, info))
    return out
