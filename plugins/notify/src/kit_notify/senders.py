"""Senders: one delivery attempt to a webhook or an SMTP server.

Both use the standard library (``urllib.request``, ``smtplib``) in a worker thread
(``asyncio.to_thread``), so a slow endpoint never blocks the event loop, and no HTTP or SMTP
client library is added for what is one POST or one message per alarm. A sender raises
:class:`Retryable` for a failure worth retrying (connection refused, timeout, HTTP 5xx/429,
SMTP 4xx) and :class:`Permanent` for one that will fail again unchanged (HTTP 4xx, SMTP 5xx,
a bad address): the worker gives up on those at once and logs why.
"""

from __future__ import annotations

import smtplib
import socket
import ssl
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

import orjson

from kit_notify.config import EmailRoute, WebhookRoute, event_level

#: Schema of the JSON a webhook receives (docs/integrations.md, "MES via webhook").
WEBHOOK_SCHEMA = "kit.notify/1"


class SendError(Exception):
    """A delivery attempt failed."""


class Retryable(SendError):
    """Try again later (the receiver may come back)."""


class Permanent(SendError):
    """Will fail again unchanged: give up and log."""


class PartlyRefused(SendError):
    """Delivered, but some recipients were refused for good: not retried (the others would
    get the message twice); the refused ones are logged and the route shows as failing."""


def webhook_body(route: str, key: str, event: dict[str, Any]) -> bytes:
    """The JSON posted: ``{"schema", "route", "idempotency_key", "event"}``."""
    return orjson.dumps(
        {"schema": WEBHOOK_SCHEMA, "route": route, "idempotency_key": key, "event": event}
    )


def post_webhook(route: WebhookRoute, key: str, event: dict[str, Any], token: str | None) -> int:
    """POST one event (blocking; run it in a thread). Returns the HTTP status.

    Raises:
        Retryable: no connection, timeout, HTTP 408/429/5xx.
        Permanent: any other HTTP 4xx, or a redirect (not followed: the body is a POST).
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "kit-notify/1",
        "Idempotency-Key": key,
        **route.headers,
    }
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(
        route.url, data=webhook_body(route.name, key, event), headers=headers, method="POST"
    )
    ctx = ssl.create_default_context(cafile=route.tls_ca) if route.url.startswith("https") else None
    # No proxy from the environment (a plant's MES is on the site network) and no redirects.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        urllib.request.HTTPSHandler(context=ctx),
        _NoRedirect(),
    )
    try:
        with opener.open(req, timeout=route.timeout_s) as resp:
            status = int(resp.status)
    except urllib.error.HTTPError as exc:
        if exc.code in (408, 429) or exc.code >= 500:
            raise Retryable(f"HTTP {exc.code} {exc.reason}") from None
        raise Permanent(f"HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise Retryable(f"{route.url}: {reason}") from None
    if not 200 <= status < 300:
        raise Permanent(f"HTTP {status}")
    return status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx surfaces as HTTPError (Permanent): the URL is wrong, fix it


def email_message(route: EmailRoute, key: str, event: dict[str, Any]) -> EmailMessage:
    """The e-mail for one event: subject from the route's template, the event as text."""
    fields = {
        "kind": event.get("kind", ""),
        "type": event.get("type", ""),
        "severity": event.get("severity", ""),
        "priority": event.get("data", {}).get("priority", event.get("severity", "")),
        "asset": event.get("asset", ""),
        "message": event.get("message", "") or event.get("type", ""),
        "ts": event.get("ts", ""),
    }
    msg = EmailMessage()
    msg["Subject"] = route.subject.format_map(_Missing(fields))[:200]
    msg["From"] = route.sender
    msg["To"] = ", ".join(route.to)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(idstring=key.replace(":", "."), domain="kit.local")
    msg["X-Kit-Idempotency-Key"] = key
    lines = [
        f"{fields['message']}",
        "",
        f"Asset:     {fields['asset']}",
        f"Time:      {fields['ts']}",
        f"Kind:      {fields['kind']} / {fields['type']}",
        f"Priority:  {fields['priority']}",
        f"Source:    {event.get('source', '')}",
        "",
        "Details:",
        *(f"  {k}: {v}" for k, v in sorted(event.get("data", {}).items())),
        "",
        f"Event id:  {event.get('id', '')}",
        f"Route:     {route.name}",
    ]
    msg.set_content("\n".join(lines))
    return msg


class _Missing(dict[str, Any]):
    def __missing__(self, k: str) -> str:
        return "{" + k + "}"


def send_email(route: EmailRoute, key: str, event: dict[str, Any], password: str | None) -> None:
    """Send one e-mail (blocking; run it in a thread).

    Raises:
        Retryable: no connection, timeout, SMTP 4xx (try later; also a 4xx for a
            recipient, e.g. greylisting).
        Permanent: SMTP 5xx (rejected sender or every recipient, authentication refused).
        PartlyRefused: sent, but some of the recipients were refused.
    """
    msg = email_message(route, key, event)
    tls = ssl.create_default_context(cafile=route.tls_ca)
    try:
        smtp: smtplib.SMTP
        # EHLO with the plain host name: smtplib's default (socket.getfqdn) waits on DNS,
        # seconds on a plant network without a resolver.
        me = socket.gethostname() or "kit"
        if route.security == "tls":
            smtp = smtplib.SMTP_SSL(
                route.host, route.port, me, timeout=route.timeout_s, context=tls
            )
        else:
            smtp = smtplib.SMTP(route.host, route.port, me, timeout=route.timeout_s)
        with smtp:
            if route.security == "starttls":
                smtp.starttls(context=tls)
            if route.user and password:
                smtp.login(route.user, password)
            refused = smtp.send_message(msg)
        if refused:  # the server took the message for the other recipients
            raise PartlyRefused(
                "recipients refused: "
                + ", ".join(f"{to} ({code})" for to, (code, _msg) in sorted(refused.items()))
            )
    except smtplib.SMTPResponseException as exc:
        text = f"SMTP {exc.smtp_code} {exc.smtp_error!r}"
        raise (Retryable(text) if 400 <= exc.smtp_code < 500 else Permanent(text)) from None
    except smtplib.SMTPRecipientsRefused as exc:
        text = "recipients refused: " + ", ".join(
            f"{to} ({code})" for to, (code, _msg) in sorted(exc.recipients.items())
        )
        # A 4xx for a recipient is "not now" (greylisting, a full mailbox): try again.
        temporary = any(400 <= code < 500 for code, _msg in exc.recipients.values())
        raise (Retryable(text) if temporary else Permanent(text)) from None
    except smtplib.SMTPNotSupportedError as exc:
        raise Permanent(f"SMTP server: {exc}") from None
    except (smtplib.SMTPException, OSError, TimeoutError) as exc:
        raise Retryable(f"{route.host}:{route.port}: {exc}") from None


__all__ = [
    "PartlyRefused",
    "Permanent",
    "Retryable",
    "SendError",
    "email_message",
    "event_level",
    "post_webhook",
    "send_email",
    "webhook_body",
]
