"""The hub side of a bundle rollout: publish a bundle, offer it to chosen sites, show status.

``kit fleet rollout BUNDLE --sites a,b,c --values-dir DIR``:

1. the bundle (signed at the lighthouse, ``kit bundle sign``) is stored in the hub's KV
   bucket ``FLEET_ROLLOUTS`` under a new rollout id, with the chosen sites;
2. each site is offered it on ``$KIT.rollout.<site>.offer`` (request/reply over its leaf
   link) with its values from ``DIR/<site>.yaml`` (``{deployment: {parameter: value}}``);
   the site answers ``accepted`` or ``refused`` (policy, signature, missing values) at once
   (:mod:`kit.hub.agent`);
3. the site installs and reports the result as an event in its ``KIT_EVENTS``, which the
   hub sources into ``FLEET_EVENTS``: ``kit fleet rollout status`` joins the offers'
   answers with those events — per site ``installed``, ``rolled_back`` or ``refused`` with
   the reason, ``offered`` while it installs, ``not reachable`` if it never answered.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from kit.errors import ConfigError
from kit.hub.agent import offer_subject, result_path
from kit.payloads import utcnow

BUCKET = "FLEET_ROLLOUTS"


@dataclass
class SiteRollout:
    """One site's state in a rollout."""

    site: str
    state: str
    """``offered``, ``installed``, ``rolled_back``, ``refused``, ``not reachable``."""
    reason: str = ""
    at: str | None = None


def new_rollout_id() -> str:
    """A rollout id: UTC time and a random suffix (a subject token)."""
    return utcnow().strftime("r%Y%m%d-%H%M%S-") + secrets.token_hex(3)


def site_values(values_dir: Path | None, site: str) -> dict[str, Any] | None | str:
    """``DIR/<site>.yaml`` as values, ``None`` if there is none, or the error text if invalid."""
    from kit.recipes.bundle_site import load_values

    if values_dir is None:
        return None
    path = Path(values_dir) / f"{site}.yaml"
    if not path.exists():
        return None
    try:
        return load_values(path)
    except ConfigError as exc:
        return str(exc)


async def _bucket(js: Any) -> Any:
    from nats.js.api import KeyValueConfig, StorageType

    try:
        return await js.key_value(BUCKET)
    except Exception:  # not there yet: created on first use
        return await js.create_key_value(
            KeyValueConfig(bucket=BUCKET, history=1, storage=StorageType.FILE)
        )


async def start_rollout(
    nc: Any,
    bundle: bytes,
    sites: list[str],
    values_dir: Path | None,
    name: str = "bundle",
    timeout: float = 10.0,
) -> tuple[str, list[SiteRollout]]:
    """Publish ``bundle`` as a new rollout and offer it to ``sites``; return its id and the
    answers. ``nc`` is an admin connection to the hub with the fleet reply inbox prefix.

    A site that is not reachable keeps its values in the record (``pending_values``) and is
    offered the bundle again when its link returns (:func:`reoffer_pending`)."""
    from kit.recipes import bundle as bundles

    rid = new_rollout_id()
    answers: list[SiteRollout] = []
    kv = await _bucket(nc.jetstream())
    record: dict[str, Any] = {
        "id": rid,
        "created": utcnow().isoformat(),
        "name": name,
        "sha256": hashlib.sha256(bundle).hexdigest(),
        "bundle": bundles.encode(bundle),
        "sites": {},
    }
    pending: dict[str, Any] = {}
    for site in sites:
        values = site_values(values_dir, site)
        if isinstance(values, str):  # the hub's own values file is invalid: never sent
            answers.append(SiteRollout(site, "refused", f"values file: {values}"))
            continue
        answer = await _offer(nc, site, rid, name, record["bundle"], values, timeout)
        if answer.state == "not reachable":
            pending[site] = values  # offered again when its link returns (kit hub up)
        answers.append(answer)
    record["sites"] = {a.site: asdict(a) for a in answers}
    record["pending_values"] = pending
    await kv.put(rid, json.dumps(record).encode())
    return rid, answers


async def _offer(
    nc: Any, site: str, rid: str, name: str, bundle: str, values: Any, timeout: float
) -> SiteRollout:
    offer = {"rollout": rid, "name": name, "bundle": bundle, "values": values}
    try:
        msg = await nc.request(offer_subject(site), json.dumps(offer).encode(), timeout)
        reply = json.loads(msg.data)
        return SiteRollout(site, reply_state(reply), str(reply.get("reason", "")))
    except Exception as exc:  # no responders / time-out: the site's link is down
        return SiteRollout(site, "not reachable", type(exc).__name__)


async def reoffer_pending(nc: Any, site: str, timeout: float = 10.0) -> list[str]:
    """Offer ``site`` every rollout it was not reachable for (``kit hub up`` calls this when
    the site's link returns); returns the rollout ids offered."""
    kv = await _bucket(nc.jetstream())
    try:
        keys = await kv.keys()
    except Exception:  # no rollouts yet
        return []
    offered = []
    for rid in sorted(keys):
        entry = await kv.get(rid)
        record = json.loads(entry.value)
        if site not in (record.get("pending_values") or {}):
            continue
        values = record["pending_values"][site]
        answer = await _offer(nc, site, rid, record["name"], record["bundle"], values, timeout)
        if answer.state == "not reachable":
            continue  # still away: the next return of the link tries again
        record["sites"][site] = asdict(answer)
        del record["pending_values"][site]
        await kv.put(rid, json.dumps(record).encode())
        offered.append(rid)
    return offered


def reply_state(reply: dict[str, Any]) -> str:
    """The site's answer to an offer as a rollout state."""
    return "offered" if reply.get("state") == "accepted" else "refused"


async def rollout_status(nc: Any, rollout: str | None = None) -> dict[str, Any]:
    """Per site state of a rollout (the newest if ``rollout`` is None).

    Raises:
        ConfigError: no such rollout (or none yet).
    """
    js = nc.jetstream()
    kv = await _bucket(js)
    if rollout is None:
        keys = []
        try:
            keys = await kv.keys()
        except Exception:  # an empty bucket has no keys
            keys = []
        if not keys:
            raise ConfigError("no rollouts on this hub yet (`kit fleet rollout BUNDLE --sites …`)")
        rollout = max(keys)  # ids start with their UTC time
    try:
        entry = await kv.get(rollout)
    except Exception:
        raise ConfigError(f"no rollout {rollout!r} on this hub") from None
    record = json.loads(entry.value)
    rows = []
    for site, offered in sorted(record["sites"].items()):
        row = SiteRollout(**offered)
        result = await _last_result(js, site, rollout)
        if result is not None:
            row.state, row.reason, row.at = result["type"], result.get("message", ""), result["ts"]
        rows.append(row)
    return {
        "rollout": rollout,
        "created": record["created"],
        "name": record["name"],
        "sha256": record["sha256"],
        "sites": rows,
    }


async def _last_result(js: Any, site: str, rollout: str) -> dict[str, Any] | None:
    """The site's newest result event of ``rollout`` at the hub (in ``FLEET_EVENTS``)."""
    from kit import subjects

    subject = subjects.event_subject("rollout", result_path(site, rollout))
    try:
        msg = await js.get_last_msg("FLEET_EVENTS", subject)
    except Exception:  # none yet (or no FLEET_EVENTS): the result has not arrived
        return None
    data: dict[str, Any] = json.loads(msg.data)
    return data


def counts(rows: list[SiteRollout]) -> dict[str, int]:
    """How many sites are in each state."""
    out: dict[str, int] = {}
    for r in rows:
        out[r.state] = out.get(r.state, 0) + 1
    return out
