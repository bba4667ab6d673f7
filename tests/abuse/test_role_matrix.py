"""Every control API endpoint against every role's promise, on the real server.

docs/security/operations.md and docs/models.md promise what each role may call: a viewer only
the read-only endpoints, a technician also operates (restarts, alarms, downtime reasons,
condition feedback, recipe plans and connection tests, guarded writes on its own identified
subject, model labels and work-order decisions), everything else is the admin's. A named
account made with ``kit users add NAME --role viewer`` may publish nothing at all and read
only the KPI topics (``kit/out/kpi/#``). The expectations below are written from those texts,
not read from :mod:`kit.trust.busauth`, and the test fails if the runtime serves an endpoint
that no role's promise covers (a new endpoint must be placed in the matrix).
"""

from __future__ import annotations

import importlib

import nats

from kit.api import core as core_api
from kit.api.endpoint import CATALOG
from kit.control import ControlClient
from kit.testing import wait_for
from kit.trust.users import add_user

from .conftest import REFUSED, Conn

#: The endpoint families of the kit and its first-party plugins (as scripts/gen_control_api_doc).
_API_MODULES = (
    "kit.api.core",
    "kit.api.recipes",
    "kit.api.deployments",
    "kit.api.writes",
    "kit_alarms.api",
    "kit_oee.api",
    "kit_condition.api",
    "kit_historian.api",
    "kit_opcua.api",
    "kit_models.api",
    "kit_pilot.api",
)

#: Read-only endpoints (operations.md: status, components, plugins, *.list, *.show,
#: history.query, …; models.md: "viewer lists alerts, figures and work orders").
VIEWER = {
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
    "pilots.progress",
}
#: What a technician adds (operations.md's role table; models.md's "Who may do what").
TECHNICIAN = VIEWER | {
    "components.restart",
    "alarms.ack",
    "alarms.shelve",
    "alarms.unshelve",
    "oee.assign_reason",
    "condition.feedback",
    "condition.relearn",
    "recipes.plan",
    "recipes.test_connection",
    "writes.request",
    "writes.confirm",
    "models.label",
    "workorders.approve",
    "workorders.reject",
    "workorders.close",
    "notify.test",
}
#: Admin only: installing and removing, trust decisions about certificates, out-of-service
#: alarms, bundles and accounts.
ADMIN_ONLY = {
    "recipes.install",
    "recipes.uninstall",
    "recipes.upgrade",
    "bundles.install",
    "bundles.export",
    "opcua.certs.trust",
    "opcua.certs.reject",
    "alarms.out_of_service",
    "users.reload",
    "scan.start",
    "scan.status",
    "scan.stop",
    "scan.suggest",
}
#: Audited endpoints: a role below admin calls them on ``kit.control.as.<role>.<endpoint>``.
IDENTIFIED = {"writes.request", "writes.confirm"}
#: Not JSON: a publish that reaches a handler is refused by validation before it runs.
JUNK = b"\x00not json"


def catalog() -> set[str]:
    """Every endpoint the kit and its first-party plugins define."""
    for mod in _API_MODULES:
        importlib.import_module(mod)
    return set(CATALOG)


def saw(conn, subj: str) -> bool:
    """Whether the server reported a violation for exactly ``subj`` (nats-py lower-cases it)."""
    return any(f'"{subj.lower()}"' in v.lower() for v in conn.violations())


def subject(endpoint: str, role: str) -> str:
    """The subject ``role`` would use for ``endpoint``."""
    if endpoint in IDENTIFIED and role in ("viewer", "technician"):
        return f"kit.control.as.{role}.{endpoint}"
    return f"kit.control.{endpoint}"


async def publish_matrix(conn, role: str, endpoints: set[str]) -> set[str]:
    """Publish to every endpoint's subject; return the subjects the server refused.

    A sentinel that every non-admin is denied comes last: the server answers a connection's
    publishes in order, so once its violation arrives every earlier one has arrived too."""
    for ep in sorted(endpoints):
        await conn.nc.publish(subject(ep, role), JUNK)
    sentinel = "kit.control.as.admin.sentinel"
    await conn.nc.publish(sentinel, JUNK)
    await conn.nc.flush()
    await wait_for(
        lambda: saw(conn, sentinel),
        timeout=10,
        message=f"{role}: sentinel refused",
    )
    return {subject(ep, role) for ep in endpoints if saw(conn, subject(ep, role))}


def test_every_endpoint_has_a_promise():
    """A new endpoint must be placed: read-only (viewer), operating (technician) or admin."""
    unplaced = catalog() - TECHNICIAN - ADMIN_ONLY
    assert not unplaced, f"endpoints no role promise covers: {sorted(unplaced)}"
    assert not (TECHNICIAN & ADMIN_ONLY)


async def test_each_role_may_call_exactly_what_the_docs_promise(site, connect):
    everything = catalog()
    for role, allowed in (("viewer", VIEWER), ("technician", TECHNICIAN)):
        c = await connect(role)
        refused = await publish_matrix(c, role, everything)
        should = {subject(ep, role) for ep in everything - allowed}
        assert refused == should, (
            f"{role}: refused but promised {sorted(refused - should)}; "
            f"allowed but not promised {sorted(should - refused)}"
        )
        REFUSED.extend(f"{role}: {s}" for s in sorted(refused))
        # Nor may a role reach an audited endpoint on the plain subject, or as another role.
        claims = ["kit.control.writes.request"] + [
            f"kit.control.as.{o}.writes.request"
            for o in ("viewer", "technician", "admin")
            if o != role
        ]
        for s in claims:
            await c.nc.publish(s, JUNK)
        await c.nc.flush()
        await wait_for(
            lambda c=c, claims=claims: all(saw(c, s) for s in claims),
            timeout=10,
            message=f"{role}: identity subjects of others refused",
        )
        REFUSED.extend(f"{role}: claim {s}" for s in claims)


async def test_named_viewer_account_publishes_nothing_and_reads_only_kpi_topics(site):
    """``kit users add nodered --role viewer``: no control API (not even ping), no JetStream
    API, no raw data, events, health or inboxes; the KPI topics still arrive."""
    data_dir = site.settings.data_dir
    pw = add_user(data_dir, "nodered", "viewer")
    await ControlClient(site.bus).call(core_api.USERS_RELOAD)
    errors: list[str] = []

    async def on_err(e: Exception) -> None:
        errors.append(str(e))

    nc = await nats.connect(site.url, user="nodered", password=pw, error_cb=on_err)
    c = Conn(nc, errors)
    refused = await publish_matrix(c, "nodered", catalog())
    assert refused == {f"kit.control.{ep}" for ep in catalog()}
    pubs = (
        "$JS.API.INFO",
        "$JS.API.STREAM.INFO.KV_KIT_LAST",
        "$JS.API.DIRECT.GET.KV_KIT_LAST.$KV.KIT_LAST.x",
        "$KV.KIT_LAST.x",
        "kit.kpi.t.a.l.m1.oee",
        "kit.out.kpi.t.a.l.m1.oee.now",
    )
    for s in pubs:
        await c.nc.publish(s, b"{}")
    subs = ("kit.data.>", "kit.event.>", "kit.health.>", "kit.kpi.>", "_INBOX_viewer.>", ">")
    for s in subs:
        await c.nc.subscribe(s)
    got: list[str] = []

    async def on_kpi(m) -> None:
        got.append(m.subject)

    await c.nc.subscribe("kit.out.kpi.>", cb=on_kpi)
    await c.nc.flush()
    await wait_for(
        lambda: all(saw(c, s) for s in subs),
        timeout=10,
        message=f"named viewer: subscriptions refused: {c.errors}",
    )
    await wait_for(
        lambda: all(saw(c, s) for s in pubs),
        timeout=10,
        message="named viewer: JetStream API and its own topics are read-only",
    )
    assert not saw(c, "kit.out.kpi.>"), c.errors
    await site.bus.nc.publish("kit.out.kpi.t.a.l.m1.oee.now", b'{"value": 0.7}')
    await wait_for(lambda: got == ["kit.out.kpi.t.a.l.m1.oee.now"], message="KPI topic read")
    REFUSED.extend(f"named viewer: {s}" for s in [*sorted(refused), *pubs, *subs])
    await nc.close()
