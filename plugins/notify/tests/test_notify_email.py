"""An alarm e-mail delivered to a local SMTP server (aiosmtpd) with the sealed password."""

from __future__ import annotations

import email
import ssl
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from kit_notify.secrets import set_secret

from kit.components import ComponentContext
from kit.settings import ComponentSpec
from kit.testing import wait_for

ASSET = "test/assembly/line1/press1"


class Inbox:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.logins: list[tuple[bytes, bool]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(
            {
                "from": envelope.mail_from,
                "tls": session.ssl is not None,
                "to": list(envelope.rcpt_tos),
                "msg": email.message_from_bytes(envelope.content, policy=default_policy),
            }
        )
        return "250 OK"

    def authenticator(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth: Any
    ) -> AuthResult:
        ok = isinstance(auth, LoginPassword) and (auth.login, auth.password) == (
            b"kit@plant.local",
            b"smtp-pw-42",
        )
        self.logins.append((auth.login, ok))
        return AuthResult(success=ok, handled=False)


async def test_alarm_email_reaches_a_local_smtp_server(
    bus, kit_settings, make_runtime, port_later, tls_files
):
    inbox = Inbox()
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(*tls_files)
    smtp = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port_later(),
        authenticator=inbox.authenticator,
        auth_require_tls=False,
        server_hostname="smtp.test",
        tls_context=tls,  # STARTTLS offered (the second route uses it)
    )
    smtp.start()
    try:
        set_secret(kit_settings.data_dir, "smtp", "smtp-pw-42")
        spec = ComponentSpec(
            name="mail",
            type="notify",
            config={
                "routes": [
                    {
                        "name": "shift-lead",
                        "type": "email",
                        "host": "127.0.0.1",
                        "port": smtp.port,
                        "security": "none",
                        "user": "kit@plant.local",
                        "password_secret": "smtp",
                        "sender": "kit@plant.local",
                        "to": ["lead@plant.local", "maint@plant.local"],
                        "match": {"types": ["alarm_raised"], "min_priority": "high"},
                    },
                    {  # STARTTLS to a relay with a site-internal certificate (tls_ca)
                        "name": "planning",
                        "type": "email",
                        "host": "127.0.0.1",
                        "port": smtp.port,
                        "security": "starttls",
                        "tls_ca": str(tls_files[0]),
                        "sender": "kit@plant.local",
                        "to": ["planning@plant.local"],
                        "subject": "work order {type} for {asset}",
                        "match": {"kinds": ["work_order"], "states": ["approved"]},
                    },
                ]
            },
        )
        rt = await make_runtime(kit_settings.model_copy(update={"components": [spec]}))
        n = rt.supervisor.instances["mail"].component
        await wait_for(lambda: n.ready, message="consumer attached")
        alarms = ComponentContext("alarms", bus, asset=ASSET)
        await alarms.publish_event(
            "alarm", "alarm_raised", severity="low", data={"priority": "low"}
        )
        raised = await alarms.publish_event(
            "alarm",
            "alarm_raised",
            severity="high",
            message="hydraulic pressure above 180 bar",
            data={"priority": "high", "value": 183.5, "limit": 180},
        )
        await wait_for(lambda: n.stats["shift-lead"].delivered == 1, message="e-mail delivered")
        assert len(inbox.messages) == 1
        got = inbox.messages[0]
        assert got["from"] == "kit@plant.local"
        assert inbox.logins == [(b"kit@plant.local", True)]  # the sealed password was used
        assert got["to"] == ["lead@plant.local", "maint@plant.local"]
        msg = got["msg"]
        assert msg["Subject"] == f"[high] {ASSET}: hydraulic pressure above 180 bar"
        assert msg["X-Kit-Idempotency-Key"] == f"{raised.id}:shift-lead"
        body = msg.get_content()
        assert f"Asset:     {ASSET}" in body and "value: 183.5" in body and raised.id in body
        assert got["tls"] is False  # security: none (a local relay)

        await ComponentContext("models", bus, asset=ASSET).publish_event(
            "work_order", "work_order_approved", data={"state": "approved"}
        )
        await wait_for(lambda: n.stats["planning"].delivered == 1, message="STARTTLS e-mail")
        wo = inbox.messages[1]
        assert wo["tls"] is True and wo["to"] == ["planning@plant.local"]
        assert wo["msg"]["Subject"] == f"work order work_order_approved for {ASSET}"
    finally:
        smtp.stop()
