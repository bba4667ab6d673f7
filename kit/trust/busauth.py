"""Least privilege on the bus: NATS users and permissions for the embedded server.

The embedded ``nats-server`` always runs with authentication. Users:

* ``runtime`` — the runtime's own connection (streams, KV, control API service): everything.
* ``admin``, ``technician``, ``viewer`` — people and tools (CLI, TUI, MQTT clients). The
  control API endpoints each role may call are listed in :data:`ROLE_ENDPOINTS`. Each role
  reads replies only under its own inbox prefix (``_INBOX_<role>``, :func:`role_inbox`); the
  viewer and technician read JetStream only for the last-values bucket (no secrets) and
  cannot delete or name consumers. Audited endpoints are called on
  ``kit.control.as.<role>.…`` so the server-enforced subject names the caller.
* ``c-<component>`` — one user *per component instance*, created when the component is added.
  Its publish/subscribe permissions come from its plugin's manifest (``publishes``,
  ``subscribes``), narrowed by its bindings (an analytics component may subscribe only to the
  assets it is bound to), plus the plumbing it needs (its own KV state keys, its own reply
  inbox). Components share the runtime process, so each gets its **own NATS connection**.

Role passwords are generated once into ``<data_dir>/nats/auth.json`` (mode 0600); the CLI
and the TUI read them from there, so nothing needs configuring. Component passwords are new
on every start and live only in memory and in ``nats.conf`` (also 0600).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kit import subjects

AUTH_FILE = "auth.json"
ROLES = ("viewer", "technician", "admin")

#: Control API endpoints (``kit.control.<name>``) by role; each role includes the ones before it.
ROLE_ENDPOINTS: dict[str, list[str]] = {
    "viewer": [
        "ping",
        "status",
        "components",
        "plugins",
        "recipes.list",
        "recipes.show",
        "recipes.match",
        "recipes.validate",
        "deployments.list",
        "deployments.show",
        "bundles.inspect",
        "history.query",
        "history.export",
        "notify.log",
        "oee.downtimes",
        "alarms.list",
        "opcua.certs.list",
        "models.alerts",
        "models.figures",
        "workorders.list",
        # Read-only: the TUI overview shows pilot progress to whoever is logged in.
        "pilots.progress",
    ],
    "technician": [
        "components.restart",
        "alarms.ack",
        "alarms.shelve",
        "alarms.unshelve",
        "oee.assign_reason",
        "condition.feedback",
        "condition.relearn",
        "notify.test",
        "recipes.plan",
        "recipes.test_connection",
        "writes.request",
        "writes.confirm",
        # People in the loop of governed models (docs/models.md): label alerts, decide work orders.
        "models.label",
        "workorders.approve",
        "workorders.reject",
        "workorders.close",
    ],
    "admin": [">"],
}

#: Endpoints whose caller is recorded in the audit trail. Roles below admin call them on
#: ``kit.control.as.<role>.<endpoint>``; only that role may publish there, so the subject the
#: server delivered proves who called (the ``who`` in the body is only a claimed name).
#: The plain ``kit.control.<endpoint>`` is reachable only with the admin grant.
IDENTIFIED_ENDPOINTS = ("writes.request", "writes.confirm")
IDENTITY_PREFIX = "as"

#: The one bucket a viewer may read through JetStream: last values (what the TUI seeds its
#: screens from). Deployments (secrets), configuration and component state are not readable.
_VIEWER_KV_STREAM = "KV_KIT_LAST"
#: Read-only JetStream API a viewer needs to read last values. Consumer creation only on the
#: legacy *ephemeral* subject (exact, no name token): the server refuses a durable name there,
#: so nobody's durable consumer can be created, replaced or deleted; no CONSUMER.DELETE at all.
_JS_READ = [
    "$JS.API.INFO",
    f"$JS.API.STREAM.INFO.{_VIEWER_KV_STREAM}",
    f"$JS.API.CONSUMER.CREATE.{_VIEWER_KV_STREAM}",
    f"$JS.API.CONSUMER.INFO.{_VIEWER_KV_STREAM}.>",
    f"$JS.API.DIRECT.GET.{_VIEWER_KV_STREAM}.>",
    f"$JS.API.STREAM.MSG.GET.{_VIEWER_KV_STREAM}",
    f"$JS.FC.{_VIEWER_KV_STREAM}.>",
    "$SRV.>",
    "$MQTT.>",
]
# MQTT tools (mosquitto_sub, Node-RED) log in as viewer: NATS maps the filter kit/data/# to
# both kit.data.> and kit.data (MQTT's # also matches the parent level), and checks the
# client's session subjects ($MQTT.>) against the user's permissions too.
_READ_SUBS = [
    "kit.data.>",
    "kit.kpi.>",
    "kit.event.>",
    "kit.health.>",
    "kit.data",
    "kit.kpi",
    "kit.event",
    "kit.health",
    "kit.out.>",
    "kit.out",
    "$MQTT.>",
]


def role_inbox(role: str) -> str:
    """Reply-inbox prefix of a role's connections: a role reads only its own replies."""
    return f"_INBOX_{role}"


def identified_subject(endpoint: str, role: str) -> str:
    """Control API endpoint name to call as ``role`` (``as.<role>.<endpoint>`` when identified)."""
    if role in ("viewer", "technician") and endpoint in IDENTIFIED_ENDPOINTS:
        return f"{IDENTITY_PREFIX}.{role}.{endpoint}"
    return endpoint


def endpoints_for(role: str) -> list[str]:
    """Control API endpoint names (or ``>``) ``role`` may call (cumulative)."""
    out: list[str] = []
    for r in ROLES:
        out += ROLE_ENDPOINTS[r]
        if r == role:
            return out
    raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")


def role_permissions(role: str) -> dict[str, Any]:
    """NATS permissions of a human/tool role."""
    if role == "admin":
        # Admin may do anything except claim a lower role's identity on the audited subjects.
        return {
            "publish": {"allow": [">"], "deny": [f"kit.control.{IDENTITY_PREFIX}.>"]},
            "subscribe": {"allow": [">"]},
        }
    pubs = [f"kit.control.{identified_subject(e, role)}" for e in endpoints_for(role)] + _JS_READ
    subs = [*_READ_SUBS, f"{role_inbox(role)}.>"]
    return {"publish": {"allow": pubs}, "subscribe": {"allow": subs}}


def inbox_prefix(component: str) -> str:
    """Private reply-inbox prefix of a component's connection (others cannot read its replies)."""
    return f"_INBOX_c_{subjects.sanitize_token(component).replace('-', '_')}"


def component_permissions(
    component: str, publishes: list[str], subscribes: list[str]
) -> dict[str, Any]:
    """NATS permissions of one component instance.

    Args:
        component: instance name.
        publishes: subjects from the manifest (already narrowed by the caller if wanted).
        subscribes: subjects from the manifest, narrowed by the component's bindings.
    """
    tok = subjects.sanitize_token(component)
    pubs = list(publishes) + [
        subjects.health_subject(component),
        "$JS.API.STREAM.INFO.KV_KIT_STATE",
        "$JS.API.STREAM.INFO.KV_KIT_LAST",
        f"$KV.KIT_STATE.{tok}.>",
        f"$JS.API.DIRECT.GET.KV_KIT_STATE.$KV.KIT_STATE.{tok}.>",
        # Needed when the bucket has no direct get; see threat model (T7).
        "$JS.API.STREAM.MSG.GET.KV_KIT_STATE",
    ]
    # Last values and the stored form of batches (kit.store.data, docs/bus.md) mirror the
    # data subjects the component may publish.
    for p in publishes:
        if p == ">" or p.startswith("kit.data."):
            rest = p[len("kit.data.") :] if p != ">" else ">"
            pubs.append("$KV.KIT_LAST." + rest)
            pubs.append(f"{subjects.STORE_DATA_PREFIX}.{rest}")
        elif p == "kit.>" or p == "kit.data":
            pubs.append("$KV.KIT_LAST.>")
            pubs.append(f"{subjects.STORE_DATA_PREFIX}.>")
    # Reading a stream through a JetStream consumer (e.g. a historian catching up) is
    # allowed for the streams whose subjects the component may subscribe to. The grant is
    # per stream, not per subject: see the threat model (T7).
    for stream in sorted({st for sub in subscribes for st in streams_of(sub)}):
        pubs += [
            f"$JS.API.STREAM.INFO.{stream}",
            f"$JS.API.CONSUMER.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.CREATE.{stream}",
            f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.>",
            f"$JS.API.CONSUMER.INFO.{stream}.>",
            f"$JS.API.CONSUMER.MSG.NEXT.{stream}.>",
            f"$JS.API.CONSUMER.DELETE.{stream}.>",
            f"$JS.ACK.{stream}.>",
            f"$JS.FC.{stream}.>",
        ]
    subs = list(subscribes) + [f"{inbox_prefix(component)}.>"]
    # Components never call the control API nor request writes on kit.cmd (whatever a
    # manifest declares): a request there would be recorded as the admin's, the only role
    # reaching kit.control.<endpoint> and kit.cmd.>.
    return {
        "publish": {"allow": _dedupe(pubs), "deny": ["kit.control.>", f"{subjects.CMD_PREFIX}.>"]},
        "subscribe": {"allow": _dedupe(subs)},
    }


def streams_of(subject: str) -> set[str]:
    """JetStream streams holding messages that ``subject`` (a pattern) can match."""
    every = {subjects.STREAM_DATA, subjects.STREAM_KPI, subjects.STREAM_EVENTS}
    toks = subject.split(".")
    if subject == ">" or (toks[0] == "kit" and len(toks) >= 2 and toks[1] in ("*", ">")):
        return every
    if toks[0] != "kit" or len(toks) < 2:
        return set()
    by_token = {
        "data": subjects.STREAM_DATA,
        "store": subjects.STREAM_DATA,  # kit.store.data.>: KIT_DATA's stored form
        "kpi": subjects.STREAM_KPI,
        "event": subjects.STREAM_EVENTS,
    }
    return {by_token[toks[1]]} if toks[1] in by_token else set()


def narrow_subscriptions(declared: list[str], bound_assets: set[str]) -> list[str]:
    """Replace a broad ``kit.data`` subscription by the data subjects of the bound assets.

    A manifest says "analytics read ``kit.data.>``"; the recipe says *which* assets this
    instance reads. The instance gets only those (CR 2.1 least privilege). Subjects other
    than ``kit.data.*`` stay as declared.
    """
    if not bound_assets:
        return list(declared)
    out: list[str] = []
    for s in declared:
        if s in ("kit.data.>", "kit.>", ">"):
            out += [
                subjects.data_subject(subjects.AssetPath.parse(a)) for a in sorted(bound_assets)
            ]
            if s != "kit.data.>":
                out.append(s)  # a wider declaration keeps its other subjects
        else:
            out.append(s)
    return _dedupe(out)


def _intersect(a: str, b: str) -> str | None:
    """The NATS subject pattern matching exactly what both ``a`` and ``b`` match (None: nothing)."""
    x, y = a.split("."), b.split(".")
    out: list[str] = []
    for i in range(max(len(x), len(y))):
        p = x[i] if i < len(x) else None
        q = y[i] if i < len(y) else None
        if p == ">" and q is not None:
            return ".".join(out + y[i:])
        if q == ">" and p is not None:
            return ".".join(out + x[i:])
        if p is None or q is None:
            return None
        if p == "*":
            out.append(q)
        elif q == "*" or p == q:
            out.append(p)
        else:
            return None
    return ".".join(out)


def narrow_publishes(declared: list[str], asset: str | None) -> list[str]:
    """Narrow a manifest's data/KPI/event publish subjects to the component's own asset.

    A manifest says "this adapter publishes ``kit.data.>``"; the recipe binds the instance to
    one asset, and it may publish data, last values, KPIs and events for that asset only
    (issue 19 item 10). Health is always the component's own subject (added by
    :func:`component_permissions`). Other declared subjects stay as declared; a component
    without an asset keeps its declaration (it cannot publish samples anyway).
    """
    if not asset:
        return list(declared)
    t = subjects.AssetPath.parse(asset).tokens
    own = [
        f"{subjects.DATA_PREFIX}.{t}",
        f"{subjects.KPI_PREFIX}.{t}.*",
        f"{subjects.EVENT_PREFIX}.*.{t}",
    ]
    out: list[str] = []
    for s in declared:
        toks = s.split(".")
        surface = toks[0] == ">" or (
            toks[0] in ("kit", "*")
            and len(toks) > 1
            and toks[1] in ("data", "kpi", "event", "health", "*", ">")
        )
        if not surface:
            out.append(s)  # not a data/KPI/event/health subject: as declared
            continue
        out += [i for i in (_intersect(s, mine) for mine in own) if i]
    return _dedupe(out)


def _dedupe(items: list[str]) -> list[str]:
    seen: dict[str, None] = {}
    for i in items:
        seen.setdefault(i, None)
    return list(seen)


def _q(s: str) -> str:
    return json.dumps(s)


@dataclass
class BusAuth:
    """Users of the embedded server: persistent role users plus per-component users."""

    data_dir: Path
    passwords: dict[str, str] = field(default_factory=dict)
    components: dict[str, tuple[str, dict[str, Any]]] = field(default_factory=dict)
    """Component instance → (password, permissions)."""

    @property
    def auth_file(self) -> Path:
        """``<data_dir>/nats/auth.json``."""
        return self.data_dir / "nats" / AUTH_FILE

    @classmethod
    def load_or_create(cls, data_dir: Path) -> BusAuth:
        """Read the role passwords, creating them (0600) on first use."""
        ba = cls(Path(data_dir))
        try:
            ba.passwords = dict(json.loads(ba.auth_file.read_text())["users"])
        except (OSError, ValueError, KeyError):
            ba.passwords = {}
        missing = [u for u in ("runtime", *ROLES) if u not in ba.passwords]
        if missing:
            for u in missing:
                ba.passwords[u] = secrets.token_urlsafe(24)
            ba.save()
        return ba

    def save(self, url: str | None = None) -> None:
        """Write ``auth.json`` (mode 0600); ``url`` records which server the passwords are for."""
        self.auth_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.auth_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"users": self.passwords, "url": url}, f, indent=2)
        os.replace(tmp, self.auth_file)

    def add_component(self, name: str, permissions: dict[str, Any]) -> dict[str, Any]:
        """Create (or replace) the user of component ``name``; return its connect options."""
        pw = self.components.get(name, (secrets.token_urlsafe(24), {}))[0]
        self.components[name] = (pw, permissions)
        return self.connect_options(f"c-{name}")

    def remove_component(self, name: str) -> None:
        """Forget the user of component ``name`` (takes effect at the next reload)."""
        self.components.pop(name, None)

    def connect_options(self, user: str) -> dict[str, Any]:
        """``nats.connect`` keyword arguments for ``user`` (``runtime``, a role, or ``c-<component>``)."""
        if user.startswith("c-"):
            name = user[2:]
            opts: dict[str, Any] = {
                "user": user,
                "password": self.components[name][0],
                "inbox_prefix": inbox_prefix(name).encode(),
            }
            return opts
        opts = {"user": user, "password": self.passwords[user]}
        if user in ROLES:
            opts["inbox_prefix"] = role_inbox(user).encode()
        return opts

    def conf_lines(self) -> list[str]:
        """The ``authorization`` block of ``nats.conf``."""
        users: list[tuple[str, str, dict[str, Any] | None]] = [
            ("runtime", self.passwords["runtime"], None)
        ]
        users += [(r, self.passwords[r], role_permissions(r)) for r in ROLES]
        users += [(f"c-{n}", pw, perms) for n, (pw, perms) in sorted(self.components.items())]
        from kit.trust.users import conf_entries

        users += conf_entries(self.data_dir)  # named accounts: kit users add (kit.trust.users)
        lines = ["authorization {", "  users = ["]
        for user, pw, perms in users:
            entry = f"    {{user: {_q(user)}, password: {_q(pw)}"
            if perms is not None:
                entry += f", permissions: {json.dumps(perms)}"
            lines.append(entry + "}")
        lines += ["  ]", "}"]
        return lines


def _auth_files(data_dir: Path) -> list[Path]:
    """``auth.json`` of the data directory and of the demos under it (``demo``, ``demo-2`` …:
    side-by-side ``kit demo`` runs, kit.cli.demo_cmd)."""
    base = Path(data_dir)
    return [base / "nats" / AUTH_FILE, base / "demo" / "nats" / AUTH_FILE] + sorted(
        base.glob(f"demo-*/nats/{AUTH_FILE}")
    )


def client_options(data_dir: Path, role: str = "admin", url: str | None = None) -> dict[str, Any]:
    """Connect options a CLI/TUI process uses for ``role``, read from the data directory.

    Looks in ``data_dir`` and ``data_dir/demo`` (``kit demo`` keeps its own); when ``url``
    is given, the file recorded for that server wins. Empty if there are no credentials
    (an external server configured without them, or an old data directory).
    """
    candidates = _auth_files(data_dir)
    found: list[dict[str, Any]] = []
    for p in candidates:
        try:
            found.append(json.loads(p.read_text()))
        except (OSError, ValueError):
            continue
    if not found:
        return {}
    chosen = next(
        (f for f in found if url and f.get("url") and _same_server(f["url"], url)), found[0]
    )
    pw = chosen.get("users", {}).get(role)
    if not pw:
        return {}
    opts: dict[str, Any] = {"user": role, "password": pw}
    if role in ROLES:  # a role reads replies only under its own inbox prefix
        opts["inbox_prefix"] = role_inbox(role).encode()
    return opts


def _same_server(a: str, b: str) -> bool:
    from urllib.parse import urlparse

    pa, pb = urlparse(a.split(",")[0].strip()), urlparse(b.split(",")[0].strip())
    return (pa.hostname, pa.port) == (pb.hostname, pb.port)


#: Embedded servers started by this process: "host:port" → role passwords (see default_client_options).
_LOCAL: dict[str, dict[str, str]] = {}
_AUTH_KEYS = (
    "user",
    "password",
    "token",
    "user_credentials",
    "nkeys_seed",
    "signature_cb",
    "user_jwt_cb",
)


def _hostport(url: str) -> str:
    from urllib.parse import urlparse

    u = urlparse(url.split(",")[0].strip())
    return f"{u.hostname}:{u.port}"


def register_local(url: str, passwords: dict[str, str]) -> None:
    """Remember the credentials of an embedded server this process started (runtime start)."""
    _LOCAL[_hostport(url)] = dict(passwords)


def unregister_local(url: str) -> None:
    """Forget them again (runtime stop)."""
    _LOCAL.pop(_hostport(url), None)


def default_client_options(url: str, options: dict[str, Any]) -> dict[str, Any]:
    """Credentials for a connection that brings none, so existing tools work unchanged.

    Only for a server known to be a kit embedded server: one this process started (the
    ``admin`` user: the same process could read the runtime's credentials anyway), or one
    recorded in the data directory's ``auth.json`` for exactly that host and port (role
    ``KIT_ROLE``, default ``admin``; the file is readable by its owner only). Credentials
    are never sent to any other server.
    """
    if any(k in options for k in _AUTH_KEYS) or "@" in url.split(",")[0].split("//", 1)[-1]:
        return {}
    try:
        hp = _hostport(url)
    except ValueError:
        return {}
    role = os.environ.get("KIT_ROLE", "admin")
    if hp in _LOCAL:
        return {
            "user": "admin",
            "password": _LOCAL[hp]["admin"],
            "inbox_prefix": role_inbox("admin").encode(),
        }
    try:
        from kit.settings import load_settings

        data_dir = load_settings().data_dir
    except Exception:  # broken settings: no guessing
        return {}
    opts = client_options(data_dir, role, url)
    found = _auth_files(data_dir)
    for p in found:
        try:
            rec = json.loads(p.read_text())
        except (OSError, ValueError):
            continue
        if rec.get("url") and _same_server(rec["url"], url):
            return opts
    return {}
