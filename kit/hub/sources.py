"""The hub's ``FLEET_*`` streams, each sourcing the matching stream of every site.

``FLEET_KPI`` sources each site's ``KIT_KPI``, ``FLEET_EVENTS`` its ``KIT_EVENTS`` and, for
sites added with raw data, ``FLEET_DATA`` its ``KIT_DATA``. Each source goes through the
site's JetStream domain (``$JS.<site>.API``), is filtered to the site's own subject token
and delivers on ``$KIT.fleet.<site>.…`` (the only delivery subjects the site's hub
user may publish). The hub streams take no subjects of their own: data arrives only by
sourcing, which tracks each source's sequence, so an outage delays and never duplicates.
"""

from __future__ import annotations

from typing import Any

from nats.js.api import (
    DiscardPolicy,
    ExternalStream,
    RetentionPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
)
from nats.js.errors import NotFoundError

from kit.hub.config import FLEET_STREAMS, HUB_STREAMS, HubState, deliver_prefix, site_filter

#: Default retention of the hub streams (days); a hub is sized for many sites (docs/fleet.md).
MAX_AGE_DAYS = {"FLEET_KPI": 400, "FLEET_EVENTS": 400, "FLEET_DATA": 30}


def site_stream_for(hub_stream: str, raw_data: str) -> str | None:
    """Which of a site's streams goes into ``hub_stream`` (None: nothing from this site)."""
    if hub_stream != "FLEET_DATA":
        return next(k for k, v in FLEET_STREAMS.items() if v == hub_stream)
    return {"all": "KIT_DATA", "sampled": "KIT_DATA_SAMPLED"}.get(raw_data)


def site_sources(state: HubState, hub_stream: str) -> list[StreamSource]:
    """The sources of ``hub_stream`` for every site of ``state`` (sorted by site)."""
    out = []
    for site, entry in sorted(state.sites.items()):
        site_stream = site_stream_for(hub_stream, entry.raw_data)
        if site_stream is None:
            continue
        out.append(
            StreamSource(
                name=site_stream,
                filter_subject=site_filter(site_stream, site),
                external=ExternalStream(
                    api=f"$JS.{site}.API", deliver=f"{deliver_prefix(site)}.{site_stream}"
                ),
            )
        )
    return out


def stream_config(state: HubState, hub_stream: str) -> StreamConfig:
    """Config of one hub stream (replicated on every node of a 3-node hub)."""
    return StreamConfig(
        name=hub_stream,
        description=f"Fast-Track Kit fleet: every site's {hub_stream.split('_', 1)[1]}",
        subjects=[],
        sources=site_sources(state, hub_stream) or None,
        retention=RetentionPolicy.LIMITS,
        discard=DiscardPolicy.OLD,
        storage=StorageType.FILE,
        num_replicas=state.nodes,
        max_age=MAX_AGE_DAYS[hub_stream] * 86400.0,
    )


async def ensure_streams(js: Any, state: HubState) -> list[str]:
    """Create or update the hub streams so their sources match ``state``; return their names.

    A stream without any source yet (``FLEET_DATA`` before a site sends raw data) is not
    created. Updating keeps existing sources' positions: a site added later does not make
    the others resend.
    """
    names = []
    for hub_stream in HUB_STREAMS:
        cfg = stream_config(state, hub_stream)
        if not cfg.sources:
            continue
        try:
            await js.stream_info(hub_stream)
            await js.update_stream(cfg)
        except NotFoundError:
            await js.add_stream(cfg)
        names.append(hub_stream)
    return names


async def restart_site_sources(js: Any, state: HubState, site: str) -> None:
    """Make the hub re-create ``site``'s sources now (e.g. when its link has just returned).

    After a long outage the hub's sources back off their retries (49 s late after a 60 s
    cut, ``bench/fleet.py --outage-s 60``). Removing the site's sources and adding them back
    starts them at once; the hub resumes each after the last site sequence it stored (no
    duplicates: ``tests/hub/test_fleet.py`` checks by sequence).
    """
    for hub_stream in HUB_STREAMS:
        full = stream_config(state, hub_stream)
        mine = [s for s in full.sources or [] if s.external and s.external.api == f"$JS.{site}.API"]
        if not mine:
            continue
        without = stream_config(state, hub_stream)
        without.sources = [s for s in full.sources or [] if s not in mine] or None
        await js.update_stream(without)
        await js.update_stream(full)
