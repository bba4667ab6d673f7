"""The supervisor: one task per component instance, restarts with backoff, health.

Each instance runs ``Component.run()`` in its own asyncio task. When it raises, the
supervisor waits ``initial × factor^n`` seconds (capped, ±jitter) and starts a fresh
instance; ``crash_loop_failures`` failures within ``crash_loop_window_s`` mark it
``failed`` and it stays down until restarted through the control API. A failing instance
never touches its siblings: exceptions stay inside its task.
"""

from __future__ import annotations

import asyncio
import builtins
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from kit import codec, subjects
from kit.aio import wait_for
from kit.backoff import backoff_delay as _delay
from kit.components import Component, ComponentContext
from kit.payloads import Health, HealthStatus, utcnow
from kit.settings import SupervisorSettings

log = logging.getLogger(__name__)
#: A component failing up to this many seconds after its bus reconnected failed because of
#: the outage (a request timed out while the server was away), not by itself.
OUTAGE_GRACE_S = 15.0


def _disk_full(exc: BaseException | None, depth: int = 0) -> bool:
    """True if ``exc``, an exception it groups, or what caused it is "no space left on
    device" / "disk quota exceeded"."""
    import errno

    if exc is None or depth > 5:
        return False
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    if isinstance(exc, BaseExceptionGroup) and any(
        _disk_full(e, depth + 1) for e in exc.exceptions
    ):
        return True
    return _disk_full(exc.__cause__ or exc.__context__, depth + 1)


def backoff_delay(failures: int, s: SupervisorSettings, rng: random.Random | None = None) -> float:
    """Delay before restart number ``failures`` (1-based): :func:`kit.backoff.backoff_delay`."""
    return _delay(
        failures,
        s.backoff_initial_s,
        s.backoff_max_s,
        factor=s.backoff_factor,
        jitter=s.jitter,
        rng=rng,
    )


@dataclass
class Instance:
    """A supervised component instance and its life-cycle bookkeeping."""

    name: str
    type: str
    cls: builtins.type[Component]
    config: BaseModel
    make_context: Callable[[], ComponentContext]
    asset: str | None = None
    owner: str | None = None
    """Deployment that created it (None for components from the site config)."""
    status: HealthStatus = HealthStatus.starting
    restarts: int = 0
    last_error: str | None = None
    next_restart_in: float | None = None
    started_at: float | None = None
    failures: deque[float] = field(default_factory=lambda: deque(maxlen=64))
    outage_pauses: int = 0
    """Times it stopped during a bus outage and waited for the bus (not counted as crashes)."""
    delays: list[float] = field(default_factory=list)
    """Every restart delay used so far (shown in status; tests read it)."""
    task: asyncio.Task[None] | None = None
    component: Component | None = None
    context: ComponentContext | None = None

    def summary(self) -> dict[str, Any]:
        """JSON-able status for the control API."""
        return {
            "name": self.name,
            "type": self.type,
            "kind": self.cls.kind,
            "asset": self.asset,
            "owner": self.owner,
            "status": self.status.value,
            "restarts": self.restarts,
            "outage_pauses": self.outage_pauses,
            "last_error": self.last_error,
            "next_restart_in": self.next_restart_in,
            "metrics": _safe_metrics(self.component),
        }


def _safe_metrics(component: Component | None) -> dict[str, Any]:
    if component is None:
        return {}
    try:
        out = component.metrics()
    except Exception as exc:  # a buggy metrics() must not break `kit status`
        out = {"metrics_error": str(exc)}
    # Batches the stream dropped as duplicates of this component's ids: visible, never silent.
    dup = component.ctx.duplicates_dropped()
    return {**out, "duplicates_dropped": dup} if dup else out


class Supervisor:
    """Runs component instances, restarts them, and publishes their health."""

    def __init__(
        self,
        settings: SupervisorSettings,
        publish: Callable[[str, bytes], Any],
        rng: random.Random | None = None,
    ) -> None:
        self.settings = settings
        self._publish = publish
        self.instances: dict[str, Instance] = {}
        self._rng = rng or random.Random()
        self._stopping = False
        self.storage: Any = None
        """Set by the runtime (kit.storage.StorageWatch): failures during a storage error
        are waited out like bus outages."""

    def add(self, inst: Instance) -> None:
        """Start supervising ``inst`` (its task starts immediately)."""
        if inst.name in self.instances:
            raise ValueError(f"component {inst.name!r} is already running")
        self.instances[inst.name] = inst
        inst.task = asyncio.get_running_loop().create_task(
            self._run(inst), name=f"component:{inst.name}"
        )

    async def _run(self, inst: Instance) -> None:
        s = self.settings
        while not self._stopping:
            inst.context = inst.make_context()
            inst.component = inst.cls(inst.config, inst.context)
            inst.started_at = time.monotonic()
            await self._set(inst, HealthStatus.running)
            try:
                await inst.component.run()
                await self._set(inst, HealthStatus.stopped, detail="finished")
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                inst.last_error = f"{type(exc).__name__}: {exc}"
                if await self._bus_outage_pause(inst, exc):
                    continue  # not a crash: the bus was away; start afresh, nothing counted
                now = time.monotonic()
                inst.failures.append(now)
                recent = [t for t in inst.failures if now - t <= s.crash_loop_window_s]
                if inst.restarts == 0 or len(recent) == 1:
                    log.error("component %s crashed: %s", inst.name, inst.last_error, exc_info=exc)
                else:
                    log.warning(
                        "component %s crashed again (%d in %.0f s): %s",
                        inst.name,
                        len(recent),
                        s.crash_loop_window_s,
                        inst.last_error,
                    )
                if len(recent) >= s.crash_loop_failures:
                    inst.next_restart_in = None
                    await self._set(
                        inst,
                        HealthStatus.failed,
                        detail=f"crash loop: {len(recent)} failures in {s.crash_loop_window_s:.0f} s",
                    )
                    log.error(
                        "component %s marked failed after a crash loop; restart it with the control API "
                        "once the cause is fixed",
                        inst.name,
                    )
                    await self._on_failed(inst)
                    return
                delay = backoff_delay(len(recent), s, self._rng)
                inst.delays.append(delay)
                inst.next_restart_in = delay
                await self._set(inst, HealthStatus.backoff, detail=f"restarting in {delay:.1f} s")
                await inst.context.clock.sleep(delay)  # the backoff schedule (context clock)
                inst.restarts += 1
                inst.next_restart_in = None
            finally:
                if inst.context is not None:
                    await inst.context.unsubscribe_all()

    async def _on_failed(self, inst: Instance) -> None:
        """Let the failed instance say so on its data subjects (bounded; errors only logged)."""
        hook = getattr(inst.component, "on_failed", None)
        if hook is None:
            return
        try:
            await wait_for(
                hook(inst.last_error or "crash loop"),
                self.settings.stop_timeout_s,
            )
        except Exception as exc:  # the hook is best effort; the failed state stands
            log.warning("component %s: on_failed hook: %s", inst.name, exc)

    async def _bus_outage_pause(self, inst: Instance, exc: BaseException) -> bool:
        """If ``inst`` failed because its bus connection is (or just was) down, wait for the
        connection and return True: a bus outage is not a component crash, so it must not
        count towards the crash loop that marks the component ``failed`` for good."""
        bus = getattr(inst.context, "bus", None)
        recent_outage = getattr(bus, "recent_outage", None)
        storage = self.storage
        if storage is not None and storage.server.storage_error is None:
            # The component hit the full disk before the server's log said so (e.g. the
            # historian's Parquet files, or a consumer failing first): the same storage
            # error, handled the same way.
            low = storage.low_space()
            if _disk_full(exc) or low is not None:
                storage.server.storage_error = (
                    f"{inst.name}: {exc}"
                    if low is None
                    else f"disk full (no space left on device): {low} bytes free"
                )
        if storage is not None and storage.trouble(OUTAGE_GRACE_S):
            what, wait = "the bus's store (storage error)", storage.wait_ok
        elif bus is not None and recent_outage is not None and recent_outage(OUTAGE_GRACE_S):
            what, wait = "the bus (outage)", bus.wait_connected
        else:
            return False
        inst.outage_pauses += 1
        log.warning(
            "component %s stopped while waiting for %s: %s; it restarts when that is back",
            inst.name,
            what,
            inst.last_error,
        )
        inst.next_restart_in = None
        await self._set(inst, HealthStatus.backoff, detail=f"waiting for {what}")
        if inst.context is not None:
            await inst.context.unsubscribe_all()
        await wait()
        if bus is not None and hasattr(bus, "wait_connected"):
            await bus.wait_connected()
        inst.restarts += 1
        return True

    async def _set(self, inst: Instance, status: HealthStatus, detail: str = "") -> None:
        inst.status = status
        await self.publish_health(inst, detail)

    async def publish_health(self, inst: Instance, detail: str = "") -> None:
        """Publish the instance's health on ``kit.health.<name>``."""
        h = Health(
            component=inst.name,
            kind="component",
            status=inst.status,
            ts=utcnow(),
            detail=detail,
            restarts=inst.restarts,
            last_error=inst.last_error,
            metrics=_safe_metrics(inst.component),
        )
        try:
            await self._publish(subjects.health_subject(inst.name), codec.encode(h))
        except Exception as exc:  # health is best effort; the bus may be reconnecting
            log.debug("health publish failed: %s", exc)

    async def heartbeat(self) -> None:
        """Publish every instance's health (called periodically by the runtime)."""
        for inst in list(self.instances.values()):
            await self.publish_health(inst)

    async def restart(self, name: str) -> None:
        """Restart one instance now (also revives a ``failed`` one)."""
        inst = self.instances[name]
        await self._cancel(inst)
        inst.failures.clear()
        inst.status = HealthStatus.starting
        inst.task = asyncio.get_running_loop().create_task(
            self._run(inst), name=f"component:{inst.name}"
        )

    async def remove(self, name: str) -> None:
        """Stop and forget one instance."""
        inst = self.instances.pop(name, None)
        if inst is not None:
            await self._cancel(inst)

    async def _cancel(self, inst: Instance) -> None:
        if inst.task is None or inst.task.done():
            return
        inst.task.cancel()
        try:
            await wait_for(asyncio.shield(inst.task), self.settings.stop_timeout_s)
        except (TimeoutError, asyncio.CancelledError):
            pass
        except Exception:
            pass
        if not inst.task.done():
            # A library that swallowed the cancellation (Python 3.11's asyncio.wait_for did,
            # see kit.aio) would leave the old instance running next to its restart: ask again.
            log.warning(
                "%s did not stop within %s s; cancelling it again",
                inst.name,
                self.settings.stop_timeout_s,
            )
            inst.task.cancel()
            await asyncio.wait({inst.task}, timeout=self.settings.stop_timeout_s)
            if not inst.task.done():
                log.error("%s is still running after a second cancel; left behind", inst.name)
        inst.status = HealthStatus.stopped
        await self.publish_health(inst, "stopped")

    async def stop_all(self) -> None:
        """Cancel every instance, in parallel, bounded by ``stop_timeout_s``."""
        self._stopping = True
        await asyncio.gather(
            *(self._cancel(i) for i in list(self.instances.values())), return_exceptions=True
        )
