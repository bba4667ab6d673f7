"""The TUI's connection to a runtime: bus subscriptions, last values and control API calls.

:class:`RuntimeLink` is a bus client like any other. It subscribes to the bus contract
(``kit.data.>``, ``kit.kpi.>``, ``kit.event.>``, ``kit.health.>``), seeds the store from
the ``KIT_LAST`` KV bucket and calls ``kit.control.*`` endpoints through
:class:`kit.control.ControlClient`. It never raises into the UI for a bus problem: it
reports its state (``connecting`` / ``connected`` / ``disconnected``) through a callback and
keeps retrying with backoff, so the UI shows "disconnected, retrying" and stays usable.

Endpoints that a runtime does not serve (the optional plugins are not installed, or the
runtime is older) raise :class:`NotAvailable`, which screens show as "not available on
this runtime" instead of failing. The list of served endpoints comes from the micro
service's own ``$SRV.INFO`` reply.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from kit.errors import KitError
from kit_tui.data.store import LiveStore

log = logging.getLogger(__name__)

#: Subjects of the bus contract the TUI listens to, and the store method fed by each.
SUBSCRIPTIONS = {
    "kit.data.>": "apply_batch",
    "kit.kpi.>": "apply_kpi",
    "kit.event.>": "apply_event",
    "kit.health.>": "apply_health",
}
CONTROL_SERVICE = "kit-control"
CONTROL_PREFIX = "kit.control."


class NotAvailable(KitError):
    """The runtime does not serve this control API endpoint (plugin missing or older kit)."""


class LinkDown(KitError):
    """The bus is not connected right now; the link keeps retrying by itself."""


@dataclass(frozen=True)
class LinkState:
    """Connection state reported to the UI."""

    state: str
    """``connecting``, ``connected`` or ``disconnected``."""
    detail: str = ""
    """Human-readable detail (URL, error, next retry)."""

    @property
    def connected(self) -> bool:
        """True when the bus is up."""
        return self.state == "connected"


class DataSource(Protocol):
    """What the app needs from a runtime: a store, a connection loop and control calls."""

    store: LiveStore
    url: str

    async def run(self, on_state: Callable[[LinkState], None]) -> None:
        """Connect and keep the store fed until cancelled."""

    async def call(self, endpoint: Any, body: Any = None, timeout: float = 10.0) -> Any:
        """Call ``kit.control.<endpoint>``; raise NotAvailable, LinkDown or KitError.

        ``endpoint`` is a :class:`kit.api.Endpoint` spec (the result is its reply model) or
        a name (plain JSON). Runtime errors are :class:`kit.control.ControlError`, whose
        ``problems`` name the fields.
        """


class RuntimeLink:
    """A live link to a runtime's bus (see module docstring)."""

    def __init__(
        self,
        url: str,
        store: LiveStore | None = None,
        *,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 5.0,
        connect_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.connect_options = dict(connect_options or {})
        """Credentials/TLS for ``Bus.connect`` (from the CLI's site settings)."""
        self.store = store or LiveStore()
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.bus: Any = None
        self.endpoints: set[str] | None = None
        self.state = LinkState("connecting", url)
        self._on_state: Callable[[LinkState], None] = lambda s: None

    def _set(self, state: str, detail: str = "") -> None:
        self.state = LinkState(state, detail)
        self._on_state(self.state)

    async def run(self, on_state: Callable[[LinkState], None]) -> None:
        """Connect with backoff, subscribe, seed last values; then let nats-py reconnect.

        Runs until cancelled (the app's worker is cancelled at exit).
        """
        from kit.bus import Bus

        self._on_state = on_state
        delay = self.retry_initial_s
        while self.bus is None:
            self._set("connecting", self.url)
            try:
                self.bus = await Bus.connect(
                    self.url,
                    name="kit-tui",
                    connect_timeout=2,
                    disconnected_cb=self._disconnected,
                    reconnected_cb=self._reconnected,
                    **self.connect_options,
                )
            except KitError as exc:
                self._set("disconnected", f"{exc} — retrying in {delay:.0f} s")
                await asyncio.sleep(delay)  # retry schedule, not synchronisation
                delay = min(self.retry_max_s, delay * 2)
        try:
            for subject, method in SUBSCRIPTIONS.items():
                await self.bus.nc.subscribe(subject, cb=self._feeder(getattr(self.store, method)))
            await self._after_connect()
            await asyncio.Event().wait()  # nats-py reconnects by itself; we only report
        finally:
            bus, self.bus = self.bus, None
            if bus is not None and not bus.nc.is_closed:
                await bus.nc.close()

    def _feeder(self, apply: Callable[[Any], None]) -> Callable[[Any], Any]:
        store = self.store

        async def _cb(msg: Any) -> None:
            try:
                obj = json.loads(msg.data)
            except ValueError:
                store.malformed += 1
                return
            apply(obj)

        return _cb

    async def _after_connect(self) -> None:
        self._set("connected", self.url)
        await self.refresh_endpoints()
        await self.load_last_values()

    async def _disconnected(self) -> None:
        self._set("disconnected", f"lost {self.url} — retrying")

    async def _reconnected(self) -> None:
        # The runtime may have restarted with other plugins: forget what it served.
        self.endpoints = None
        await self._after_connect()

    async def refresh_endpoints(self) -> set[str] | None:
        """Ask the control service which endpoints it serves (None if nobody answered)."""
        if self.bus is None:
            return None
        try:
            msg = await self.bus.nc.request(f"$SRV.INFO.{CONTROL_SERVICE}", b"", timeout=2)
            info = json.loads(msg.data)
            self.endpoints = {
                e["subject"][len(CONTROL_PREFIX) :]
                for e in info.get("endpoints", [])
                if str(e.get("subject", "")).startswith(CONTROL_PREFIX)
            }
        except Exception as exc:  # no runtime yet, or not a kit: calls will say so
            log.debug("control service info: %s", exc)
            self.endpoints = None
        return self.endpoints

    async def load_last_values(self) -> int:
        """Seed the store from ``KIT_LAST`` (one key per asset). Returns assets loaded."""
        from kit.bus import KV_LAST

        n = 0
        try:
            kv = await self.bus.js.key_value(KV_LAST)
            for key in await kv.keys():
                entry = await kv.get(key)
                if entry and entry.value:
                    self.store.load_last(key, json.loads(entry.value))
                    n += 1
        except Exception as exc:  # empty bucket raises NoKeysError; a missing bucket is not fatal
            log.debug("KIT_LAST: %s", exc)
        return n

    async def call(self, endpoint: Any, body: Any = None, timeout: float = 10.0) -> Any:
        """Call ``kit.control.<endpoint>`` (a :class:`kit.api.Endpoint` spec or a name).

        Raises:
            LinkDown: the bus is not connected.
            NotAvailable: the runtime does not serve ``endpoint``.
            KitError: the runtime reported an error (message shown to the user).
        """
        from kit.control import ControlClient
        from kit.errors import RuntimeNotRunning

        name = getattr(endpoint, "name", endpoint)
        if self.bus is None or not self.bus.nc.is_connected:
            raise LinkDown(f"not connected to {self.url}")
        if self.endpoints is None:
            await self.refresh_endpoints()
        if self.endpoints is not None and name not in self.endpoints:
            raise NotAvailable(f"'{name}' is not available on this runtime")
        try:
            return await ControlClient(self.bus, timeout).call(endpoint, body)
        except RuntimeNotRunning:
            if self.endpoints is None:
                raise LinkDown(f"no kit runtime answered at {self.url}") from None
            raise NotAvailable(f"'{name}' did not answer on this runtime") from None
