"""Receivers that refuse for good: an SMTP server answering 5xx (a refused login, recipient
or message) and an MQTT broker refusing the login. docs/integrations.md promises: given up
at once (one attempt, no retry for a day), counted (``failed``), a clear error in the log,
``kit notify log``, the route's ``last_error`` and the component's device health — and the
other routes deliver as before. A real runtime on a real bus; a local SMTP server
(aiosmtpd) and a local MQTT broker written here from the MQTT 3.1.1 spec (CONNECT →
CONNACK with a refusing return code, then the connection is closed, spec 3.2.2.3)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from kit_notify.api import LOG
from kit_notify.secrets import set_secret

from kit import codec
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.payloads import Health
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/assembly/line1/press1"
ALARMS = 2
#: Retried failures would come back within this backoff: far below the test's own waits.
FAST_RETRY = {"initial_s": 0.05, "max_s": 0.1}


class RefusingSmtp:
    """aiosmtpd handler that refuses for good: the login (535), one recipient (550 at RCPT)
    and one message (554 after DATA); everything else is accepted. Counts every attempt."""

    def __init__(self) -> None:
        self.login_sessions: list[Any] = []
        """SMTP sessions that tried to log in (smtplib tries each offered mechanism once)."""
        self.mails: dict[str, int] = {}
        """MAIL FROM per sender (each route sends from its own address)."""
        self.accepted: list[str] = []
        self.refuse_data = True
        self.greylisted = 0

    def authenticator(self, server: Any, session: Any, *_args: Any) -> AuthResult:
        if not any(s is session for s in self.login_sessions):
            self.login_sessions.append(session)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: N802
        self.mails[address] = self.mails.get(address, 0) + 1
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802
        if address.startswith("nobody@"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address.startswith("grey@") and self.greylisted < 1:
            self.greylisted += 1  # a greylisting relay: a stranger is told to come back
            return "450 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        if self.refuse_data and envelope.mail_from.startswith("data@"):
            return "554 5.7.1 message refused by policy"
        self.accepted.append(envelope.mail_from)
        return "250 OK"


class RefusingBroker:
    """An MQTT 3.1.1 broker that answers every CONNECT with CONNACK return code ``rc``
    (4: bad user name or password, 5: not authorized) and closes the connection."""

    def __init__(self, rc: int) -> None:
        self.rc = rc
        self.connects: list[dict[str, Any]] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _client(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            first = (await r.readexactly(1))[0]
            length, mult = 0, 1  # Remaining Length: 7 bits a byte, high bit = more (2.2.3)
            while True:
                b = (await r.readexactly(1))[0]
                length += (b & 0x7F) * mult
                mult *= 128
                if not b & 0x80:
                    break
            body = await r.readexactly(length)
            if first >> 4 != 1:  # not CONNECT: a client must start with one (3.1)
                return
            self.connects.append(_parse_connect(body))
            w.write(bytes([0x20, 0x02, 0x00, self.rc]))  # CONNACK, no session, rc (3.2)
            await w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            w.close()  # a refusing server closes the connection (3.2.2.3)


def _parse_connect(body: bytes) -> dict[str, Any]:
    """Protocol name and level, client id and user name of a CONNECT (MQTT 3.1.1, 3.1)."""

    def field(at: int) -> tuple[bytes, int]:
        n = int.from_bytes(body[at : at + 2], "big")
        return body[at + 2 : at + 2 + n], at + 2 + n

    name, at = field(0)
    level, flags = body[at], body[at + 1]
    client_id, at = field(at + 4)  # after level, flags and keep-alive
    if flags & 0x04:  # will topic and message
        _topic, at = field(at)
        _msg, at = field(at)
    user = field(at)[0].decode() if flags & 0x80 else None
    return {
        "protocol": name.decode(),
        "level": level,
        "client_id": client_id.decode(),
        "user": user,
    }


def _health_recorder(health: list[Health]):
    async def on_health(msg: Any) -> None:
        h = codec.decode_health(msg.data)
        if h.kind == "device":  # the routes' receivers, as kit status shows them
            health.append(h)

    return on_health


async def _raise_alarms(bus: Any, n: int) -> list[str]:
    ctx = ComponentContext("alarms", bus, asset=ASSET)
    out = []
    for i in range(n):
        ev = await ctx.publish_event(
            "alarm", "alarm_raised", severity="high", message=f"pressure high {i}"
        )
        out.append(ev.id)
    return out


def _route_log(entries: list[Any], route: str) -> list[tuple[str, str]]:
    return [(e.result, e.detail) for e in entries if e.route == route]


async def test_smtp_5xx_is_given_up_at_once_counted_and_logged(
    bus, kit_settings, make_runtime, receivers, port_later, caplog
):
    """A refused login (535), recipient (550) or message (554): one attempt per alarm, each
    given up and counted with the server's answer; the webhook route delivers everything."""
    smtp_handler = RefusingSmtp()
    smtp = Controller(
        smtp_handler,
        hostname="127.0.0.1",
        port=port_later(),
        authenticator=smtp_handler.authenticator,
        auth_require_tls=False,
    )
    smtp.start()
    ok = receivers()
    set_secret(kit_settings.data_dir, "smtp", "smtp-pw-wrong")

    def email(name: str, **kw: Any) -> dict[str, Any]:
        return {
            "name": name,
            "type": "email",
            "host": "127.0.0.1",
            "port": smtp.port,
            "security": "none",
            "sender": f"{name}@kit.local",
            "to": ["lead@plant.local"],
            "retry": FAST_RETRY,
            **kw,
        }

    routes = [
        email("login", user="kit@plant.local", password_secret="smtp"),
        email("rcpt", to=["nobody@plant.local"]),
        email("data"),
        {"name": "ok", "type": "webhook", "url": ok.url, "retry": FAST_RETRY},
    ]
    health: list[Health] = []
    await bus.nc.subscribe("kit.health.mail", cb=_health_recorder(health))
    caplog.set_level(logging.INFO, logger="kit.component.mail")
    try:
        spec = ComponentSpec(name="mail", type="notify", config={"routes": routes})
        rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
        n = rt.supervisor.instances["mail"].component
        await wait_for(lambda: n.ready, message="consumer attached")
        ids = await _raise_alarms(bus, ALARMS)

        refused = ("login", "rcpt", "data")
        await wait_for(
            lambda: (
                all(n.stats[r].failed == ALARMS for r in refused)
                and n.stats["ok"].delivered == ALARMS
            ),
            message="every refusal given up, every alarm delivered on the other route",
        )
        # Other routes lose nothing: both alarms reached the webhook, in order.
        assert [q["json"]["idempotency_key"] for q in ok.requests] == [f"{i}:ok" for i in ids]
        # One attempt per alarm: nothing left to retry (the route's outbox is empty below),
        # and none came later (counted again after the next alarm, further down).
        assert len(smtp_handler.login_sessions) == ALARMS
        assert smtp_handler.mails == {"rcpt@kit.local": ALARMS, "data@kit.local": ALARMS}
        assert smtp_handler.accepted == []
        m = n.metrics()
        for r in refused:
            assert n.stats[r].attempts_failed == 0 and n.stats[r].delivered == 0
            assert m["routes"][r]["pending"] == 0 and m["routes"][r]["retrying"] == 0
        assert m["failed"] == 3 * ALARMS and m["pending"] == 0
        # Clear errors: the server's own answer in last_error, kit notify log and the log.
        why = {
            "login": "SMTP 535",
            "rcpt": "recipients refused: nobody@plant.local",
            "data": "SMTP 554",
        }
        for r, text in why.items():
            assert text in n.stats[r].last_error, (r, n.stats[r].last_error)
        assert "554" in n.stats["data"].last_error and "refused by policy" in (
            n.stats["data"].last_error
        )
        assert "smtp-pw-wrong" not in n.stats["login"].last_error
        log = await ControlClient(rt.bus).call(LOG, {"component": "mail"})
        for r, text in why.items():
            entries = _route_log(log.entries, r)
            assert [res for res, _ in entries] == ["failed"] * ALARMS, entries
            assert all(text in d for _, d in entries)
        given_up = [
            rec.getMessage()
            for rec in caplog.records
            if rec.levelno == logging.ERROR and "given up" in rec.getMessage()
        ]
        for r, text in why.items():
            assert sum(f"notify {r}:" in g and text in g for g in given_up) == ALARMS, given_up
        # kit status shows the refusing routes as a degraded receiver, with the reason.
        await wait_for(
            lambda: health and all(f"{r}: " in health[-1].detail for r in refused),
            message="degraded health naming the refusing routes",
        )
        assert health[-1].status == "degraded"
        assert "SMTP 554" in health[-1].detail and "ok:" not in health[-1].detail

        # The relay's policy is fixed: the next alarm gets through on that route, which is
        # no longer named as failing; the others still refuse, and are still given up.
        smtp_handler.refuse_data = False
        await _raise_alarms(bus, 1)
        await wait_for(
            lambda: (
                n.stats["data"].delivered == 1
                and n.stats["login"].failed == n.stats["rcpt"].failed == ALARMS + 1
            ),
            message="the fixed route delivers, the others give up again",
        )
        assert smtp_handler.accepted == ["data@kit.local"]
        assert len(smtp_handler.login_sessions) == ALARMS + 1
        assert smtp_handler.mails == {"rcpt@kit.local": ALARMS + 1, "data@kit.local": ALARMS + 1}
        await wait_for(
            lambda: "data: " not in health[-1].detail, message="the fixed route left the health"
        )
        assert health[-1].status == "degraded" and "login: " in health[-1].detail
    finally:
        smtp.stop()


async def test_a_refused_mqtt_login_is_given_up_at_once_counted_and_logged(
    bus, kit_settings, make_runtime, receivers, caplog
):
    """CONNACK 5 (not authorized) and 4 (bad user name or password): one CONNECT per alarm,
    each given up and counted; the webhook route delivers everything."""
    not_authorized, bad_login = RefusingBroker(5), RefusingBroker(4)
    await not_authorized.start()
    await bad_login.start()
    ok = receivers()
    set_secret(kit_settings.data_dir, "broker", "mqtt-pw-wrong")

    def mqtt(name: str, broker: RefusingBroker) -> dict[str, Any]:
        return {
            "name": name,
            "type": "mqtt",
            "host": "127.0.0.1",
            "port": broker.port,
            "user": "scada",
            "password_secret": "broker",
            "retry": FAST_RETRY,
        }

    routes = [
        mqtt("scada", not_authorized),
        mqtt("historian", bad_login),
        {"name": "ok", "type": "webhook", "url": ok.url, "retry": FAST_RETRY},
    ]
    health: list[Health] = []
    await bus.nc.subscribe("kit.health.out", cb=_health_recorder(health))
    caplog.set_level(logging.INFO, logger="kit.component.out")
    try:
        spec = ComponentSpec(name="out", type="notify", config={"routes": routes})
        rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
        n = rt.supervisor.instances["out"].component
        await wait_for(lambda: n.ready, message="consumer attached")
        ids = await _raise_alarms(bus, ALARMS)

        refused = ("scada", "historian")
        await wait_for(
            lambda: (
                all(n.stats[r].failed == ALARMS for r in refused)
                and n.stats["ok"].delivered == ALARMS
            ),
            message="every refused login given up, every alarm delivered on the other route",
        )
        assert [q["json"]["idempotency_key"] for q in ok.requests] == [f"{i}:ok" for i in ids]
        # One CONNECT per alarm, as the route's user, over MQTT 3.1.1: never retried.
        for broker in (not_authorized, bad_login):
            assert [(c["protocol"], c["level"], c["user"]) for c in broker.connects] == [
                ("MQTT", 4, "scada")
            ] * ALARMS
        m = n.metrics()
        for r in refused:
            assert n.stats[r].attempts_failed == 0 and n.stats[r].delivered == 0
            assert m["routes"][r]["pending"] == 0 and m["routes"][r]["retrying"] == 0
            assert "login refused" in n.stats[r].last_error
            assert f"127.0.0.1:{n.routes[r].port}" in n.stats[r].last_error
            assert "mqtt-pw-wrong" not in n.stats[r].last_error
        log = await ControlClient(rt.bus).call(LOG, {"component": "out"})
        for r in refused:
            entries = _route_log(log.entries, r)
            assert [res for res, _ in entries] == ["failed"] * ALARMS, entries
            assert all("login refused" in d for _, d in entries)
        given_up = [
            rec.getMessage()
            for rec in caplog.records
            if rec.levelno == logging.ERROR and "given up" in rec.getMessage()
        ]
        for r in refused:
            assert sum(f"notify {r}:" in g and "login refused" in g for g in given_up) == ALARMS
        await wait_for(
            lambda: health and all(f"{r}: " in health[-1].detail for r in refused),
            message="degraded health naming the refusing routes",
        )
        assert health[-1].status == "degraded" and "login refused" in health[-1].detail
    finally:
        await not_authorized.stop()
        await bad_login.stop()


async def test_smtp_4xx_at_a_recipient_is_retried_not_given_up(
    bus, kit_settings, make_runtime, port_later
):
    """A greylisting relay answers 450 to the first RCPT (every recipient refused, for now):
    a temporary answer, so the alarm is retried and delivered, not given up."""
    smtp_handler = RefusingSmtp()
    smtp = Controller(smtp_handler, hostname="127.0.0.1", port=port_later())
    smtp.start()
    route = {
        "name": "grey",
        "type": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "sender": "grey@kit.local",
        "to": ["grey@plant.local"],
        "retry": FAST_RETRY,
    }
    try:
        spec = ComponentSpec(name="mail", type="notify", config={"routes": [route]})
        rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
        n = rt.supervisor.instances["mail"].component
        await wait_for(lambda: n.ready, message="consumer attached")
        await _raise_alarms(bus, 1)
        await wait_for(lambda: n.stats["grey"].delivered == 1, message="delivered after a retry")
        assert n.stats["grey"].failed == 0 and n.stats["grey"].attempts_failed == 1
        assert smtp_handler.greylisted == 1 and smtp_handler.accepted == ["grey@kit.local"]
        log = await ControlClient(rt.bus).call(LOG, {"component": "mail"})
        assert [r for r, _ in _route_log(log.entries, "grey")] == ["retrying", "delivered"]
        assert "450" in _route_log(log.entries, "grey")[0][1]
    finally:
        smtp.stop()


async def test_a_partly_refused_email_counts_delivered_names_the_refused_and_is_not_resent(
    bus, kit_settings, make_runtime, port_later, caplog
):
    """One recipient accepted, one refused for good (550): the alarm reached the accepted one,
    so it counts as delivered and is never sent again (the accepted recipient would get it
    twice); the refused address and the server's code are in last_error, the log and
    ``kit notify log``, and the route shows as failing until a clean delivery."""
    smtp_handler = RefusingSmtp()
    smtp = Controller(smtp_handler, hostname="127.0.0.1", port=port_later())
    smtp.start()
    route = {
        "name": "part",
        "type": "email",
        "host": "127.0.0.1",
        "port": smtp.port,
        "security": "none",
        "sender": "part@kit.local",
        "to": ["lead@plant.local", "nobody@plant.local"],
        "retry": FAST_RETRY,
    }
    health: list[Health] = []
    await bus.nc.subscribe("kit.health.mail", cb=_health_recorder(health))
    caplog.set_level(logging.INFO, logger="kit.component.mail")
    try:
        spec = ComponentSpec(name="mail", type="notify", config={"routes": [route]})
        rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
        n = rt.supervisor.instances["mail"].component
        await wait_for(lambda: n.ready, message="consumer attached")
        await _raise_alarms(bus, ALARMS)
        await wait_for(lambda: n.stats["part"].delivered == ALARMS, message="both delivered")
        st = n.stats["part"]
        assert st.failed == 0 and st.attempts_failed == 0
        assert smtp_handler.mails == {"part@kit.local": ALARMS}  # one attempt per alarm
        assert smtp_handler.accepted == ["part@kit.local"] * ALARMS
        assert "nobody@plant.local (550)" in st.last_error and "lead@" not in st.last_error
        assert n.metrics()["routes"]["part"]["pending"] == 0
        log = await ControlClient(rt.bus).call(LOG, {"component": "mail"})
        entries = _route_log(log.entries, "part")
        assert [r for r, _ in entries] == ["delivered"] * ALARMS
        assert all("nobody@plant.local (550)" in d for _, d in entries)
        warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert sum("delivered, but recipients refused: nobody@" in w for w in warned) == ALARMS
        await wait_for(
            lambda: health and "part: " in health[-1].detail, message="the route shows failing"
        )
        assert health[-1].status == "degraded"
    finally:
        smtp.stop()
