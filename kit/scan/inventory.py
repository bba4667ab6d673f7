"""The site's inventory: what ``kit scan`` found, saved as ``<data dir>/inventory.json``.

Versioned (``version``), validated on load; written atomically so an interrupted scan never
leaves half a file. A scan stopped by Ctrl-C is saved too, with ``complete: false``: what
was found is kept. ``kit install RECIPE --device N`` fills host, port, unit id and profile
from entry N of :meth:`Inventory.devices` (1-based, the numbering ``kit scan`` shows).

Later consumers (recipe matching across devices, the readiness assessment, the scan report,
the TUI front door) read the same file: per endpoint the protocol and what it offered
(OPC UA security policies, identification), per device the ranked profile candidates with
confidence and evidence, and the scan's own limits and timing.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Final, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kit.errors import ConfigError

INVENTORY_VERSION: Final = 1
MATCH_THRESHOLD = 0.5
"""A device is identified when its best candidate's confidence is at least this."""


class Candidate(BaseModel):
    """One profile a device may be, with how sure and why."""

    model_config = ConfigDict(extra="forbid")

    profile: str
    confidence: float = Field(ge=0.0, le=1.0)
    score: float
    """Evidence in log10 likelihood-ratio units (docs/scan.md#confidence)."""
    evidence: list[str] = []


class Device(BaseModel):
    """One device at an endpoint (a unit id behind a Modbus TCP port, an OPC UA server)."""

    model_config = ConfigDict(extra="forbid")

    unit_id: int | None = None
    status: Literal["identified", "unknown", "busy", "error"]
    profile: str | None = None
    """Best candidate when identified (confidence ≥ MATCH_THRESHOLD)."""
    confidence: float = 0.0
    identification: dict[str, str] = {}
    """What the device says about itself (FC43/14 objects, OPC UA application description)."""
    candidates: list[Candidate] = []
    """Best first; at most a handful."""
    notes: list[str] = []
    requests: int = 0


class Endpoint(BaseModel):
    """An open port and what answers on it."""

    model_config = ConfigDict(extra="forbid")

    host: str
    port: int
    protocol: str
    status: Literal["scanned", "no_answer", "error", "interrupted"]
    detail: str = ""
    requests: int = 0
    """Protocol requests sent to this endpoint (connects not counted)."""
    seconds: float = 0.0
    info: dict[str, Any] = {}
    """Protocol facts (OPC UA: application, endpoints with security policies …)."""
    devices: list[Device] = []


class Limits(BaseModel):
    """How gently the scan went (shown at the start and saved)."""

    model_config = ConfigDict(extra="forbid")

    concurrency: int
    rate: float
    host_rate: float
    timeout_s: float
    units: list[int]


class Inventory(BaseModel):
    """The result of one scan."""

    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = INVENTORY_VERSION
    kit_version: str = ""
    started_at: str = ""
    finished_at: str = ""
    complete: bool = False
    """False when the scan was stopped (Ctrl-C): what it found so far is kept."""
    targets: list[str] = []
    ports: dict[int, str] = {}
    limits: Limits | None = None
    hosts_total: int = 0
    hosts_done: int = 0
    open_ports: int = 0
    requests: int = 0
    seconds: float = 0.0
    endpoints: list[Endpoint] = []

    def devices(self) -> list[tuple[Endpoint, Device]]:
        """Every device in display order; ``kit install --device N`` picks entry N-1."""
        return [(e, d) for e in self.endpoints for d in e.devices]


def inventory_path(data_dir: Path | str) -> Path:
    """``<data dir>/inventory.json``."""
    return Path(data_dir) / "inventory.json"


def save_inventory(inv: Inventory, path: Path) -> None:
    """Write atomically (temp file + rename): a crash leaves the old file, never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".inventory-", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(inv.model_dump_json(indent=2))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_inventory(path: Path) -> Inventory:
    """The inventory at ``path``.

    Raises:
        ConfigError: missing (run ``kit scan`` first) or invalid.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no inventory yet; run `kit scan TARGETS` first") from None
    try:
        return Inventory.model_validate_json(text)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = ".".join(str(x) for x in first["loc"])
        raise ConfigError(f"{path}: {loc}: {first['msg']} (run `kit scan` again)") from None


def install_params(inv: Inventory, number: int, defs: dict[str, Any]) -> dict[str, Any]:
    """Recipe parameter values from device ``number`` (1-based) of ``inv``.

    ``defs`` are the recipe's parameter definitions (name → ``{type: …}``). The one parameter
    of each type ``host``, ``port`` and ``profile`` and the one integer parameter named
    ``unit_id`` (or ending in it) get the device's address, port, unit id and best profile.

    Raises:
        ConfigError: no such device; a device without an identified profile for a recipe
            that needs one; a recipe with several devices (which one is meant is ambiguous:
            give them with ``--set``).
    """
    devices = inv.devices()
    if not 1 <= number <= len(devices):
        raise ConfigError(
            f"--device {number}: the inventory has {len(devices)} device(s) "
            "(`kit scan` numbers them in its table)"
        )
    ep, dev = devices[number - 1]
    want = {
        "host": ep.host,
        "port": ep.port,
        "profile": dev.profile,
        "unit_id": dev.unit_id,
    }
    out: dict[str, Any] = {}
    for kind, value in want.items():
        names = [
            n
            for n, d in defs.items()
            if (d.get("type") == kind if kind != "unit_id" else n.endswith("unit_id"))
        ]
        if not names or value is None and kind == "unit_id":
            continue
        if len(names) > 1:
            raise ConfigError(
                f"--device: the recipe has several {kind} parameters ({', '.join(names)}); "
                "give them with --set NAME=VALUE"
            )
        if value is None:
            raise ConfigError(
                f"--device {number}: {ep.host}:{ep.port} unit {dev.unit_id} was not identified "
                f"(status {dev.status}); give the profile with --set {names[0]}=PROFILE"
            )
        out[names[0]] = value
    return out


PRIOR = 3.0
"""log10 prior odds against any one profile (docs/scan.md#confidence)."""


def confidence(score: float) -> float:
    """``1 / (1 + 10^(PRIOR − score))``: evidence in log10 likelihood-ratio units → 0–1."""
    return 1.0 / (1.0 + cast(float, 10.0 ** min(50.0, PRIOR - score)))
