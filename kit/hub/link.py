"""Bytes per second on each site's leaf link, from the hub nodes' own counters.

Every hub node started by ``kit hub`` serves nats-server's monitoring endpoint on
127.0.0.1 (``monitor_ports``/``monitor_bound`` in ``hub.json``). Its ``/leafz`` lists each leaf connection
with the remote server's name (``kit-<site>``, :func:`kit.hub.leaf.apply_link`) and the
bytes received from and sent to it. Two readings ``window`` seconds apart give the rate
each way; ``kit fleet status`` shows it per site. Only on the hub's machine (the endpoint
is loopback-only and unauthenticated by design).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from dataclasses import asdict, dataclass
from typing import Any

from kit.hub.config import HubState


@dataclass
class LinkRate:
    """One site's leaf link over the measuring window."""

    site: str
    in_bytes_s: float
    """Site → hub."""
    out_bytes_s: float
    """Hub → site."""
    in_bytes: int
    out_bytes: int
    rtt: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)


def _leafz(port: int, timeout: float = 2.0) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/leafz"
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 (loopback, fixed scheme)
        leafs: list[dict[str, Any]] = json.loads(r.read()).get("leafs") or []
        return leafs


async def read_counters(ports: list[int]) -> dict[str, dict[str, Any]]:
    """Leaf counters per site, summed over the nodes (a site may be linked to any node)."""
    out: dict[str, dict[str, Any]] = {}
    for port in ports:
        try:
            leafs = await asyncio.to_thread(_leafz, port)
        except OSError:  # a node down: its links are down too
            continue
        for leaf in leafs:
            name = str(leaf.get("name") or "")
            if not name.startswith("kit-"):
                continue
            c = out.setdefault(name[len("kit-") :], {"in": 0, "out": 0, "rtt": None})
            c["in"] += int(leaf.get("in_bytes") or 0)
            c["out"] += int(leaf.get("out_bytes") or 0)
            c["rtt"] = leaf.get("rtt") or c["rtt"]
    return out


async def link_rates(state: HubState, window: float = 1.0) -> dict[str, LinkRate]:
    """Bytes/s each way per site over ``window`` seconds ({} without monitoring ports)."""
    ports = [p for p in (state.monitor_bound or state.monitor_ports) if p]
    if not ports:
        return {}
    t0 = time.monotonic()
    first = await read_counters(ports)
    await asyncio.sleep(window)  # the measuring window itself
    second = await read_counters(ports)
    dt = time.monotonic() - t0
    out = {}
    for site, c in second.items():
        p = first.get(site, {"in": c["in"], "out": c["out"]})
        out[site] = LinkRate(
            site=site,
            in_bytes_s=max(0, c["in"] - p["in"]) / dt,
            out_bytes_s=max(0, c["out"] - p["out"]) / dt,
            in_bytes=c["in"],
            out_bytes=c["out"],
            rtt=c["rtt"],
        )
    return out
