"""The scan as a runtime service: ``scan.start`` / ``scan.status`` / ``scan.stop`` /
``scan.suggest`` on the control API (models in :mod:`kit.api.scan`).

Why in the runtime and not in the client (the TUI): the scan must sweep the network the
runtime's adapters will poll from, its inventory belongs in the runtime's data directory
(where ``kit install --device N`` reads it), and the TUI talks to a runtime — local, remote
or through ``kit web`` — only through the control API. The sweep itself is the one of
``kit scan`` (:func:`kit.scan.sweep.run_scan`, same limits and safety rules).

One scan at a time: a second ``scan.start`` while one runs is refused. The client follows
progress by polling ``scan.status`` (counts and the inventory so far); ``scan.stop`` cancels
the sweep, which keeps what it found (``complete: false``). The inventory is saved
atomically when the scan ends, however it ends (also when the runtime stops).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from typing import Any

from kit import __version__
from kit.api import scan as scan_api
from kit.errors import ConfigError, KitError
from kit.scan.inventory import Inventory, Limits, inventory_path, load_inventory, save_inventory
from kit.scan.sweep import Progress, ScanOptions, run_scan
from kit.scan.targets import parse_int_list, parse_ports, parse_targets

log = logging.getLogger(__name__)


def scanners(host: Any) -> dict[str, type]:
    """protocol → adapter component class that can scan it (has ``scan_endpoint``)."""
    out: dict[str, type] = {}
    for reg in host.components.items.values():
        proto = getattr(reg.cls, "protocol", None)
        if proto and hasattr(reg.cls, "scan_endpoint"):
            out.setdefault(proto, reg.cls)
    return out


def limits_text(opts: ScanOptions) -> str:
    """The limits in words (as ``kit scan`` prints them before it sends anything)."""
    return (
        f"{len(opts.targets)} host(s), ports "
        + ", ".join(f"{p}/{proto}" for p, proto in opts.ports.items())
        + f"; at most {opts.concurrency} hosts at a time, {opts.rate:g} requests/s in total, "
        f"{opts.host_rate:g}/s per host, one request in flight per device; "
        f"timeout {opts.timeout_s:g} s; reads only"
    )


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def scan_options(
    found: dict[str, type],
    targets: list[str],
    ports: str,
    units: str,
    *,
    concurrency: int,
    rate: float,
    host_rate: float,
    timeout_s: float,
) -> ScanOptions:
    """Parse a scan's arguments (``kit scan`` and ``scan.start`` take the same ones).

    ``found`` are the scanners (:func:`scanners`): their ``scan_ports`` name the protocol of
    a bare port. The per-host rate is at most the total rate.

    Raises:
        ConfigError: bad targets, ports without a protocol, bad unit ids (nothing sent).
    """
    known = {p: proto for proto, cls in found.items() for p in getattr(cls, "scan_ports", ())}
    return ScanOptions(
        targets=parse_targets(targets),
        ports=parse_ports(ports, known, found),
        # Unit 0 is broadcast: writes only, no device answers a read there.
        units=parse_int_list(units, 1, 255, "unit id"),
        concurrency=concurrency,
        rate=rate,
        host_rate=min(host_rate, rate),
        timeout_s=timeout_s,
        connect_timeout_s=timeout_s,
    )


def new_inventory(opts: ScanOptions, targets: list[str]) -> Inventory:
    """The empty inventory of a scan starting now with ``opts`` (``targets`` as given)."""
    return Inventory(
        kit_version=__version__,
        started_at=_now(),
        targets=targets,
        ports=opts.ports,
        limits=Limits(
            concurrency=opts.concurrency,
            rate=opts.rate,
            host_rate=opts.host_rate,
            timeout_s=opts.timeout_s,
            units=opts.units,
        ),
    )


class ScanService:
    """Runs at most one scan for a runtime and remembers its state."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.task: asyncio.Task[None] | None = None
        self.inventory: Inventory | None = None
        self.progress = Progress()
        self.state = "none"
        self.limits = ""
        self.error: str | None = None
        self.saved_to: str | None = None
        self._stopping = False
        self._t0 = 0.0

    @property
    def running(self) -> bool:
        """True while a sweep runs."""
        return self.task is not None and not self.task.done()

    def options(self, b: scan_api.StartRequest) -> ScanOptions:
        """Parse a start request as ``kit scan`` parses its arguments.

        Raises:
            ConfigError: bad targets, ports without a protocol, bad unit ids (nothing sent).
        """
        return scan_options(
            scanners(self.runtime.host),
            [b.targets],
            b.ports,
            b.units,
            concurrency=b.concurrency,
            rate=b.rate,
            host_rate=b.host_rate,
            timeout_s=b.timeout_s,
        )

    async def start(self, b: scan_api.StartRequest) -> dict[str, Any]:
        """Start a sweep in the background; the reply is the first status."""
        if self.running:
            raise KitError("a scan is already running; stop it first (scan.stop)")
        opts = self.options(b)
        found = scanners(self.runtime.host)
        lib = self.runtime.library.profiles()
        profiles = {proto: lib.by_protocol(proto) for proto in found}
        self.inventory = new_inventory(opts, b.targets.replace(",", " ").split())
        self.progress = Progress(hosts_total=len(opts.targets))
        self.state, self.error, self.saved_to, self._stopping = "running", None, None, False
        self.limits = limits_text(opts)
        self._t0 = time.monotonic()
        log.info("scan started: %s", self.limits)
        self.task = self.runtime.spawn(self._run(opts, found, profiles), name="scan")
        return self.status()

    async def _run(self, opts: ScanOptions, found: dict[str, type], profiles: Any) -> None:
        inv = self.inventory
        assert inv is not None

        def on_event(_kind: str, _payload: Any, p: Progress) -> None:
            self.progress = p

        try:
            await run_scan(opts, found, profiles, inv, on_event)
            self.state = "finished"
        except asyncio.CancelledError:
            self.state = "stopped"
            if not self._stopping:  # the runtime is stopping: end as asked, after saving
                self._save(inv)
                raise
        except Exception as exc:  # a scan bug must not take the runtime down
            log.exception("scan failed")
            self.state, self.error = "failed", str(exc)
        self._save(inv)

    def _save(self, inv: Inventory) -> None:
        inv.finished_at = _now()
        path = inventory_path(self.runtime.settings.data_dir)
        try:
            save_inventory(inv, path)
            self.saved_to = str(path)
        except OSError as exc:
            self.error = f"the inventory could not be saved to {path}: {exc}"

    async def stop(self) -> dict[str, Any]:
        """Cancel the running sweep (what it found is kept and saved)."""
        if self.running:
            assert self.task is not None
            self._stopping = True
            self.task.cancel()
            await asyncio.wait({self.task})
        return self.status()

    def status(self) -> dict[str, Any]:
        """The running scan, else the last scan of this runtime, else the saved inventory."""
        inv = self.inventory
        state = self.state
        error = self.error
        if inv is None:
            try:
                inv = load_inventory(inventory_path(self.runtime.settings.data_dir))
                state = "finished" if inv.complete else "stopped"
            except ConfigError as exc:
                if "no inventory yet" not in str(exc):
                    error = str(exc)
        progress = self.progress
        if inv is not None and not self.running:
            devs = inv.devices()
            progress = Progress(
                hosts_total=inv.hosts_total,
                hosts_done=inv.hosts_done,
                open_ports=inv.open_ports,
                devices=len(devs),
                identified=sum(d.status == "identified" for _, d in devs),
                requests=inv.requests,
            )
        seconds = inv.seconds if inv is not None else 0.0
        if self.running:
            seconds = round(time.monotonic() - self._t0, 1)
        return {
            "running": self.running,
            "state": state,
            "limits": self.limits,
            "progress": {**progress.__dict__, "seconds": seconds},
            "inventory": inv.model_dump(mode="json") if inv is not None else None,
            "error": error,
            "saved_to": self.saved_to,
        }

    def current_inventory(self) -> Inventory:
        """The inventory suggestions are made from (this runtime's scan, else the saved one).

        Raises:
            ConfigError: no inventory yet.
        """
        if self.inventory is not None:
            return self.inventory
        return load_inventory(inventory_path(self.runtime.settings.data_dir))


def add_endpoints(api: Any, runtime: Any) -> ScanService:
    """Serve ``scan.*`` for ``runtime`` (needs its ``host``, ``library``, ``settings``, ``spawn``)."""
    from kit.scan.suggest import suggest_recipes

    svc = ScanService(runtime)

    async def start(b: scan_api.StartRequest) -> dict[str, Any]:
        return await svc.start(b)

    async def status(_b: Any) -> dict[str, Any]:
        return svc.status()

    async def stop(_b: Any) -> dict[str, Any]:
        return await svc.stop()

    async def suggest(b: scan_api.SuggestRequest) -> dict[str, Any]:
        from kit.scan.questionnaire import answers_path, load_answers

        # The site's answers value the suggestions as `kit scan opportunities` does.
        answers = load_answers(answers_path(runtime.settings.data_dir))
        return await suggest_recipes(runtime, svc.current_inventory(), b.devices, answers)

    for spec, fn in (
        (scan_api.START, start),
        (scan_api.STATUS, status),
        (scan_api.STOP, stop),
        (scan_api.SUGGEST, suggest),
    ):
        api.add(spec, fn)
    return svc
