"""Helpers for tests that run ``kit`` as a user does: subprocesses, a pseudo-terminal,
finding the embedded nats-server of a data directory."""

from __future__ import annotations

import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

KIT = [sys.executable, "-m", "kit"]


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env_for(data_dir: Path, **extra: str) -> dict:
    """The environment of a ``kit`` subprocess using ``data_dir`` (no inherited KIT_*)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    env.update({"KIT_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1", **extra})
    return env


def nats_servers(data_dir: Path) -> list[int]:
    """Pids of nats-server processes whose command line names ``data_dir``."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                stat = (p / "stat").read_text()
            except OSError:
                continue
            if " Z " in stat.split(")", 1)[-1][:3]:
                continue  # a zombie is gone, only not yet reaped
            if "nats-server" in cmd and str(data_dir) in cmd:
                out.append(int(p.name))
    return out


class PtyProcess:
    """A process on its own pseudo-terminal, leader of its own process group — as a shell
    runs a foreground command, so a "Ctrl-C" is SIGINT to the whole group."""

    def __init__(self, args: list[str], env: dict) -> None:
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            args, env=env, stdin=slave, stdout=slave, stderr=slave, start_new_session=True
        )
        os.close(slave)
        self.output = ""

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the other side closed (process exited)
            return False
        if not chunk:
            return False
        self.output += chunk.decode(errors="replace")
        return True

    def wait_for(self, needle: str, timeout: float = 90) -> None:
        """Read output until ``needle`` appears (fails if the process exits first)."""
        deadline = time.monotonic() + timeout
        while needle not in self.output:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {needle!r} within {timeout} s:\n{self.output}")
            if not self._read(0.2) and self.proc.poll() is not None:
                raise AssertionError(
                    f"exited {self.proc.returncode} before {needle!r}:\n{self.output}"
                )

    def wait_for_count(self, needle: str, count: int, timeout: float = 60) -> None:
        """Read output until ``needle`` occurs ``count`` times."""
        deadline = time.monotonic() + timeout
        while self.output.count(needle) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} not {count}× within {timeout} s:\n{self.output}")
            if not self._read(0.2) and self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode}:\n{self.output}")

    def ctrl_c(self) -> None:
        """What the terminal does on Ctrl-C: SIGINT to the foreground process group."""
        os.killpg(self.proc.pid, signal.SIGINT)

    def wait(self, timeout: float = 60) -> int:
        """Wait for the exit, collecting all output; returns the exit code."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._read(0.1)
        while self._read(0.05) and select.select([self.master], [], [], 0)[0]:
            pass
        rc = self.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        os.close(self.master)
        return rc
