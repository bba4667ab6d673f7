"""The ``notify`` sink: alarm and work-order events to e-mail, webhooks and MQTT.

Events are read from KIT_EVENTS by a JetStream *durable* pull consumer (the server remembers
what was acknowledged, so a restart resumes where it stopped). Each event is matched against
the routes; every match becomes a delivery in the **outbox** (:mod:`kit_notify.outbox`),
which is saved to the component's state on disk *before* the event is acknowledged. One
worker per route then sends what is due, within the route's rate limit, retrying failures
with the kit's backoff until the route's ``give_up_after_s``. Every outcome is counted
(health metrics: ``delivered``, ``failed``, ``retrying``, ``pending``), logged, and kept in a
short delivery log (``kit notify log``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from typing import Any, ClassVar

import nats.js.api as js_api
from pydantic import BaseModel

import kit
from kit import codec, subjects
from kit.aio import wait_for
from kit.codec import MalformedMessage
from kit.components import ComponentContext, Sink, save_when_dirty
from kit.errors import KitError
from kit.payloads import Event, HealthStatus
from kit_notify.config import EmailRoute, MqttRoute, NotifyConfig, WebhookRoute
from kit_notify.outbox import Delivery, Outbox, RouteStats, TokenBucket, retry_due
from kit_notify.secrets import get_secret
from kit_notify.senders import PartlyRefused, Permanent, Retryable, post_webhook, send_email

log = logging.getLogger(__name__)

#: Recent delivery outcomes kept in memory for ``kit notify log`` (the journal has them all).
LOG_SIZE = 200


class Notify(Sink[NotifyConfig]):
    """Sends matched events on each configured route, durably and within rate limits."""

    name: ClassVar[str] = "notify"
    summary: ClassVar[str] = (
        "alarm and work-order notifications: e-mail, webhook, MQTT (filters, rate limits, "
        "retries, delivery log)"
    )
    Config: ClassVar[type[BaseModel]] = NotifyConfig

    def __init__(self, config: NotifyConfig, ctx: ComponentContext) -> None:
        super().__init__(config, ctx)
        self.routes = {r.name: r for r in config.routes}
        self.outbox = Outbox(config.max_pending)
        self.stats = {n: RouteStats() for n in self.routes}
        self.buckets = {
            r.name: TokenBucket(r.rate_limit.count, r.rate_limit.per_s) for r in config.routes
        }
        self.journal: deque[dict[str, Any]] = deque(maxlen=LOG_SIZE)
        self.counts = {"events": 0, "matched": 0, "malformed": 0, "restored": 0}
        self.ready = False
        """The events consumer is attached (tests and status wait for it)."""
        self._secrets: dict[str, str | None] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._deferred: set[str] = set()
        self._save_lock = asyncio.Lock()
        self._dirty = asyncio.Event()
        """Deliveries finished since the last save (saved at most once a second)."""
        self._waiters: dict[str, asyncio.Future[dict[str, Any]]] = {}
        """Outcome futures of test messages (notify.test), by delivery key."""
        self._health: tuple[str, str] | None = None
        """Last published (status, detail) of the routes as seen by ``kit status``."""
        self._refusing: set[str] = set()
        """Routes whose last outcome was a give-up (an SMTP 5xx, a refused MQTT login...):
        their receiver refuses until a delivery gets through again."""

    # -- life cycle -------------------------------------------------------------------
    async def run(self) -> None:
        """Read secrets and the saved outbox, then consume events and deliver until cancelled."""
        for r in self.config.routes:
            name = getattr(r, "token_secret", None) or getattr(r, "password_secret", None)
            # Read at start: a missing secret is a clear error in `kit status`, not a
            # failure at the first alarm.
            self._secrets[r.name] = get_secret(self.ctx.data_dir, name) if name else None
        restored = self.outbox.load(await self.ctx.load_state("outbox"))
        self.counts["restored"] = restored
        if restored:
            self.ctx.log.info(
                "notify %s: %d undelivered message(s) restored", self.ctx.name, restored
            )
        self._wake = {n: asyncio.Event() for n in self.routes}
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self._consume())
            # Finished deliveries leave the saved outbox lazily: a crash before that save
            # sends them once more (at least once), while new ones are saved before the ack.
            tg.create_task(save_when_dirty(self._save, self._dirty, self.ctx.clock, 1.0))
            for r in self.config.routes:
                tg.create_task(self._worker(r))

    def _now(self) -> float:
        return self.ctx.clock.now().timestamp()

    async def _save(self) -> None:
        async with self._save_lock:
            await self.ctx.save_state(self.outbox.to_state(), "outbox")

    # -- events in --------------------------------------------------------------------
    async def _consume(self) -> None:
        durable = f"notify-{subjects.sanitize_token(self.ctx.name)}"
        subject = f"{subjects.EVENT_PREFIX}.>"
        consumer = js_api.ConsumerConfig(
            durable_name=durable,
            ack_policy=js_api.AckPolicy.ALL,
            deliver_policy=js_api.DeliverPolicy.ALL
            if self.config.start_at == "all"
            else js_api.DeliverPolicy.NEW,
            ack_wait=30.0,
            max_ack_pending=-1,
            filter_subject=subject,
        )
        psub = await self.ctx.bus.js.pull_subscribe(
            subject, durable=durable, stream=subjects.STREAM_EVENTS, config=consumer
        )
        self.ready = True
        try:
            while True:
                try:
                    msgs = await psub.fetch(100, timeout=1.0)
                except TimeoutError:  # nats.errors.TimeoutError or asyncio's, by code path
                    continue
                if not msgs:
                    continue
                woken = await self._accept([m.data for m in msgs])
                # Saved before the ack: a crash in between re-delivers the events, and the
                # outbox keys (event id + route) keep them from being queued twice.
                await msgs[-1].ack()
                for name in woken:
                    self._wake[name].set()
        finally:
            self.ready = False
            with contextlib.suppress(Exception):
                await psub.unsubscribe()

    async def _accept(self, payloads: list[bytes]) -> set[str]:
        """Match events against the routes and queue the deliveries; returns routes to wake."""
        now, woken = self._now(), set()
        for data in payloads:
            try:
                ev = codec.decode_event(data)
            except MalformedMessage as exc:
                self.counts["malformed"] += 1
                self.ctx.bus.malformed.record("kit.event", exc)
                continue
            self.counts["events"] += 1
            doc = ev.model_dump(mode="json", by_alias=True)
            for route in self.config.routes:
                if not route.match.matches(ev):
                    continue
                self.counts["matched"] += 1
                d = Delivery(
                    key=f"{ev.id}:{route.name}", route=route.name, event=doc, created=now, due=now
                )
                dropped = self.outbox.add(d)
                if dropped is not None:
                    self.stats[dropped.route].dropped += 1
                    self._deferred.discard(dropped.key)
                    self._note(dropped, "dropped", "outbox full (max_pending)")
                woken.add(route.name)
        if woken:
            await self._save()
        return woken

    # -- deliveries out -----------------------------------------------------------------
    async def _wait(self, route: str, timeout: float | None) -> None:
        wake = self._wake[route]
        waiter = asyncio.ensure_future(wake.wait())
        tasks: set[asyncio.Future[Any]] = {waiter}
        if timeout is not None:
            # The retry/rate schedule runs on the component clock (a fake one in tests).
            tasks.add(asyncio.ensure_future(self.ctx.clock.sleep(max(0.0, timeout))))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for t in tasks:
                t.cancel()
            wake.clear()

    async def _worker(self, route: WebhookRoute | EmailRoute | MqttRoute) -> None:
        bucket = self.buckets[route.name]
        while True:
            now = self._now()
            pending = self.outbox.for_route(route.name)
            due = [d for d in pending if d.due <= now]
            if not due:
                nxt = min((d.due for d in pending), default=None)
                await self._wait(route.name, None if nxt is None else nxt - now)
                continue
            d = due[0]
            if not bucket.take(now):
                if route.rate_limit.over_limit == "drop":
                    for x in due:
                        self.stats[route.name].rate_limited += 1
                        self.stats[route.name].dropped += 1
                        self.outbox.done(x.key)
                        self._note(x, "dropped", "rate limit")
                    self._dirty.set()
                    continue
                for x in due:
                    if x.key not in self._deferred:
                        self._deferred.add(x.key)
                        self.stats[route.name].rate_limited += 1
                await self._wait(route.name, bucket.wait_s(now))
                continue
            await self._attempt(route, d)

    async def _attempt(self, route: WebhookRoute | EmailRoute | MqttRoute, d: Delivery) -> None:
        st = self.stats[route.name]
        try:
            try:
                await self._send(route, d)
            except (Permanent, Retryable, PartlyRefused):
                raise
            except Exception as exc:
                # Not foreseen by the sender (a library's own error type): retried like a
                # network fault, so one odd receiver never crash-loops the other routes.
                self.ctx.log.exception("notify %s: unexpected error sending %s", route.name, d.key)
                raise Retryable(f"{type(exc).__name__}: {exc}") from None
        except Permanent as exc:
            self._give_up(st, d, self._redact(route.name, exc))
        except PartlyRefused as exc:
            # Delivered to the others: counted delivered, never sent again (they would get it
            # twice); the refused recipients are named and the route shows as failing.
            why = self._redact(route.name, exc)
            self._delivered(st, d, why)
            self._refusing.add(route.name)
            st.last_error = d.last_error = why
            self.ctx.log.warning("notify %s: %s delivered, but %s", route.name, d.key, why)
        except Retryable as exc:
            why = self._redact(route.name, exc)
            d.attempts += 1
            d.last_error = st.last_error = why
            st.attempts_failed += 1
            now = self._now()
            if now - d.created >= route.retry.give_up_after_s:
                self._give_up(st, d, f"still failing after {now - d.created:.0f} s: {why}")
            else:
                d.due = retry_due(d, now, route.retry.initial_s, route.retry.max_s)
                # The receiver is down for the whole route: the other pending deliveries
                # wait for the same retry instead of each failing now (one attempt per
                # backoff step, not a burst of connection attempts and state writes).
                for x in self.outbox.for_route(route.name):
                    x.due = max(x.due, d.due)
                self._note(d, "retrying", why)
                if d.attempts == 1:
                    self.ctx.log.warning(
                        "notify %s: %s not delivered (%s); retrying", route.name, d.key, why
                    )
                await self._publish_health()
                return  # the outbox holds the same deliveries: nothing new to save
        else:
            self._refusing.discard(route.name)
            self._delivered(st, d, "")
            self.ctx.log.info(
                "notify %s: %s delivered (attempt %d)", route.name, d.key, d.attempts + 1
            )
        self._dirty.set()
        await self._publish_health()

    async def _publish_health(self) -> None:
        """Routes whose receiver is failing show as degraded device health of this component
        (``kit.health.<component>``, like a Modbus device that is down): deliveries being
        retried, or the last one given up (a refusal would repeat: fix the receiver or the
        route) until one gets through again; published when that changes."""
        failing = [
            f"{name}: {self.stats[name].last_error}"
            for name in self.routes
            if name in self._refusing or any(d.attempts for d in self.outbox.for_route(name))
        ]
        status = HealthStatus.degraded if failing else HealthStatus.running
        detail = "receivers failing: " + "; ".join(failing) if failing else ""
        if self._health == (status.value, detail):
            return
        self._health = (status.value, detail)
        try:
            await self.ctx.publish_health(status, kind="device", detail=detail, **self.metrics())
        except Exception as exc:  # health is best effort; deliveries go on
            self.ctx.log.debug("notify health not published: %s", exc)

    def _redact(self, route: str, exc: Exception) -> str:
        """The error's text without the route's secret: a receiver may echo the token or
        password back (a 401 reason, an SMTP reply), and errors are shown in health metrics
        that the viewer role reads."""
        text, secret = str(exc), self._secrets.get(route)
        return text.replace(secret, "***") if secret else text

    def _delivered(self, st: RouteStats, d: Delivery, detail: str) -> None:
        st.delivered += 1
        st.last_delivered = self.ctx.clock.now().isoformat()
        self.outbox.done(d.key)
        self._deferred.discard(d.key)
        self._note(d, "delivered", detail)

    def _give_up(self, st: RouteStats, d: Delivery, why: str) -> None:
        st.failed += 1
        self._refusing.add(d.route)
        st.last_error = d.last_error = why
        self.outbox.done(d.key)
        self._deferred.discard(d.key)
        self._note(d, "failed", why)
        self.ctx.log.error("notify %s: %s failed, given up: %s", d.route, d.key, why)

    async def _send(self, route: WebhookRoute | EmailRoute | MqttRoute, d: Delivery) -> None:
        secret = self._secrets.get(route.name)
        if isinstance(route, WebhookRoute):
            await asyncio.to_thread(post_webhook, route, d.key, d.event, secret)
        elif isinstance(route, EmailRoute):
            await asyncio.to_thread(send_email, route, d.key, d.event, secret)
        else:
            from kit_notify.mqtt import publish_event

            broker = (
                {
                    "hostname": route.host,
                    "port": route.port or 1883,
                    "username": route.user,
                    "password": secret,
                }
                if route.host
                else _embedded(self.ctx, route.port)
            )
            await publish_event(route, d.key, d.event, broker)

    def _note(self, d: Delivery, result: str, detail: str) -> None:
        entry = {
            "ts": self.ctx.clock.now().isoformat(),
            "component": self.ctx.name,
            "route": d.route,
            "key": d.key,
            "event": d.event.get("type", ""),
            "asset": d.event.get("asset", ""),
            "result": result,
            "attempts": d.attempts + (result == "delivered"),
            "detail": detail,
        }
        self.journal.append(entry)
        waiter = self._waiters.pop(d.key, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(entry)

    async def send_test(self, route: str, timeout_s: float = 30.0) -> dict[str, Any]:
        """Queue a test event on ``route`` (filters skipped) and wait for its first outcome.

        Raises:
            KitError: no such route, or the component is not running.
        """
        if route not in self.routes:
            raise KitError(f"{self.ctx.name}: no route {route!r}; routes: {', '.join(self.routes)}")
        if route not in self._wake:
            raise KitError(f"{self.ctx.name} is not running yet")
        ev = Event(
            kind="notify",
            type="notify_test",
            asset=str(subjects.AssetPath.of(self.ctx.site, "kit", "notify", self.ctx.name)),
            ts=self.ctx.clock.now(),
            source=self.ctx.name,
            message=f"test message of route {route} ({self.ctx.name})",
            data={"test": True},
        )
        now = self._now()
        d = Delivery(
            key=f"{ev.id}:{route}",
            route=route,
            event=ev.model_dump(mode="json", by_alias=True),
            created=now,
            due=now,
        )
        waiter = self._waiters[d.key] = asyncio.get_running_loop().create_future()
        self.outbox.add(d)
        await self._save()
        self._wake[route].set()
        try:
            entry = await wait_for(asyncio.shield(waiter), timeout_s)
        except TimeoutError:
            self._waiters.pop(d.key, None)
            return {"route": route, "key": d.key, "result": "waiting", "detail": ""}
        return {k: entry[k] for k in ("route", "key", "result", "detail")}

    def metrics(self) -> dict[str, Any]:
        """Deliveries by outcome, in total and per route (``retrying``: failed at least once
        and still pending)."""
        routes: dict[str, Any] = {}
        for name, st in self.stats.items():
            pending = self.outbox.for_route(name)
            routes[name] = {
                **st.to_dict(),
                "pending": len(pending),
                "retrying": sum(1 for d in pending if d.attempts),
            }
        total = {
            k: sum(r[k] for r in routes.values())
            for k in ("delivered", "failed", "retrying", "pending", "dropped", "rate_limited")
        }
        return {**self.counts, **total, "routes": routes}


def _embedded(ctx: ComponentContext, port: int | None) -> dict[str, Any]:
    from kit_notify.mqtt import embedded_broker

    try:
        return embedded_broker(ctx, port)
    except KitError as exc:  # no MQTT listener: a configuration error, not worth retrying
        raise Permanent(str(exc)) from None


def find_notifiers(runtime: Any) -> list[Any]:
    """Running ``notify`` instances of ``runtime`` (supervisor instances)."""
    return [i for i in runtime.supervisor.instances.values() if i.type == Notify.name]


@kit.hookimpl
def register_components(register: Any) -> None:
    """Register the notify sink and the KPI topics sink."""
    from kit_notify.kpi_topics import KpiTopics

    register.add(Notify)
    register.add(KpiTopics)


def _instances(runtime: Any, name: str | None) -> list[Any]:
    insts = [i for i in find_notifiers(runtime) if name is None or i.name == name]
    if not insts:
        raise KitError(
            f"no notify component {'named ' + repr(name) + ' ' if name else ''}is configured"
        )
    return insts


@kit.hookimpl
def register_endpoints(api: Any, runtime: Any) -> None:
    """``notify.log`` (viewer) and ``notify.test`` (technician), :mod:`kit_notify.api`."""
    from kit_notify import api as notify_api

    async def notify_log(req: notify_api.LogRequest) -> dict[str, Any]:
        entries: list[dict[str, Any]] = []
        pending: dict[str, int] = {}
        for inst in _instances(runtime, req.component):
            comp = inst.component
            if comp is None:
                continue
            entries += [e for e in comp.journal if req.route in (None, e["route"])]
            for r in comp.routes:
                pending[f"{inst.name}/{r}"] = len(comp.outbox.for_route(r))
        entries.sort(key=lambda e: str(e["ts"]))
        return {"entries": entries[-req.limit :], "pending": pending}

    async def notify_test(req: notify_api.TestRequest) -> dict[str, Any]:
        for inst in _instances(runtime, req.component):
            if inst.component is not None and req.route in inst.component.routes:
                result: dict[str, Any] = await inst.component.send_test(req.route, req.timeout_s)
                return result
        raise KitError(f"no running notify component has a route {req.route!r}")

    api.add(notify_api.LOG, notify_log)
    api.add(notify_api.TEST, notify_test)


@kit.hookimpl
def register_commands(cli: Any) -> None:
    """Add ``kit notify``."""
    from kit_notify.cli import notify

    cli.add_command(notify)


__all__ = ["Notify", "NotifyConfig"]
