"""The certification run: the plugin's components on a real nats-server, instrumented.

* The embedded server runs with per-component users built from the manifest (exactly as
  in production), so an undeclared publish or subscription is *denied by the server* and
  reported back on the component's connection — that is the truthfulness evidence.
* Event-loop blocking: the loop runs in debug mode with ``slow_callback_duration`` = 5 ms;
  asyncio logs every slower callback with its duration and the task/coroutine (whose file
  tells whether plugin code was running). The maximum is compared with the budget.
* Memory: ``tracemalloc`` snapshots after a warm-up and after the soak; growth of blocks
  allocated from the plugin's files is the figure.
* Analytics: malformed payloads and out-of-order/duplicate batches are sent to the bound
  assets; the component must keep running and count them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import tempfile
import tracemalloc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit import subjects
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings
from kit.trust.certify.rules import CertifySettings
from kit.trust.permissions import bound_assets

_TOOK = re.compile(r"took (\d+(?:\.\d+)?) seconds")
HARNESS = "kit-certify-harness"


class _SlowCallbacks(logging.Handler):
    """Collects asyncio's "Executing … took N seconds" debug warnings."""

    def __init__(self, markers: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.markers = markers
        self.all_max = 0.0
        self.plugin: list[tuple[float, str]] = []
        self.armed = False
        self.all: list[tuple[float, str]] = []
        """Counting starts once the runtime is up (its own start-up is not the plugin's doing)."""

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        m = _TOOK.search(msg)
        if not m or "Executing" not in msg or not self.armed or HARNESS in msg:
            return
        took = float(m.group(1))
        self.all_max = max(self.all_max, took)
        short = _short(msg, took)
        self.all.append((took, short))
        if any(mark in msg for mark in self.markers):
            self.plugin.append((took, short))


def _short(msg: str, took: float) -> str:
    """``<task name> <coroutine> <ms>`` — no machine paths in committed reports."""
    m = re.search(r"name='([^']+)' coro=<([^\s>]+)", msg)
    what = f"{m.group(1)} {m.group(2)}" if m else msg.split(" created at")[0][:120]
    return f"{what} took {took * 1000:.0f} ms"


@dataclass
class RunResult:
    """Everything the run observed."""

    started: bool = False
    error: str | None = None
    instances: dict[str, dict[str, Any]] = field(default_factory=dict)
    violations: dict[str, list[str]] = field(default_factory=dict)
    observed: dict[str, int] = field(default_factory=dict)
    max_callback_s: float = 0.0
    max_plugin_callback_s: float = 0.0
    slowest: list[str] = field(default_factory=list)
    durations: list[float] = field(default_factory=list)
    """The slowest callback durations (s), descending."""
    memory_growth_bytes: int = 0
    memory_top: list[str] = field(default_factory=list)
    bad_input: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: dict[str, Any] = field(default_factory=dict)


def _subject_family(subject: str) -> str:
    parts = subject.split(".")
    return ".".join(parts[:2]) + ".>" if parts[0] == "kit" and len(parts) > 2 else subject


async def _feed_bad_input(rt: Any, spec: ComponentSpec, cfg: Any) -> None:
    """Malformed, out-of-order and duplicate batches to every asset the component reads."""
    assets = bound_assets(cfg, spec.asset) or ({spec.asset} if spec.asset else set())
    for a in sorted(assets):
        subj = subjects.data_subject(subjects.AssetPath.parse(a))
        await rt.bus.nc.publish(subj, b"\x00\xffnot json")
        await rt.bus.nc.publish(subj, b'{"schema": "kit.samples/1", "asset": 5}')
        now = datetime.now(UTC).isoformat()
        for seq in (7, 3, 7):  # out of order, then a duplicate
            batch = {
                "schema": "kit.samples/1",
                "asset": a,
                "ts": now,
                "seq": seq,
                "source": "certify",
                "points": [{"name": "count_good", "value": seq, "quality": "good"}],
            }
            await rt.bus.nc.publish(subj, json.dumps(batch).encode())
    await rt.bus.nc.flush()


async def run_components(
    host: Any,
    specs: list[ComponentSpec],
    settings: CertifySettings,
    markers: list[str],
    pkg_dir: Path,
    fault_runner: Any = None,
) -> RunResult:
    """Run ``specs`` under instrumentation; return what was observed (never raises for plugin faults).

    The harness runs in its own task (named :data:`HARNESS`) so that its own steps are not
    counted as blocking callbacks.
    """
    alog = logging.getLogger("asyncio")
    loop = asyncio.get_running_loop()
    # Debug-mode warnings are evidence, not console noise; the NullHandler keeps logging's
    # last-resort handler from printing them while propagation is off.
    quiet = logging.NullHandler()
    alog.addHandler(quiet)
    propagate, alog.propagate = alog.propagate, False
    slow_default = loop.slow_callback_duration
    try:
        return await loop.create_task(
            _run_components(host, specs, settings, markers, pkg_dir, fault_runner), name=HARNESS
        )
    finally:
        loop.set_debug(False)
        loop.slow_callback_duration = slow_default
        alog.propagate = propagate
        alog.removeHandler(quiet)


async def _run_components(
    host: Any,
    specs: list[ComponentSpec],
    settings: CertifySettings,
    markers: list[str],
    pkg_dir: Path,
    fault_runner: Any = None,
) -> RunResult:
    from kit.runtime import Runtime

    res = RunResult()
    loop = asyncio.get_running_loop()
    loop.set_debug(True)
    loop.slow_callback_duration = 0.005
    slow = _SlowCallbacks(markers + ["name='component:", "_wait_for_msgs"])
    alog = logging.getLogger("asyncio")
    alog.addHandler(slow)
    was_tracing = tracemalloc.is_tracing()
    tmp = tempfile.TemporaryDirectory(prefix="kit-certify-")
    rt = None
    try:
        s = Settings(
            site="cert",
            data_dir=Path(tmp.name),
            nats=NatsSettings(port=0),
            plugin_policy="allow-unsigned",
            supervisor=SupervisorSettings(backoff_initial_s=0.2, backoff_max_s=2, heartbeat_s=1),
            components=specs,
        )
        rt = Runtime(s, host=host)
        try:
            await rt.start()
            res.started = True
        except Exception as exc:
            res.error = f"{type(exc).__name__}: {exc}"
            return res
        slow.armed = True
        observer = rt.bus  # the runtime's own (full-access) connection sees everything delivered
        assert observer is not None  # started above

        async def on_msg(msg: Any) -> None:
            fam = _subject_family(msg.subject)
            res.observed[fam] = res.observed.get(fam, 0) + 1

        sub = await observer.nc.subscribe("kit.>", cb=on_msg)
        for spec in specs:
            inst = rt.supervisor.instances.get(spec.name)
            if inst is not None and inst.cls.kind == "analytics":
                # Feed only once the component has subscribed (it may load state first).
                deadline = loop.time() + 10
                while loop.time() < deadline and not (
                    inst.context is not None and inst.context._subs
                ):
                    await asyncio.sleep(0.05)  # polling an observable condition, bounded
                await _feed_bad_input(rt, spec, inst.config)
        if fault_runner is not None:
            res.faults = await fault_runner(rt)
        await asyncio.sleep(settings.run_s)  # the run's duration (a schedule, not synchronisation)
        # tracemalloc slows every allocation several-fold: measure blocking first, then soak.
        slow.armed = False
        if not was_tracing:
            tracemalloc.start(1)
        await asyncio.sleep(min(1.0, settings.soak_s / 4))  # warm-up before the first snapshot
        snap1 = tracemalloc.take_snapshot()
        await asyncio.sleep(settings.soak_s)  # the soak
        snap2 = tracemalloc.take_snapshot()
        flt = [tracemalloc.Filter(True, str(pkg_dir) + "/*")]
        stats = snap2.filter_traces(flt).compare_to(snap1.filter_traces(flt), "lineno")
        res.memory_growth_bytes = sum(st.size_diff for st in stats if st.size_diff > 0)
        res.memory_top = [str(st) for st in stats[:3] if st.size_diff > 0]
        await sub.unsubscribe()
        for name, inst in rt.supervisor.instances.items():
            res.instances[name] = {
                "kind": inst.cls.kind,
                "status": inst.status.value,
                "restarts": inst.restarts,
                "last_error": inst.last_error,
            }
            if inst.cls.kind == "analytics":
                cb = rt.component_buses.buses.get(name) if rt.component_buses else None
                res.bad_input[name] = {
                    "malformed_counted": cb.malformed.total if cb else 0,
                    "still_running": inst.status.value == "running" and inst.restarts == 0,
                    "metrics": inst.summary().get("metrics", {}),
                }
        if rt.component_buses is not None:
            res.violations = {
                k: sorted(v) for k, v in rt.component_buses.violation_subjects.items()
            }
    finally:
        if rt is not None and res.started:
            await rt.stop()
        alog.removeHandler(slow)
        if not was_tracing:
            tracemalloc.stop()
        tmp.cleanup()
    res.max_callback_s = slow.all_max
    res.max_plugin_callback_s = max((t for t, _ in slow.plugin), default=0.0)
    res.slowest = [m for _, m in sorted(slow.plugin, reverse=True)[:3]]
    res.durations = sorted((t for t, _ in slow.plugin), reverse=True)[:50]
    return res
