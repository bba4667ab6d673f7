"""The hub's state (``hub.json``) and the nats-server config of each hub node.

A hub is an ordinary NATS cluster with JetStream in the domain ``hub``. Sites connect to its
leafnode listener (outbound from the factory) with one user per site. That user's permissions,
seen from the hub, say what the site may send into the hub (``publish``) and what the hub may
send to the site (``subscribe``):

- publish: only subjects carrying the site's own token (``kit.data.<site>.>``,
  ``kit.kpi.<site>.>``, ``kit.event.*.<site>.>``), the delivery subjects of the hub's sources
  of this site (``$KIT.fleet.<site>.>``) and replies to the hub's own requests;
- subscribe: the read-only part of the site's JetStream API the hub needs for sourcing and
  proof of delivery (``$JS.<site>.API.CONSUMER.CREATE.KIT_*``, ``STREAM.INFO.KIT_*``...),
  flow control of those sources, and the site's bundle rollout offers
  (``$KIT.rollout.<site>.offer``, :mod:`kit.hub.agent`). Never ``kit.>``: one site's data
  never reaches another site.

The state file holds passwords (0600, like the site's own ``nats/auth.json``).
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kit.errors import ConfigError

HUB_DOMAIN = "hub"
STATE_FILE = "hub.json"
#: Site ids are subject tokens and JetStream domain names.
SITE_ID = re.compile(r"^[a-z0-9_-]{1,64}$")
#: Streams at the site the hub sources, and the hub stream each goes to.
FLEET_STREAMS = {
    "KIT_KPI": "FLEET_KPI",
    "KIT_EVENTS": "FLEET_EVENTS",
    "KIT_DATA": "FLEET_DATA",
    "KIT_DATA_SAMPLED": "FLEET_DATA",
}
#: The hub streams, each once.
HUB_STREAMS = list(dict.fromkeys(FLEET_STREAMS.values()))
SAMPLED_PREFIX = "kit.sampled"


def deliver_prefix(site: str) -> str:
    """Subject prefix on which the site's consumers deliver the hub's sourced messages."""
    return f"$KIT.fleet.{site}"


def site_filter(stream: str, site: str) -> str:
    """Subject filter of the site's own messages in a site stream (its token only)."""
    return {
        "KIT_KPI": f"kit.kpi.{site}.>",
        "KIT_EVENTS": f"kit.event.*.{site}.>",
        "KIT_DATA": f"kit.data.{site}.>",
        "KIT_DATA_SAMPLED": f"{SAMPLED_PREFIX}.{site}.>",
    }[stream]


def check_site_id(site: str) -> str:
    """Return ``site`` if it can be a subject token and JetStream domain, else raise.

    Raises:
        ConfigError: naming the rule.
    """
    if not SITE_ID.match(site or ""):
        raise ConfigError(
            f"site id {site!r}: use 1-64 characters a-z, 0-9, '_' or '-' (it is a subject "
            "token and the site's JetStream domain)"
        )
    if site == HUB_DOMAIN:
        raise ConfigError(f"site id {site!r} is reserved: it is the hub's JetStream domain")
    return site


class HubTLS(BaseModel):
    """Certificate files of the hub's listeners (all three paths, or none)."""

    model_config = ConfigDict(extra="forbid")
    cert: Path
    key: Path
    ca: Path | None = None
    """CA of the hub's certificate; the kit's own tools (``kit fleet status``) trust it."""
    verify_clients: bool = False
    """Require client certificates signed by ``ca`` from sites and clients (mutual TLS)."""


class SiteEntry(BaseModel):
    """One site known to the hub."""

    model_config = ConfigDict(extra="forbid")
    password: str
    raw_data: Literal["all", "sampled", "none"] = "none"
    """Raw samples to the hub: ``all`` (the site's ``KIT_DATA``), ``sampled`` (its
    ``KIT_DATA_SAMPLED``: at most one batch per asset per ``hub.raw_sample_s`` at the site,
    :mod:`kit.hub.sampler`) or ``none``. KPIs and events always go to the hub."""

    @field_validator("raw_data", mode="before")
    @classmethod
    def _from_flag(cls, v: Any) -> Any:
        # hub.json written before the modes existed said true/false.
        return {True: "all", False: "none"}.get(v, v) if isinstance(v, bool) else v


class HubState(BaseModel):
    """Everything ``kit hub`` needs to write configs, start nodes and add sites."""

    model_config = ConfigDict(extra="forbid")
    nodes: int = Field(1)
    host: str = "127.0.0.1"
    client_ports: list[int] = Field(default_factory=lambda: [4300])
    cluster_ports: list[int] = Field(default_factory=list)
    leaf_ports: list[int] = Field(default_factory=lambda: [7422])
    monitor_ports: list[int] = Field(default_factory=list)
    """HTTP monitoring port of each node as configured, on 127.0.0.1 only (link bytes/s in
    ``kit fleet status``); 0: any free port; empty: no monitoring."""
    monitor_bound: list[int] = Field(default_factory=list)
    """The monitoring ports the running nodes bound (recorded by ``kit hub up``). Kept apart
    from the configured ones: a config reload must not change the monitoring port, which
    nats-server refuses (the whole reload would fail)."""
    admin_password: str = Field(default_factory=lambda: secrets.token_urlsafe(24))
    tls: HubTLS | None = None
    max_store: str = "64GB"
    sites: dict[str, SiteEntry] = Field(default_factory=dict)
    max_lag_msgs: int | None = Field(None, ge=0)
    """Lag alarm: a source more than this many messages behind (None: no limit)."""
    max_lag_s: float | None = Field(300.0, ge=0)
    """Lag alarm: a source more than this many seconds behind (None: no limit)."""

    @classmethod
    def create(
        cls,
        nodes: int = 1,
        host: str = "127.0.0.1",
        client_port: int = 4300,
        cluster_port: int = 6300,
        leaf_port: int = 7422,
        tls: HubTLS | None = None,
        monitor_port: int = 0,
    ) -> HubState:
        """A new hub of ``nodes`` (1 or 3) on consecutive ports from the given bases.

        Raises:
            ConfigError: on another node count (JetStream needs a majority: 1 or 3).
        """
        if nodes not in (1, 3):
            raise ConfigError(f"--nodes {nodes}: a hub has 1 node (trials) or 3 (production)")
        if nodes == 3 and 0 in (client_port, cluster_port, leaf_port):
            raise ConfigError("a 3-node hub needs fixed ports (routes name them); 0 is for 1 node")
        return cls(
            nodes=nodes,
            host=host,
            client_ports=[client_port + i if client_port else 0 for i in range(nodes)],
            cluster_ports=[cluster_port + i for i in range(nodes)] if nodes > 1 else [],
            leaf_ports=[leaf_port + i if leaf_port else 0 for i in range(nodes)],
            monitor_ports=[monitor_port + i if monitor_port else 0 for i in range(nodes)],
            tls=tls,
        )

    @classmethod
    def load(cls, hub_dir: Path) -> HubState:
        """Read ``hub_dir/hub.json``.

        Raises:
            ConfigError: missing or invalid.
        """
        path = Path(hub_dir) / STATE_FILE
        try:
            return cls.model_validate_json(path.read_text())
        except OSError:
            raise ConfigError(
                f"{path}: no hub here (create one with `kit hub config --dir {hub_dir}`)"
            ) from None
        except ValueError as exc:
            raise ConfigError(f"{path}:1: invalid hub state: {exc}") from None

    def save(self, hub_dir: Path) -> Path:
        """Write ``hub.json`` with mode 0600 (it holds passwords)."""
        hub_dir = Path(hub_dir)
        hub_dir.mkdir(parents=True, exist_ok=True)
        path = hub_dir / STATE_FILE
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.model_dump_json(indent=2))
        return path

    def client_urls(self) -> list[str]:
        """Client URLs of the nodes (as configured; port 0 means "see the running node")."""
        scheme = "tls" if self.tls else "nats"
        return [f"{scheme}://{self.host}:{p}" for p in self.client_ports]


def site_permissions(site: str) -> dict[str, Any]:
    """Permissions of ``site``'s user at the hub (see the module docstring).

    The site's server announces interest in its whole domain API (``$JS.<site>.API.>``), so
    that wildcard must be allowed; the calls that change or read out the site's streams are
    denied on top (and the site denies them again in its own leaf remote).
    """
    api = f"$JS.{site}.API"
    return {
        "publish": {
            "allow": [
                f"kit.data.{site}.>",
                f"kit.kpi.{site}.>",
                f"kit.event.*.{site}.>",
                f"{deliver_prefix(site)}.>",
                # Replies to the hub's source requests. `allow_responses` alone does not make
                # the hub announce its reply interest over a leaf link, so the prefix is
                # allowed; a forged reply can at worst fail another source's setup, which
                # the hub retries.
                "$JSC.R.>",
                # Replies to `kit fleet status` (its requests use this inbox prefix).
                "$KIT.fleet.reply.>",
            ]
        },
        "subscribe": {
            # The hub may offer this site bundle rollouts on its own offer subject only
            # (kit.hub.agent); the site decides by its own policy and trust store.
            "allow": [f"{api}.>", "$JS.FC.>", f"$KIT.rollout.{site}.offer"],
            "deny": [f"{api}.{call}" for call in DENIED_SITE_API],
        },
        # Replies to the hub's API requests go to its inboxes: allowed only as responses.
        "allow_responses": True,
    }


#: JetStream API calls the hub may never make on a site (mutations, message reads, account).
DENIED_SITE_API = [
    "STREAM.CREATE.>",
    "STREAM.UPDATE.>",
    "STREAM.DELETE.>",
    "STREAM.PURGE.>",
    "STREAM.MSG.>",
    "STREAM.SNAPSHOT.>",
    "STREAM.RESTORE.>",
    "STREAM.PEER.>",
    "STREAM.LEADER.>",
    "DIRECT.>",
    "ACCOUNT.>",
    "META.>",
    "SERVER.>",
    "CONSUMER.DURABLE.>",
    "CONSUMER.MSG.>",
]


def _q(s: str) -> str:
    return json.dumps(s)


def node_config(state: HubState, index: int, hub_dir: Path) -> str:
    """nats-server config text of hub node ``index`` (0-based)."""
    hub_dir = Path(hub_dir)
    name = f"hub-{index + 1}"
    store = hub_dir / name / "jetstream"
    cp = state.client_ports[index]
    lp = state.leaf_ports[index]
    lines = [
        f"# Fast-Track Kit hub node {index + 1} of {state.nodes} — written by `kit hub config`.",
        f"server_name: {_q(name)}",
        f"host: {_q(state.host)}",
        f"port: {cp if cp else -1}",
        f"pid_file: {_q(str(hub_dir / name / 'nats-server.pid'))}",
        "max_payload: 8MB",
    ]
    if index < len(state.monitor_ports):
        # Loopback only: the monitoring endpoint has no authentication.
        mp = state.monitor_ports[index]
        lines.append(f'http: "127.0.0.1:{mp if mp else -1}"')
    lines += [
        "jetstream {",
        f"  store_dir: {_q(str(store))}",
        f"  domain: {HUB_DOMAIN}",
        f"  max_file_store: {state.max_store}",
        "}",
        "authorization {",
        "  users = [",
        f"    {{user: admin, password: {_q(state.admin_password)}}}",
    ]
    # Site users live here (a leafnodes-only authorization block cannot carry permissions);
    # a leaf connection without its own authorization block is checked against these.
    for site, entry in sorted(state.sites.items()):
        perms = json.dumps(site_permissions(site))
        lines.append(
            f"    {{user: {_q('site-' + site)}, password: {_q(entry.password)}, "
            f"permissions: {perms}}}"
        )
    lines += ["  ]", "}"]
    if state.tls:
        lines += _tls_block("", state.tls)
    if state.nodes > 1:
        routes = [
            f"nats-route://{state.host}:{p}"
            for i, p in enumerate(state.cluster_ports)
            if i != index
        ]
        lines += [
            "cluster {",
            '  name: "kit-hub"',
            f"  host: {_q(state.host)}",
            f"  port: {state.cluster_ports[index]}",
            f"  routes: {json.dumps(routes)}",
            "}",
        ]
    lines += [
        "leafnodes {",
        f"  host: {_q(state.host)}",
        f"  port: {lp if lp else -1}",
        # Sites use the URLs they were given (the ones their firewall allows), never
        # addresses the hub advertises, which may be internal or bypass a proxy.
        "  no_advertise: true",
    ]
    if state.tls:
        lines += _tls_block("  ", state.tls)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _tls_block(indent: str, tls: HubTLS) -> list[str]:
    out = [
        f"{indent}tls {{",
        f"{indent}  cert_file: {_q(str(tls.cert))}",
        f"{indent}  key_file: {_q(str(tls.key))}",
    ]
    if tls.ca:
        out.append(f"{indent}  ca_file: {_q(str(tls.ca))}")
    if tls.verify_clients:
        out.append(f"{indent}  verify: true")
    return out + [f"{indent}}}"]


def admin_options(state: HubState) -> dict[str, Any]:
    """nats-py connect options of the kit's own tools on the hub (admin user, TLS trust)."""
    opts: dict[str, Any] = {"user": "admin", "password": state.admin_password}
    if state.tls:
        import ssl

        ctx = ssl.create_default_context(cafile=str(state.tls.ca) if state.tls.ca else None)
        if state.tls.verify_clients:
            ctx.load_cert_chain(str(state.tls.cert), str(state.tls.key))
        opts["tls"] = ctx
    return opts


def write_configs(state: HubState, hub_dir: Path) -> list[Path]:
    """Write ``hub-N/nats.conf`` for every node (0600) and return their paths."""
    out = []
    for i in range(state.nodes):
        d = Path(hub_dir) / f"hub-{i + 1}"
        (d / "jetstream").mkdir(parents=True, exist_ok=True)
        path = d / "nats.conf"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(node_config(state, i, hub_dir))
        out.append(path)
    return out


def add_site(state: HubState, site: str, raw_data: bool | str = False) -> SiteEntry:
    """Register ``site`` (new password) or update its options (password kept).

    Raises:
        ConfigError: invalid site id.
    """
    check_site_id(site)
    if isinstance(raw_data, bool):
        raw_data = "all" if raw_data else "none"
    if raw_data not in ("all", "sampled", "none"):
        raise ConfigError(f"--raw-data {raw_data!r}: all, sampled or none")
    entry = state.sites.get(site)
    if entry is None:
        entry = SiteEntry.model_validate(
            {"password": secrets.token_urlsafe(24), "raw_data": raw_data}
        )
    else:
        entry.raw_data = raw_data  # type: ignore[assignment]  # checked above
    state.sites[site] = entry
    return entry


def site_credentials(state: HubState, site: str, leaf_urls: list[str]) -> dict[str, Any]:
    """The credentials file a site is given (``hub.credentials`` in its settings)."""
    entry = state.sites[site]
    return {
        "site": site,
        "urls": leaf_urls,
        "user": f"site-{site}",
        "password": entry.password,
    }


def write_credentials(path: Path, creds: dict[str, Any]) -> Path:
    """Write a site credentials file with mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(creds, indent=2))
    return path
