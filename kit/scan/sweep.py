"""The bounded, paced, concurrent sweep behind ``kit scan``.

Safety limits (docs/scan.md):

* ``concurrency`` hosts are worked on at once; each host belongs to one worker, which checks
  its ports and talks to what answers **sequentially** — at most one connection and one
  request in flight per device.
* every protocol request waits for the shared :class:`kit.scan.pace.Pacer` (``rate`` per
  second for the whole scan, ``host_rate`` per host).
* only TCP connects to the given addresses and ports; an open port is handed to the adapter
  of its protocol (``scan_endpoint``), which only reads.
* cancelling the scan (Ctrl-C) stops the workers; what was found is in the inventory, with
  endpoints being scanned at that moment marked ``interrupted``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from kit.aio import wait_for
from kit.scan.inventory import Endpoint, Inventory
from kit.scan.pace import Pacer


@dataclass
class ScanOptions:
    """What to scan and how gently."""

    targets: list[str]
    ports: dict[int, str]
    units: list[int] = field(default_factory=lambda: [1, 2, 3, 247, 255])
    concurrency: int = 16
    rate: float = 50.0
    host_rate: float = 10.0
    timeout_s: float = 1.0
    connect_timeout_s: float = 1.0


@dataclass
class Progress:
    """Counts for the progress display."""

    hosts_total: int = 0
    hosts_done: int = 0
    open_ports: int = 0
    devices: int = 0
    identified: int = 0
    requests: int = 0


async def port_open(host: str, port: int, timeout_s: float) -> bool:
    """True when a TCP connection to ``host:port`` succeeds within ``timeout_s`` (then closed)."""
    try:
        _, writer = await wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    try:
        await writer.wait_closed()
    except OSError:
        pass
    return True


def prepare_scanners(scanners: dict[str, Any], protocols: Iterable[str]) -> None:
    """Let each scanner of ``protocols`` load what it needs (its optional ``scan_prepare``
    classmethod) *before* the sweep: a library imported inside the running sweep blocks the
    event loop — asyncua takes seconds on a small host — and connects about to start then
    time out (a scan of ports 502 and 4840 lost Modbus devices that way). :func:`run_scan`
    calls it in a worker thread, so a TUI's event loop is not blocked either."""
    for proto in dict.fromkeys(protocols):
        prep = getattr(scanners.get(proto), "scan_prepare", None)
        if callable(prep):
            prep()


def _sort_key(e: Endpoint) -> tuple[int, int, int]:
    # Version first: IPv4 and IPv6 addresses do not compare with each other.
    ip = ipaddress.ip_address(e.host)
    return (ip.version, int(ip), e.port)


async def run_scan(
    opts: ScanOptions,
    scanners: dict[str, Any],
    profiles: dict[str, list[Any]],
    inventory: Inventory,
    on_event: Callable[[str, Any, Progress], None] | None = None,
) -> Inventory:
    """Sweep ``opts.targets`` × ``opts.ports``, filling ``inventory`` as endpoints finish.

    Args:
        scanners: protocol → adapter class with ``scan_endpoint``.
        profiles: protocol → the library's profiles of that protocol (fingerprint candidates).
        inventory: filled in place, so a cancelled scan leaves what it found there.
        on_event: ``(kind, payload, progress)`` for ``host_done`` / ``endpoint`` / ``open``.

    Cancelling the task stops every worker; the inventory is then ``complete: false``.
    """
    pacer = Pacer(opts.rate, opts.host_rate)
    progress = Progress(hosts_total=len(opts.targets))
    inventory.hosts_total = len(opts.targets)
    await asyncio.to_thread(prepare_scanners, scanners, opts.ports.values())
    queue: asyncio.Queue[str] = asyncio.Queue()
    for h in opts.targets:
        queue.put_nowait(h)
    busy: dict[int, tuple[str, int, str, float]] = {}
    t0 = time.monotonic()

    def emit(kind: str, payload: Any) -> None:
        progress.requests = pacer.total()
        if on_event is not None:
            on_event(kind, payload, progress)

    async def scan_port(host: str, port: int, proto: str) -> Endpoint:
        endpoint = f"{host}:{port}"

        async def pace() -> None:
            await pacer.acquire(host, endpoint)

        started = time.monotonic()
        try:
            got = await scanners[proto].scan_endpoint(
                host,
                port,
                pace=pace,
                profiles=profiles.get(proto, []),
                units=opts.units,
                timeout_s=opts.timeout_s,
            )
            ep = Endpoint(host=host, port=port, protocol=proto, **got)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one broken endpoint must not end the sweep
            ep = Endpoint(
                host=host, port=port, protocol=proto, status="error", detail=f"{exc}"[:300]
            )
        ep.requests = pacer.sent[endpoint]
        ep.seconds = round(time.monotonic() - started, 3)
        return ep

    async def worker(wid: int) -> None:
        while True:
            try:
                host = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            for port, proto in opts.ports.items():
                if not await port_open(host, port, opts.connect_timeout_s):
                    continue
                progress.open_ports += 1
                inventory.open_ports = progress.open_ports
                emit("open", (host, port, proto))
                busy[wid] = (host, port, proto, time.monotonic())
                ep = await scan_port(host, port, proto)
                del busy[wid]
                inventory.endpoints.append(ep)
                progress.devices += len(ep.devices)
                progress.identified += sum(d.status == "identified" for d in ep.devices)
                emit("endpoint", ep)
            progress.hosts_done += 1
            inventory.hosts_done = progress.hosts_done
            emit("host_done", host)

    workers = [asyncio.create_task(worker(i)) for i in range(max(1, opts.concurrency))]
    try:
        await asyncio.gather(*workers)
        inventory.complete = True
    finally:
        for w in workers:
            w.cancel()
        for host, port, proto, started in busy.values():
            inventory.endpoints.append(
                Endpoint(
                    host=host,
                    port=port,
                    protocol=proto,
                    status="interrupted",
                    detail="the scan was stopped while this endpoint was being scanned",
                    requests=pacer.sent[f"{host}:{port}"],
                    seconds=round(time.monotonic() - started, 3),
                )
            )
        inventory.endpoints.sort(key=_sort_key)
        inventory.requests = pacer.total()
        inventory.seconds = round(time.monotonic() - t0, 3)
    return inventory
