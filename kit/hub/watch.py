"""Restart a site's sources as soon as its link returns (run by ``kit hub up``).

Polls each site's JetStream domain (``$JS.<site>.API.INFO``, read-only) every few seconds;
on a change from unreachable (or unknown) to reachable it calls
:func:`kit.hub.sources.restart_site_sources`, so the backlog starts flowing within one poll
instead of after the sources' own retry backoff, and offers the site the bundle rollouts it
was not reachable for.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kit.hub.config import HubState
from kit.hub.sources import restart_site_sources

log = logging.getLogger(__name__)


async def reachable(nc: Any, site: str, timeout: float = 1.0) -> bool:
    """True if ``site``'s JetStream answers over its link now."""
    try:
        await nc.request(f"$JS.{site}.API.INFO", b"", timeout=timeout)
        return True
    except Exception:  # timeout or no responders: the link is down
        return False


async def watch_sites(nc: Any, state: HubState, interval: float = 2.0) -> None:
    """Run until cancelled; ``nc`` is an admin connection with the fleet reply inbox prefix."""
    js = nc.jetstream()
    up: dict[str, bool] = {}
    while True:
        for site in list(state.sites):
            now = await reachable(nc, site)
            # Also on first sight: a site that was away when the hub started has sources
            # that are backing off their retries too.
            if now and up.get(site) is not True:
                log.info("site %s is up: restarting its sources", site)
                try:
                    await restart_site_sources(js, state, site)
                except Exception as exc:  # the next return of the link tries again
                    log.warning("restarting the sources of %s failed: %s", site, exc)
            if now and up.get(site) is not True:  # back, or seen for the first time
                try:  # rollouts it missed while away (kit.hub.rollout)
                    from kit.hub.rollout import reoffer_pending

                    for rid in await reoffer_pending(nc, site):
                        log.info("site %s is back: offered rollout %s again", site, rid)
                except Exception as exc:  # the next return of the link tries again
                    log.warning("offering pending rollouts to %s failed: %s", site, exc)
            up[site] = now
        await asyncio.sleep(interval)  # the poll period
