"""Abuse suite fixtures: a runtime on its embedded server with the real generated permissions.

Each test connects as a role (viewer, technician, admin) or as a component's own user and
tries something it must not do; :func:`refused` asserts the *server* said no (a permissions
violation reported on that connection) and the test then checks that nothing happened.
Refusals are counted and printed at the end of the run (issue 19's "abuse cases refused").
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import nats
import pytest

import kit
from kit.components import Source
from kit.payloads import Point
from kit.recipes.store import DeploymentStore
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings
from kit.testing import wait_for
from kit.trust.busauth import client_options

REFUSED: list[str] = []
SECRET = "s3cret-modbus-gateway-password"
ASSET_1, ASSET_2 = "t/a/l/m1", "t/a/l/m2"


class Src(Source):
    """A well-behaved source: data for its own asset."""

    name: ClassVar[str] = "abuse-src"

    async def run(self) -> None:
        while True:
            await self.ctx.publish_samples([Point(name="x", value=1.0)])
            await self.ctx.clock.sleep(0.05)


class Hist(Source):
    """Reads KIT_DATA through a durable pull consumer, like the historian."""

    name: ClassVar[str] = "abuse-hist"

    async def run(self) -> None:
        psub = await self.ctx.bus.js.pull_subscribe(
            "kit.data.>", durable="hist-durable", stream="KIT_DATA"
        )
        while True:
            try:
                msgs = await psub.fetch(10, timeout=0.5)
            except TimeoutError:  # nothing new yet (nats' TimeoutError is one too)
                # Anything else (a closed connection at teardown) ends the component: catching
                # it here spun without ever yielding, and the test run hung in teardown.
                continue
            for m in msgs:
                await m.ack()


def _manifest(name: str, comps: list[str], pubs: list[str], subs: list[str]) -> dict[str, Any]:
    return {
        "name": name,
        "version": "1.0.0",
        "vendor": "test",
        "contact": "t@example.org",
        "kinds": ["source"],
        "components": comps,
        "publishes": pubs,
        "subscribes": subs,
    }


class SrcPlugin:
    kit_manifest = _manifest("kit-abuse-src", ["abuse-src"], ["kit.data.>", "kit.kpi.>"], [])

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(Src)


class HistPlugin:
    kit_manifest = _manifest("kit-abuse-hist", ["abuse-hist"], [], ["kit.data.>"])

    @kit.hookimpl
    def register_components(self, register) -> None:
        register.add(Hist)


@pytest.fixture
async def site(tmp_path, make_runtime, temp_plugin):
    """A runtime with two sources (two assets), a historian-like reader and a secret on file."""
    settings = Settings(
        site="t",
        data_dir=tmp_path / "data",
        nats=NatsSettings(port=0),
        supervisor=SupervisorSettings(backoff_initial_s=0.05, heartbeat_s=0.5),
        components=[
            ComponentSpec(name="src-1", type="abuse-src", asset=ASSET_1),
            ComponentSpec(name="src-2", type="abuse-src", asset=ASSET_2),
            ComponentSpec(name="hist", type="abuse-hist"),
        ],
    )
    host = temp_plugin(SrcPlugin(), HistPlugin(), name="abuse", load_entrypoints=False)
    rt = await make_runtime(settings, host=host)
    await DeploymentStore(rt.bus).put(
        {"id": "line-1", "recipe": "x", "params": {"gateway_password": SECRET}}
    )

    async def durable_exists() -> bool:
        try:
            await rt.bus.js.consumer_info("KIT_DATA", "hist-durable")
            return True
        except Exception:  # NotFoundError until the reader has started
            return False

    await wait_for(durable_exists, timeout=10, message="historian durable created")
    return rt


class Conn:
    """A connection as some user, collecting the errors the server reports on it."""

    def __init__(self, nc: Any, errors: list[str]) -> None:
        self.nc = nc
        self.errors = errors

    def violations(self) -> list[str]:
        return [e for e in self.errors if "permissions violation" in e.lower()]


@pytest.fixture
async def connect(site):
    """``await connect(user)``: a role (``viewer``…) or a component user (``c-<name>``)."""
    opened: list[Any] = []

    async def _c(user: str, **extra: Any) -> Conn:
        if user.startswith("c-"):
            opts = site.component_buses.auth.connect_options(user)
        else:
            opts = client_options(site.settings.data_dir, user)
        errors: list[str] = []

        async def on_err(e: Exception) -> None:
            errors.append(str(e))

        nc = await nats.connect(site.url, error_cb=on_err, **{**opts, **extra})
        opened.append(nc)
        return Conn(nc, errors)

    yield _c
    for nc in opened:
        await nc.close()


async def refused(
    conn: Conn, subject: str, attempt: Callable[[], Awaitable[Any]], case: str
) -> None:
    """Run ``attempt`` and require the server to report a permissions violation for ``subject``."""
    try:
        await attempt()
    except Exception:  # a denied request times out / has no responders: the check is below
        pass
    await conn.nc.flush()
    await wait_for(
        lambda: any(subject.lower() in v.lower() for v in conn.violations()),
        timeout=5,
        message=f"{case}: server did not refuse {subject}; errors {conn.errors}",
    )
    REFUSED.append(case)


async def quick_request(conn: Conn, subject: str, body: bytes = b"") -> Any:
    """A request that gives up quickly (a denied one never gets an answer)."""
    return await conn.nc.request(subject, body, timeout=1)


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # noqa: ARG001
    """Print the number of abuse cases the server refused (for the release notes)."""
    if REFUSED:
        terminalreporter.write_line(f"abuse cases refused by the server: {len(REFUSED)}")


__all__ = ["ASSET_1", "ASSET_2", "SECRET", "Conn", "asyncio", "quick_request", "refused"]
