"""Supervisor: restarts with growing delays, crash loop → failed, siblings unaffected."""

import random

import kit
from kit import codec
from kit.components import Source
from kit.payloads import HealthStatus
from kit.settings import ComponentSpec, SupervisorSettings
from kit.supervisor import backoff_delay
from kit.testing import wait_for


class AlwaysCrashes(Source):
    """Raises on every start."""

    name = "always-crashes"
    starts = 0

    async def run(self):
        type(self).starts += 1
        raise RuntimeError(f"cannot start (attempt {type(self).starts})")


class CrashPlugin:
    @kit.hookimpl
    def register_components(self, register):
        register.add(AlwaysCrashes)


def test_backoff_grows_exponentially_with_bounded_jitter():
    s = SupervisorSettings(backoff_initial_s=1, backoff_factor=2, backoff_max_s=30, jitter=0.2)
    rng = random.Random(4)
    for n, base in [(1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (9, 30)]:
        d = backoff_delay(n, s, rng)
        assert base * 0.8 <= d <= base * 1.2


async def test_crash_loop_is_marked_failed_while_sibling_keeps_publishing(
    kit_settings, make_runtime, temp_plugin
):
    AlwaysCrashes.starts = 0
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(name="bad", type="always-crashes", asset="test/a/l/bad"),
                ComponentSpec(
                    name="good",
                    type="synthetic",
                    asset="test/a/l/good",
                    config={"interval_s": 0.05},
                ),
            ]
        }
    )
    rt = await make_runtime(settings, host=temp_plugin(CrashPlugin()))
    health = []

    async def on_health(msg):
        health.append(codec.decode_health(msg.data))

    await rt.bus.nc.subscribe("kit.health.bad", cb=on_health)
    seqs = []

    async def on_data(msg):
        seqs.append(codec.decode_batch(msg.data).seq)

    await rt.bus.nc.subscribe("kit.data.test.a.l.good", cb=on_data)
    bad = rt.supervisor.instances["bad"]
    await wait_for(
        lambda: bad.status == HealthStatus.failed, timeout=20, message="crash loop detection"
    )
    n_fail = kit_settings.supervisor.crash_loop_failures
    assert AlwaysCrashes.starts == n_fail
    assert len(bad.delays) == n_fail - 1
    # Each delay is longer than the previous one (factor 2 outruns ±20 % jitter).
    assert all(b > a for a, b in zip(bad.delays, bad.delays[1:])), bad.delays
    assert "cannot start" in bad.last_error
    await wait_for(
        lambda: any(h.status == HealthStatus.failed for h in health),
        message="failed health message",
    )
    assert any(h.status == HealthStatus.backoff for h in health)
    # The sibling kept publishing throughout and after the failure.
    seen_at_failure = len(seqs)
    await wait_for(
        lambda: len(seqs) >= seen_at_failure + 5, message="sibling batches after failure"
    )
    assert rt.supervisor.instances["good"].status == HealthStatus.running
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


async def test_failed_component_can_be_restarted_via_control_api(
    kit_settings, make_runtime, temp_plugin
):
    from kit.control import ControlClient

    AlwaysCrashes.starts = 0
    settings = kit_settings.model_copy(
        update={
            "components": [ComponentSpec(name="bad", type="always-crashes", asset="test/a/l/bad")]
        }
    )
    rt = await make_runtime(settings, host=temp_plugin(CrashPlugin()))
    bad = rt.supervisor.instances["bad"]
    await wait_for(lambda: bad.status == HealthStatus.failed, timeout=20)
    before = AlwaysCrashes.starts
    client = ControlClient(rt.bus)
    assert await client.call("components.restart", {"name": "bad"}) == {"restarted": "bad"}
    await wait_for(lambda: AlwaysCrashes.starts > before, message="restart")
    status = await client.call("status")
    assert [c["name"] for c in status["components"]] == ["bad"]


class SwallowsOneCancel(Source):
    """Ignores its first cancellation, as a library hit by CPython gh-86296 does (kit.aio)."""

    name = "swallows-one-cancel"
    runs: list["SwallowsOneCancel"] = []

    async def run(self):
        import asyncio

        type(self).runs.append(self)
        self.swallowed = False
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.swallowed = True  # carries on as if nothing happened
        await asyncio.Event().wait()


class SwallowPlugin:
    @kit.hookimpl
    def register_components(self, register):
        register.add(SwallowsOneCancel)


async def test_a_restart_never_leaves_the_old_instance_running(
    kit_settings, make_runtime, temp_plugin
):
    """A component that swallowed its cancellation used to keep running next to its restart
    (both saving state); the supervisor asks again after ``stop_timeout_s``."""
    from kit.control import ControlClient

    SwallowsOneCancel.runs = []
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(name="stubborn", type="swallows-one-cancel", asset="test/a/l/s")
            ],
            "supervisor": kit_settings.supervisor.model_copy(update={"stop_timeout_s": 0.3}),
        }
    )
    rt = await make_runtime(settings, host=temp_plugin(SwallowPlugin()))
    await wait_for(lambda: len(SwallowsOneCancel.runs) == 1, message="first start")
    first_task = rt.supervisor.instances["stubborn"].task
    reply = await ControlClient(rt.bus).call("components.restart", {"name": "stubborn"})
    assert reply == {"restarted": "stubborn"}
    await wait_for(lambda: len(SwallowsOneCancel.runs) == 2, message="restart")
    assert SwallowsOneCancel.runs[0].swallowed
    assert first_task.done(), "the old instance is still running next to the new one"
