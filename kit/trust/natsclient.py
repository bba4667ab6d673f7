"""Connect options for NATS: generated credentials (embedded) or TLS/creds (external server)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

from kit.aio import wait_for
from kit.errors import ConfigError
from kit.settings import NatsClientSettings, Settings


def external_options(c: NatsClientSettings) -> dict[str, Any]:
    """``nats.connect`` options from ``nats_client`` settings (TLS context, user, creds).

    Raises:
        ConfigError: a certificate or key file is missing or unreadable.
    """
    opts: dict[str, Any] = {}
    if c.tls_ca or c.tls_cert:
        try:
            ctx = ssl.create_default_context(
                ssl.Purpose.SERVER_AUTH, cafile=str(c.tls_ca) if c.tls_ca else None
            )
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            if c.tls_cert:
                if not c.tls_key:
                    raise ConfigError(
                        "nats_client.tls_key: required together with nats_client.tls_cert"
                    )
                ctx.load_cert_chain(str(c.tls_cert), str(c.tls_key))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"nats_client: cannot load TLS files: {exc}") from None
        opts["tls"] = ctx
        if c.tls_hostname:
            opts["tls_hostname"] = c.tls_hostname
    if c.creds_file:
        if not Path(c.creds_file).is_file():
            raise ConfigError(f"nats_client.creds_file: {c.creds_file} does not exist")
        opts["user_credentials"] = str(c.creds_file)
    elif c.user:
        opts["user"] = c.user
        opts["password"] = c.password or ""
    return opts


def cli_options(settings: Settings, url: str, role: str | None = None) -> dict[str, Any]:
    """Options for a CLI/TUI connection to ``url``: external settings, else the data dir's role user.

    ``role`` defaults to ``KIT_ROLE`` or ``admin`` (whoever can read the data directory can
    read the admin password anyway; remote technicians get a technician or viewer password).
    """
    import os

    from kit.trust.busauth import client_options

    if settings.nats_url:
        return external_options(settings.nats_client)
    if "@" in url.split("//", 1)[-1]:
        return {}  # credentials in the URL
    return client_options(settings.data_dir, role or os.environ.get("KIT_ROLE", "admin"), url)


async def tls_preflight(url: str, opts: dict[str, Any], timeout: float = 5.0) -> None:
    """Check the TLS handshake with the first server of ``url`` before the NATS client connects.

    The NATS client retries a failing TLS handshake forever; an untrusted or mismatching
    server certificate would look like a hang. This check turns it into a clear error.

    Raises:
        BusError: the server's certificate is not trusted, or TLS fails otherwise.
    """
    import asyncio
    from urllib.parse import urlparse

    from kit.errors import BusError

    ctx = opts.get("tls")
    if ctx is None:
        if url.strip().startswith("tls://"):
            ctx = ssl.create_default_context()
        else:
            return
    first = urlparse(url.split(",")[0].strip())
    host, port = first.hostname or "127.0.0.1", first.port or 4222
    try:
        reader, writer = await wait_for(asyncio.open_connection(host, port), timeout)
    except (TimeoutError, OSError):
        return  # unreachable: the client reports that itself
    try:
        await wait_for(reader.readline(), timeout)  # NATS sends INFO before the TLS upgrade
        await wait_for(
            writer.start_tls(ctx, server_hostname=opts.get("tls_hostname") or host), timeout
        )
    except ssl.SSLError as exc:
        raise BusError(
            f"TLS with {host}:{port} failed: {exc.reason or exc}. Check nats_client.tls_ca "
            "(the CA that signed the server certificate) and nats_client.tls_hostname"
        ) from None
    except (TimeoutError, OSError):
        pass  # the client's own error handling reports other failures
    finally:
        writer.close()
