"""Models of the scan endpoints ``scan.*``: start a sweep in the runtime, follow it, stop it,
and ask which recipes fit the devices it found (the TUI's front door, docs/scan.md).

The scan runs in the runtime, not in the client: it sweeps the network the runtime (and so
its adapters) sits on, and the inventory lands in the runtime's data directory, where
``kit install --device N`` on that machine reads it. One scan at a time per runtime.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from kit.api.endpoint import Empty, Reply, Request, endpoint

#: Default Modbus unit ids of a scan (as ``kit scan --units``).
DEFAULT_UNITS = "1-3,247,255"
#: Default ports of a scan (as ``kit scan --ports``).
DEFAULT_PORTS = "502,4840"


class StartRequest(Request):
    """What to scan and how gently (the same limits as ``kit scan``)."""

    targets: str = Field(min_length=1, max_length=4000)
    """Networks, addresses, ranges, separated by spaces or commas (``192.168.10.0/24``)."""
    ports: str = Field(DEFAULT_PORTS, max_length=500)
    units: str = Field(DEFAULT_UNITS, max_length=500)
    concurrency: int = Field(16, ge=1, le=256)
    rate: float = Field(50.0, ge=0.1, le=1000)
    host_rate: float = Field(10.0, ge=0.1, le=1000)
    timeout_s: float = Field(1.0, ge=0.05, le=30)


class ScanProgress(Reply):
    """Counts of the running (or last) scan."""

    hosts_total: int = 0
    hosts_done: int = 0
    open_ports: int = 0
    devices: int = 0
    identified: int = 0
    requests: int = 0
    seconds: float = 0.0


class StatusReply(Reply):
    """The scan now running, or the site's last inventory."""

    running: bool = False
    state: str = "none"
    """``none`` (never scanned), ``running``, ``finished``, ``stopped`` (Ctrl-C/stop) or
    ``failed``."""
    limits: str = ""
    """The limits in words, as ``kit scan`` prints them at the start."""
    progress: ScanProgress = Field(default_factory=ScanProgress)
    inventory: dict[str, Any] | None = None
    """The inventory (:class:`kit.scan.inventory.Inventory`), filled as endpoints finish."""
    error: str | None = None
    saved_to: str | None = None


class SuggestRequest(Request):
    """Device numbers of the inventory (1-based, ``kit scan`` numbering) to find recipes for."""

    devices: list[int] = Field(min_length=1, max_length=256)


class Suggestion(Reply):
    """A recipe that fits ticked devices, and the wizard values the inventory fills in."""

    recipe: str
    title: str = ""
    devices: dict[str, int] = Field(default_factory=dict)
    """Recipe asset role → device number."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Host, port, unit id and profile parameters filled from the inventory."""
    ready: bool = True
    """False when a role of the recipe has no ticked device yet (see ``missing``)."""
    missing: list[str] = Field(default_factory=list)
    """Roles without a ticked device that fits."""
    note: str = ""
    expected_value: float | None = None
    """Ranking key (``kit scan opportunities``'s): midpoint of the business case, at half
    while a role is missing; None for an enabler (no value model)."""
    value_low: float | None = None
    """Initial business case per asset and year (:mod:`kit.scan.business`), low end."""
    value_high: float | None = None
    currency: str = ""


class SuggestReply(Reply):
    """Recipes for the ticked devices, best first as ``kit scan opportunities`` ranks."""

    suggestions: list[Suggestion] = Field(default_factory=list)
    unmatched: list[int] = Field(default_factory=list)
    """Ticked devices no recipe fits (unknown profile, or none needs what they provide)."""


START = endpoint("scan.start", StartRequest, StatusReply, "Start a network scan (one at a time).")
STATUS = endpoint("scan.status", Empty, StatusReply, "The running scan or the last inventory.")
STOP = endpoint("scan.stop", Empty, StatusReply, "Stop the running scan; keep what it found.")
SUGGEST = endpoint("scan.suggest", SuggestRequest, SuggestReply, "Recipes for found devices.")
