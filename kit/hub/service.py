"""The hub's control API and lag alarm (run by ``kit hub up``, or on its own next to a cluster).

Control API, request/reply on the hub (admin users only — sites may not publish there):

- ``$KIT.hub.control.fleet.status`` ``{"site"?: str}`` → ``{"sources": [...], "alarms":
  [...], "limits": {...}}``: proof of delivery per site and stream
  (:func:`kit.hub.status.fleet_status`: sequences, lag in messages and seconds,
  completeness, gaps) and the sources over a limit now.

Lag alarm: every ``interval`` seconds the service judges every source against the hub's
limits (``max_lag_msgs``, ``max_lag_s`` in ``hub.json``; ``kit hub up --max-lag/--max-lag-s``)
and publishes a kit alarm event when a source goes over (``alarm_raised``) and when it is
back within (``alarm_cleared``), on ``kit.event.alarm.hub.fleet.<site>.<stream>`` — the same
event shape as the alarms plugin's, kept in the hub stream ``FLEET_ALARMS`` (``hub`` is
never a site id, so no site can publish there).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from kit import codec, subjects
from kit.hub.config import HubState
from kit.hub.status import SourceStatus, alarms, fleet_status
from kit.payloads import Event, utcnow

log = logging.getLogger(__name__)

CONTROL_PREFIX = "$KIT.hub.control"
STATUS_SUBJECT = f"{CONTROL_PREFIX}.fleet.status"
ALARM_STREAM = "FLEET_ALARMS"


def alarm_path(site: str, stream: str) -> subjects.AssetPath:
    """Asset path of the lag alarm of one site stream at the hub."""
    return subjects.AssetPath.of("hub", "fleet", site, stream.lower())


def over_limit(row: SourceStatus, state: HubState) -> str | None:
    """Why ``row`` is over the hub's lag limits, or None."""
    why = []
    if state.max_lag_msgs is not None and (row.lag_msgs or 0) > state.max_lag_msgs:
        why.append(f"lag {row.lag_msgs} messages > {state.max_lag_msgs}")
    if state.max_lag_s is not None and (row.lag_s or 0.0) > state.max_lag_s:
        why.append(f"lag {row.lag_s:.1f} s > {state.max_lag_s:g} s")
    return ", ".join(why) or None


@dataclass
class LagMonitor:
    """Raise/clear transitions of the lag alarm per site stream (pure: events out)."""

    state: HubState
    active: dict[tuple[str, str], bool] = field(default_factory=dict)

    def update(self, rows: list[SourceStatus]) -> list[Event]:
        """Events for every source whose alarm state changed since the last update."""
        out = []
        for r in rows:
            if r.hub_stream_error:
                continue  # the hub's figures are unknown now: the alarm keeps its state
            key = (r.site, r.stream)
            why = over_limit(r, self.state)
            if bool(why) == self.active.get(key, False):
                continue
            self.active[key] = bool(why)
            out.append(
                Event(
                    kind="alarm",
                    type="alarm_raised" if why else "alarm_cleared",
                    asset=str(alarm_path(r.site, r.stream)),
                    ts=utcnow(),
                    source="hub",
                    severity="high" if why else "info",
                    message=f"{r.site} {r.stream} at the hub: "
                    + (why or "lag back within the limits"),
                    data={
                        "alarm": f"fleet-lag-{r.site}-{r.stream.lower()}",
                        "site": r.site,
                        "stream": r.stream,
                        "lag_msgs": r.lag_msgs,
                        "lag_s": r.lag_s,
                        "site_reachable": r.site_reachable,
                        "limit_msgs": self.state.max_lag_msgs,
                        "limit_s": self.state.max_lag_s,
                    },
                )
            )
        return out


class HubService:
    """Control API and lag alarm on an admin connection to the hub (fleet reply inboxes)."""

    def __init__(self, nc: Any, state: HubState, interval: float = 30.0) -> None:
        self.nc = nc
        self.state = state
        self.interval = interval
        self.monitor = LagMonitor(state)
        self._sub: Any = None

    async def start(self) -> None:
        """Create ``FLEET_ALARMS`` if needed and answer the control API."""
        from nats.js.api import RetentionPolicy, StorageType, StreamConfig

        js = self.nc.jetstream()
        cfg = StreamConfig(
            name=ALARM_STREAM,
            description="Fast-Track Kit fleet: the hub's own alarms (lag per site stream)",
            subjects=[f"{subjects.EVENT_PREFIX}.*.hub.>"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            num_replicas=self.state.nodes,
            max_age=400 * 86400.0,
        )
        try:
            await js.stream_info(ALARM_STREAM)
        except Exception:  # not there yet
            await js.add_stream(cfg)
        self._sub = await self.nc.subscribe(STATUS_SUBJECT, cb=self._on_status)

    async def _on_status(self, msg: Any) -> None:
        try:
            body = json.loads(msg.data or b"{}") or {}
            rows = await fleet_status(self.nc, site=body.get("site"), state=self.state)
            reply: dict[str, Any] = {
                "sources": [r.as_dict() for r in rows],
                "alarms": alarms(rows, self.state.max_lag_msgs, self.state.max_lag_s),
                "limits": {
                    "max_lag_msgs": self.state.max_lag_msgs,
                    "max_lag_s": self.state.max_lag_s,
                },
            }
        except Exception as exc:  # the caller gets the reason, the service keeps running
            reply = {"error": str(exc)}
        await msg.respond(json.dumps(reply).encode())

    async def check_once(self) -> list[Event]:
        """Judge every source now; publish and return the alarm transitions."""
        events = self.monitor.update(await fleet_status(self.nc, state=self.state))
        js = self.nc.jetstream()
        for ev in events:
            log.log(
                logging.WARNING if ev.type == "alarm_raised" else logging.INFO, "%s", ev.message
            )
            await js.publish(
                subjects.event_subject("alarm", subjects.AssetPath.parse(ev.asset)),
                codec.encode(ev),
            )
        return events

    async def run(self) -> None:
        """Check every ``interval`` seconds until cancelled (a failed check is logged)."""
        while True:
            try:
                await self.check_once()
            except Exception as exc:  # e.g. a hub node restarting: the next round retries
                log.warning("fleet lag check failed: %s", exc)
            await asyncio.sleep(self.interval)  # the check period

    async def stop(self) -> None:
        """Stop answering the control API."""
        if self._sub is not None:
            await self._sub.unsubscribe()
