"""The site side of a bundle rollout: take or refuse an offer from the hub, install, report.

A site joined to a hub listens on ``$KIT.rollout.<site>.offer`` — the one subject under
which the hub may send the site anything besides the JetStream API calls of sourcing (the
site's hub user may subscribe to it, :func:`kit.hub.config.site_permissions`). An offer
carries a rollout id, a bundle and this site's values. The site

1. refuses by policy (``hub.rollouts: never``) or an unsigned bundle when it accepts only
   signed ones (``signed``, the default);
2. verifies the signature against **its own** trust store (a key the site does not trust is
   a refusal, whatever the hub says);
3. answers the offer at once (``accepted`` or ``refused`` with the reason), then installs the
   bundle with its values — all or nothing (:func:`kit.recipes.bundle_install.install`):
   a failure removes what this install created (``rolled_back``);
4. reports the outcome as an event ``kit.event.rollout.<site>.kit.rollout.<rollout id>`` in
   its own ``KIT_EVENTS`` stream, which the hub sources like every event: the result
   reaches the hub even if the link drops in between, and is proven by sequence.

The same way the site publishes its *inventory* (kit and plugin versions, deployments,
component health: ``kit.event.inventory.<site>.kit.runtime.site``) at start, every
:data:`INVENTORY_EVERY_S` and after a rollout, for the hub's fleet view (``kit fleet``).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from kit import codec, subjects
from kit.payloads import Event, utcnow

log = logging.getLogger(__name__)

#: Rollout ids are subject tokens (they name the event's asset).
ROLLOUT_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


def offer_subject(site: str) -> str:
    """Subject on which the hub offers ``site`` a bundle (request/reply)."""
    return f"$KIT.rollout.{site}.offer"


def result_path(site: str, rollout: str) -> subjects.AssetPath:
    """Asset path of a rollout's result events at ``site``."""
    return subjects.AssetPath.of(site, "kit", "rollout", rollout)


class RolloutAgent:
    """Answers the hub's offers on a runtime (see the module docstring)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self.site: str = runtime.settings.site
        self.policy: str = runtime.settings.hub.rollouts
        self.sub: Any = None

    async def start(self) -> None:
        """Subscribe to this site's offer subject on the runtime's bus."""
        self.sub = await self.runtime.bus.nc.subscribe(offer_subject(self.site), cb=self._on_offer)

    async def _on_offer(self, msg: Any) -> None:
        try:
            offer = json.loads(msg.data)
            rollout = str(offer["rollout"])
            if not ROLLOUT_ID.match(rollout):
                raise ValueError(f"rollout id {rollout!r} is not a token")
        except (ValueError, KeyError, TypeError) as exc:
            await msg.respond(
                json.dumps({"state": "refused", "reason": f"bad offer: {exc}"}).encode()
            )
            return
        reason = self._refusal(offer)
        if reason is not None:
            await msg.respond(json.dumps({"state": "refused", "reason": reason}).encode())
            await self._report(rollout, "refused", reason)
            return
        await msg.respond(json.dumps({"state": "accepted"}).encode())
        self.runtime.spawn(self._install(rollout, offer), f"rollout:{rollout}")

    def _refusal(self, offer: dict[str, Any]) -> str | None:
        """Why this site refuses the offer (policy, signature), or None."""
        from kit.errors import KitError
        from kit.recipes import bundle as bundles

        if self.policy == "never":
            return "this site takes no rollouts (hub.rollouts: never)"
        try:
            data = bundles.decode(str(offer.get("bundle", "")))
            _, _, status = bundles.open_bundle(
                data, str(offer.get("name") or "bundle"), self.runtime.trust_store().keys
            )
        except KitError as exc:
            return str(exc)
        if status == "unsigned" and self.policy == "signed":
            return (
                "the bundle is unsigned; this site takes only signed bundles (hub.rollouts: signed)"
            )
        values = offer.get("values")
        if values is None:
            return "no values file for this site (values-dir/<site>.yaml)"
        if not isinstance(values, dict):
            return "the site's values are not {deployment: {parameter: value}}"
        return None

    async def _install(self, rollout: str, offer: dict[str, Any]) -> None:
        from kit.recipes import bundle as bundles

        try:
            res = await bundles.install_bundle(
                self.runtime.recipe_engine,
                bundles.decode(offer["bundle"]),
                offer.get("values") or {},
                name=str(offer.get("name") or "bundle"),
                check_duration_s=offer.get("check_duration_s"),
            )
        except Exception as exc:  # every failure is reported to the hub, nothing escapes
            log.warning("rollout %s failed and was rolled back: %s", rollout, exc)
            await self._report(rollout, "rolled_back", str(exc))
            return
        deps = [r["deployment"] for r in res["installed"]]
        await self._report(rollout, "installed", f"installed {', '.join(deps)}", deployments=deps)
        await publish_inventory(self.runtime)  # the fleet view shows the new deployments

    async def _report(self, rollout: str, state: str, message: str, **data: Any) -> None:
        path = result_path(self.site, rollout)
        ev = Event(
            kind="rollout",
            asset=str(path),
            ts=utcnow(),
            source="rollout",
            category="change",
            type=state,
            result="ok" if state == "installed" else "failed",
            severity="info" if state == "installed" else "medium",
            message=message,
            data={"rollout": rollout, **data},
        )
        await self.runtime.bus.publish(subjects.event_subject("rollout", path), codec.encode(ev))


#: Seconds between the site's inventory events (also sent at start and after a rollout).
INVENTORY_EVERY_S = 300.0


def inventory_path(site: str) -> subjects.AssetPath:
    """Asset path of the site's inventory events (what ``kit fleet`` shows per site)."""
    return subjects.AssetPath.of(site, "kit", "runtime", "site")


async def inventory(runtime: Any) -> dict[str, Any]:
    """What the hub's fleet view shows of this site: kit and plugin versions, deployments
    with their status and commissioning result, and the health of every component."""
    from kit import __version__

    plugins = sorted(
        {(d, v) for d, v in runtime.host.dists.values() if not d.startswith("(")},
    )
    deployments = [
        {
            "id": r["id"],
            "recipe": r["recipe_id"],
            "version": r["version"],
            "status": r.get("status"),
            "result": (r.get("report") or {}).get("result"),
        }
        for r in await runtime.recipe_engine.store.all()
    ]
    retention = []
    if getattr(runtime, "retention", None) is not None:
        try:  # how long each stream holds data at its current rate: the longest safe outage
            storage = await runtime.retention.current()
            retention = [
                {
                    k: (None if e[k] == float("inf") else e[k])  # JSON has no infinity
                    for k in ("stream", "holds_hours", "retention_hours", "write_rate_bytes_s")
                }
                for e in storage["streams"]
            ]
        except Exception:  # an estimate is never worth failing the inventory for
            retention = []
    return {
        "retention": retention,
        "kit_version": __version__,
        "plugins": [{"distribution": d, "version": v} for d, v in plugins],
        "deployments": deployments,
        "components": {n: i.status.value for n, i in runtime.supervisor.instances.items()},
        "started": runtime.started_at.isoformat() if runtime.started_at else None,
    }


async def publish_inventory(runtime: Any) -> None:
    """Publish the site's inventory as an event the hub sources (``kit fleet``)."""
    path = inventory_path(runtime.settings.site)
    ev = Event(
        kind="inventory",
        asset=str(path),
        ts=utcnow(),
        source="runtime",
        type="site_inventory",
        data=await inventory(runtime),
    )
    await runtime.bus.publish(subjects.event_subject("inventory", path), codec.encode(ev))


async def _inventory_loop(runtime: Any, every_s: float) -> None:
    import asyncio

    while True:
        try:
            await publish_inventory(runtime)
        except Exception as exc:  # the next round tries again; the site works regardless
            log.warning("site inventory for the hub not published: %s", exc)
        await asyncio.sleep(every_s)  # the publishing period


async def start_agent(runtime: Any, inventory_every_s: float = INVENTORY_EVERY_S) -> RolloutAgent:
    """Start answering the hub's rollout offers on ``runtime`` (a site with ``hub`` set) and
    publishing its inventory for the hub's fleet view."""
    agent = RolloutAgent(runtime)
    await agent.start()
    runtime.spawn(_inventory_loop(runtime, inventory_every_s), "hub:inventory")
    if runtime.settings.hub.raw_sample_s:  # sampled raw data for the hub (kit.hub.sampler)
        from kit.hub.sampler import RawSampler

        await RawSampler(runtime, runtime.settings.hub.raw_sample_s).start()
    return agent
