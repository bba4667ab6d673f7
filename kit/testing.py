"""``kit.testing``: pytest fixtures for the kit's tests and for plugin vendors.

Registered as a ``pytest11`` plugin, so installing fast-track-kit makes these fixtures
available to any test suite:

* ``nats_server`` — a real nats-server with JetStream on a free loopback port and a
  temporary store (one per test).
* ``bus`` — a connected :class:`kit.bus.Bus` on that server, streams and KV provisioned.
* ``kit_settings`` — :class:`kit.settings.Settings` pointing at a temp data dir and the
  test server, with fast supervisor backoff.
* ``make_runtime`` — start a :class:`kit.runtime.Runtime` (stopped at teardown).
* ``temp_plugin`` — register a plugin object in a plugin host for one test.
* ``wait_for`` — await a condition with a timeout (never sleep to synchronise).
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:  # one signature for type checkers; at run time, see below
    from pytest_asyncio import fixture as _async_fixture
else:
    try:
        import pytest_asyncio

        _async_fixture = pytest_asyncio.fixture
    except ImportError:  # pragma: no cover
        # This module is auto-loaded by every pytest run where the kit is installed, so it
        # must not break suites without pytest-asyncio; its async fixtures then need the
        # `testing` extra.
        _async_fixture = pytest.fixture

from kit.bus import Bus
from kit.components import Clock
from kit.natsserver import EmbeddedNats
from kit.plugins import PluginHost, get_plugin_manager
from kit.settings import NatsSettings, Settings, SupervisorSettings


async def wait_for(
    predicate: Callable[[], Any | Awaitable[Any]],
    timeout: float = 10.0,
    interval: float = 0.02,
    message: str = "condition",
) -> Any:
    """Poll ``predicate`` until it returns a truthy value; fail the test after ``timeout``.

    This waits for an *observable event*; it is not a fixed sleep.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        await asyncio.sleep(interval)


class FakeClock(Clock):
    """A clock whose wall time is set by the test (``clock.at = datetime(...)``).

    Monotonic time stays real. Sleeps are real too unless ``instant=True``: then a backoff
    of 30 s (the supervisor's, a state read's retry) passes at once and is recorded.
    """

    def __init__(self, at: datetime, *, instant: bool = False) -> None:
        self.at = at
        self.instant = instant
        self.slept: list[float] = []
        """Every schedule sleep taken while ``instant`` (backoff delays, poll intervals)."""

    def now(self) -> datetime:
        """The time the test set."""
        return self.at

    async def sleep(self, seconds: float) -> None:
        """Real sleep; with ``instant``, record it, move ``at`` on and only yield once."""
        if not self.instant:
            await super().sleep(seconds)
            return
        self.slept.append(seconds)
        self.at += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@pytest.fixture
def wait() -> Callable[..., Awaitable[None]]:
    """The :func:`wait_for` helper as a fixture."""
    return wait_for


@_async_fixture
async def nats_server(tmp_path: Path) -> AsyncIterator[EmbeddedNats]:
    """A real nats-server with JetStream on 127.0.0.1 and a free port; stopped after the test."""
    server = EmbeddedNats(NatsSettings(port=0), tmp_path / "nats-data", server_name="kit-test")
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@_async_fixture
async def bus(nats_server: EmbeddedNats, kit_settings: Settings) -> AsyncIterator[Bus]:
    """A connected bus with the kit's streams and KV buckets provisioned."""
    b = await Bus.connect(nats_server.url, name="kit-test")
    await b.provision(kit_settings.retention)
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
def kit_settings(tmp_path: Path, nats_server: EmbeddedNats) -> Settings:
    """Settings using the test's nats-server, a temp data dir and fast restarts."""
    return Settings(
        site="test",
        data_dir=tmp_path / "data",
        nats_url=nats_server.url,
        # The default site historian (settings.history) is left out so a test sees only the
        # components it configures; tests of the default turn it on.
        history=False,
        supervisor=SupervisorSettings(
            backoff_initial_s=0.05,
            backoff_max_s=0.5,
            crash_loop_failures=4,
            crash_loop_window_s=30,
            stop_timeout_s=2,
            heartbeat_s=0.5,
        ),
    )


@_async_fixture
async def make_runtime(nats_server: EmbeddedNats) -> AsyncIterator[Callable[..., Awaitable[Any]]]:
    """Factory ``await make_runtime(settings, host=None)`` → started Runtime (stopped at teardown).

    Depends on ``nats_server`` so runtimes always stop before their server does.
    """
    from kit.runtime import Runtime

    started: list[Runtime] = []

    async def _make(settings: Settings, host: PluginHost | None = None, **kw: Any) -> Runtime:
        rt = Runtime(settings, host=host, **kw)
        await rt.start()
        started.append(rt)
        return rt

    try:
        yield _make
    finally:
        for rt in reversed(started):
            await rt.stop()


@pytest.fixture
def temp_plugin() -> Callable[..., PluginHost]:
    """``temp_plugin(obj, name="x", load_entrypoints=True)`` → a PluginHost with ``obj`` registered.

    The host is built for this test only, so nothing leaks into other tests.
    """

    def _make(
        *plugins: Any, name: str = "test-plugin", load_entrypoints: bool = True
    ) -> PluginHost:
        extra = [(f"{name}-{i}" if len(plugins) > 1 else name, p) for i, p in enumerate(plugins)]
        return get_plugin_manager(load_entrypoints=load_entrypoints, extra=extra)

    return _make
