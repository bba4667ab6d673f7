"""The site side of a hub link: the embedded server's leaf remote and JetStream domain.

The site's embedded nats-server opens an *outbound* leaf connection to the hub (factories
accept no inbound connections) and runs JetStream in its own domain, named by the site id, so
its streams stay local and keep working while the link is down. The hub reaches the site's
streams only through ``$JS.<site>.API`` (sourcing), with what the hub's permissions for the
site's user allow; on top, the site itself refuses everything under ``kit.>`` and its KV,
service and object-store subjects from the hub, and the JetStream API calls that change or
delete its streams — whatever the hub's configuration says.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from kit.errors import ConfigError
from kit.hub.config import check_site_id
from kit.settings import HubLinkSettings


#: What a site never takes from the hub (``deny_imports`` of its leaf remote).
def site_deny_imports(site: str) -> list[str]:
    """Subjects the site refuses from the hub, whatever the hub allows."""
    api = f"$JS.{site}.API"
    return [
        "kit.>",
        "$KV.>",
        "$O.>",
        "$SRV.>",
        f"{api}.STREAM.CREATE.>",
        f"{api}.STREAM.UPDATE.>",
        f"{api}.STREAM.DELETE.>",
        f"{api}.STREAM.PURGE.>",
        f"{api}.STREAM.MSG.>",
        f"{api}.DIRECT.>",
    ]


def read_credentials(path: Path) -> dict[str, Any]:
    """Read a credentials file written by ``kit hub add-site``.

    Raises:
        ConfigError: missing or malformed (naming the file).
    """
    try:
        creds: dict[str, Any] = json.loads(Path(path).read_text())
    except OSError as exc:
        raise ConfigError(f"hub.credentials: {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise ConfigError(f"{path}:1: hub credentials: not JSON ({exc})") from None
    for key in ("site", "user", "password", "urls"):
        if key not in creds:
            raise ConfigError(f"{path}:1: hub credentials: missing {key!r}")
    return creds


def _with_user(url: str, user: str, password: str) -> str:
    parts = urlsplit(url if "://" in url else f"nats-leaf://{url}")
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{quote(user, safe='')}:{quote(password, safe='')}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def leaf_config(site: str, link: HubLinkSettings) -> list[str]:
    """The ``leafnodes { remotes [...] }`` block of the site's embedded server.

    Raises:
        ConfigError: the credentials are for another site or unreadable.
    """
    check_site_id(site)
    creds = read_credentials(link.credentials)
    if creds["site"] != site:
        raise ConfigError(
            f"hub.credentials: {link.credentials} is for site {creds['site']!r}, "
            f"this site is {site!r} (each site has its own credentials)"
        )
    urls = [u.strip() for u in link.url.split(",")] if link.url else list(creds["urls"])
    remote = [
        "    {",
        f"      urls: {json.dumps([_with_user(u, creds['user'], creds['password']) for u in urls])}",
        f"      deny_imports: {json.dumps(site_deny_imports(site))}",
    ]
    if link.tls_ca or link.tls_cert:
        remote.append("      tls {")
        if link.tls_ca:
            remote.append(f"        ca_file: {json.dumps(str(link.tls_ca))}")
        if link.tls_cert and link.tls_key:
            remote.append(f"        cert_file: {json.dumps(str(link.tls_cert))}")
            remote.append(f"        key_file: {json.dumps(str(link.tls_key))}")
        remote.append("      }")
    remote.append("    }")
    return ["leafnodes {", "  remotes [", *remote, "  ]", "}"]


def apply_link(server: Any, site: str, link: HubLinkSettings) -> None:
    """Configure an :class:`kit.natsserver.EmbeddedNats` as a leaf of the hub.

    Domain and server name carry the site id (server names must be unique across the
    hub's leaf nodes, the domain names the site's JetStream for the hub's sources).
    """
    server.extra_lines = leaf_config(site, link)
    server.jetstream_domain = site
    server.server_name = f"kit-{site}"
