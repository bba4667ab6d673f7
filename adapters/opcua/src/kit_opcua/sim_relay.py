"""A TCP relay in front of the simulated OPC UA server, to inject network faults.

Clients connect to the relay, not to asyncua, so the simulator can delay every message, hold
them (a hung device) or cut every connection without touching asyncua internals.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

__all__ = ["Relay", "free_port"]


def free_port(host: str) -> int:
    """A currently free TCP port on ``host`` (the simulator keeps it across restarts)."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


class Relay:
    """TCP relay in front of the server: lets the simulator delay, mute or cut connections."""

    def __init__(self, host: str, port: int, target: tuple[str, int]) -> None:
        self.host, self.port, self.target = host, port, target
        self.delay = 0.0
        self._answering = asyncio.Event()
        """Set while the relay passes messages on; cleared while :attr:`silent`."""
        self._answering.set()
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def silent(self) -> bool:
        """True while the relay holds every message (a hung device; connections stay open)."""
        return not self._answering.is_set()

    @silent.setter
    def silent(self, silent: bool) -> None:
        if silent:
            self._answering.clear()
        else:
            self._answering.set()  # held messages go on at once

    async def start(self) -> None:
        """Listen on ``host:port`` (the port is kept across simulator restarts)."""
        self._server = await asyncio.start_server(
            self._handle, self.host, self.port, reuse_address=True
        )

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        self._writers |= {writer, uw}
        t1 = asyncio.create_task(self._pipe(reader, uw))
        t2 = asyncio.create_task(self._pipe(ur, writer))
        self._tasks |= {t1, t2}
        await asyncio.wait({t1, t2}, return_when=asyncio.FIRST_COMPLETED)
        for t in (t1, t2):
            t.cancel()
        for w in (writer, uw):
            self._writers.discard(w)
            w.close()
        self._tasks -= {t1, t2}

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            data = await reader.read(65536)
            if not data:
                return
            # A hung device: hold everything until unmuted (or cut: the pipe is cancelled).
            await self._answering.wait()
            if self.delay:
                await asyncio.sleep(self.delay)  # injected latency (the fault being simulated)
            writer.write(data)
            await writer.drain()

    def drop(self) -> None:
        """Close every relayed connection (the server behind keeps running)."""
        for w in list(self._writers):
            w.close()

    async def stop(self) -> None:
        """Cut every connection and stop listening."""
        self.drop()
        for t in list(self._tasks):
            t.cancel()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
