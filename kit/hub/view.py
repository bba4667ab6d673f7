"""The fleet view (``kit fleet``, the TUI's fleet screen): every site side by side.

Read at the hub only, from what the sites send by sourcing:

- per site, its newest *inventory* event in ``FLEET_EVENTS`` (:func:`kit.hub.agent.inventory`:
  kit and plugin versions, deployments with status and commissioning result, component
  health) and when it was sent;
- KPIs per shift: the ``FLEET_KPI`` values whose window is a shift (``shift:<date>/<name>``)
  of the chosen KPIs (default OEE and kWh per part) over the last hours, the newest value
  per site, asset, shift and KPI (a shift's final value is its last).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kit import subjects
from kit.hub.agent import inventory_path
from kit.hub.config import HUB_STREAMS

DEFAULT_KPIS = ("oee", "energy_per_part_kwh")


@dataclass
class SiteCard:
    """One site in the fleet view."""

    site: str
    seen: str | None = None
    """When the site's newest inventory was sent (None: never reached the hub)."""
    kit_version: str | None = None
    plugins: list[dict[str, str]] = field(default_factory=list)
    deployments: list[dict[str, Any]] = field(default_factory=list)
    components: dict[str, str] = field(default_factory=dict)
    retention: list[dict[str, Any]] = field(default_factory=list)
    """Per site stream: hours its limits hold at the current write rate (kit.retention)."""

    @property
    def health(self) -> str:
        """``ok`` when every component runs, else what is not running (or ``unknown``)."""
        if self.seen is None:
            return "unknown"
        bad = sorted(f"{n} {s}" for n, s in self.components.items() if s not in ("running",))
        return "ok" if not bad else "; ".join(bad)


@dataclass
class ShiftRow:
    """One asset's KPIs in one shift at one site."""

    shift: str
    site: str
    asset: str
    values: dict[str, float | None] = field(default_factory=dict)


async def hub_sites(js: Any) -> list[str]:
    """Sites the hub sources (from its ``FLEET_*`` streams' sources)."""
    sites: set[str] = set()
    for hub_stream in HUB_STREAMS:
        try:
            info = await js.stream_info(hub_stream)
        except Exception:  # not created yet (no site sends that stream)
            continue
        for src in info.config.sources or []:
            api = src.external.api if src.external else ""
            if api.startswith("$JS.") and api.endswith(".API"):
                sites.add(api[len("$JS.") : -len(".API")])
    return sorted(sites)


async def site_card(js: Any, site: str) -> SiteCard:
    """The site's newest inventory at the hub."""
    subject = subjects.event_subject("inventory", inventory_path(site))
    card = SiteCard(site)
    try:
        msg = await js.get_last_msg("FLEET_EVENTS", subject)
    except Exception:  # none yet
        return card
    ev = json.loads(msg.data)
    data = ev.get("data") or {}
    card.seen = ev.get("ts")
    card.kit_version = data.get("kit_version")
    card.plugins = data.get("plugins") or []
    card.deployments = data.get("deployments") or []
    card.components = data.get("components") or {}
    card.retention = data.get("retention") or []
    return card


async def shift_kpis(
    js: Any, kpis: tuple[str, ...] = DEFAULT_KPIS, hours: float = 48.0, read_timeout: float = 1.0
) -> list[ShiftRow]:
    """Per shift, site and asset: the newest value of each of ``kpis`` (newest shift first)."""
    from nats.js.api import ConsumerConfig, DeliverPolicy

    since = datetime.now(UTC) - timedelta(hours=hours)
    rows: dict[tuple[str, str, str], ShiftRow] = {}
    for kpi in kpis:
        try:
            sub = await js.subscribe(
                f"{subjects.KPI_PREFIX}.*.*.*.*.{kpi}",
                stream="FLEET_KPI",
                ordered_consumer=True,
                config=ConsumerConfig(
                    deliver_policy=DeliverPolicy.BY_START_TIME, opt_start_time=since
                ),
            )
        except Exception:  # no FLEET_KPI yet
            return []
        try:
            while True:
                try:
                    msg = await sub.next_msg(timeout=read_timeout)
                except Exception:
                    break  # nothing (more) in the window
                try:
                    v = json.loads(msg.data)
                    window = str(v.get("window") or "")
                    if window.startswith("shift:"):
                        site = msg.subject.split(".")[2]
                        key = (window[len("shift:") :], site, str(v["asset"]))
                        row = rows.setdefault(key, ShiftRow(*key))
                        row.values[kpi] = v.get("value")
                except (ValueError, KeyError, TypeError):
                    pass  # not a KPI payload: not shown
                if msg.metadata.num_pending == 0:
                    break
        finally:
            await sub.unsubscribe()
    return sorted(rows.values(), key=lambda r: (r.shift, r.site, r.asset), reverse=True)


async def fleet_view(
    nc: Any, kpis: tuple[str, ...] = DEFAULT_KPIS, hours: float = 48.0
) -> dict[str, Any]:
    """Everything the fleet view shows: site cards and the KPIs per shift side by side."""
    js = nc.jetstream()
    cards = [await site_card(js, s) for s in await hub_sites(js)]
    return {
        "sites": [{**asdict(c), "health": c.health} for c in cards],
        "kpis": list(kpis),
        "shifts": [asdict(r) for r in await shift_kpis(js, kpis, hours)],
    }


def render_view(view: dict[str, Any]) -> str:
    """The human text of :func:`fleet_view` (``kit fleet``)."""
    out = ["SITES"]
    out.append(f"{'site':<16} {'kit':<9} {'deployments':<40} {'health':<20} seen")
    for c in view["sites"]:
        deps = ", ".join(
            f"{d['id']} {d['version']}" + (f" ({d['result']})" if d.get("result") else "")
            for d in c["deployments"]
        )
        out.append(
            f"{c['site']:<16} {c['kit_version'] or '-':<9} {deps or '-':<40} "
            f"{c['health']:<20} {c['seen'] or 'never'}"
        )
    plugins = sorted(
        {f"{p['distribution']} {p['version']}" for c in view["sites"] for p in c["plugins"]}
    )
    if plugins:
        out += ["", "PLUGINS (site: versions)"]
        for c in view["sites"]:
            vers = ", ".join(f"{p['distribution']} {p['version']}" for p in c["plugins"])
            out.append(f"{c['site']:<16} {vers or '-'}")
    if any(c["retention"] for c in view["sites"]):
        out += [
            "",
            "SITE RETENTION (hours each stream holds at its current rate: the longest outage without loss)",
        ]
        for c in view["sites"]:
            held = ", ".join(
                f"{e['stream']} {e['holds_hours']:.0f} h"
                if e.get("holds_hours") is not None
                else f"{e['stream']} up to its age limit ({e['retention_hours'] or '∞'} h)"
                for e in c["retention"]
            )
            out.append(f"{c['site']:<16} {held or '-'}")
    kpis = view["kpis"]
    out += ["", "KPIS PER SHIFT"]
    out.append(f"{'shift':<22} {'site':<16} {'asset':<32} " + " ".join(f"{k:>20}" for k in kpis))
    for r in view["shifts"]:
        cells = " ".join(f"{_fmt(r['values'].get(k)):>20}" for k in kpis)
        out.append(f"{r['shift']:<22} {r['site']:<16} {r['asset']:<32} {cells}")
    if not view["shifts"]:
        out.append("(no shift KPIs at the hub in the period)")
    return "\n".join(out)


def _fmt(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)
