"""Shared by the chaos tests: an in-process runtime with a producer and an analytics
component, and reading back what the streams stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nats.js.api as js_api

from kit import subjects
from kit.bus import Bus
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings

ASSET = "chaos/area/line1/m1"


def chaos_settings(data_dir: Path, interval_s: float = 0.02, **nats: Any) -> Settings:
    """An embedded server, a synthetic machine publishing every ``interval_s`` and an OEE
    component reading it (KV state, KPIs); a crash loop is 3 failures in 60 s."""
    return Settings(
        site="chaos",
        data_dir=data_dir,
        nats=NatsSettings(port=0, **nats),
        supervisor=SupervisorSettings(
            backoff_initial_s=0.05,
            backoff_max_s=0.5,
            crash_loop_failures=3,
            crash_loop_window_s=60,
            stop_timeout_s=5,
            heartbeat_s=0.5,
        ),
        components=[
            ComponentSpec(
                name="m1", type="synthetic", asset=ASSET, config={"interval_s": interval_s}
            ),
            ComponentSpec(
                name="oee-m1",
                type="oee",
                asset=ASSET,
                config={
                    "inputs": {"running": "machine_running", "good": "count_good"},
                    "ideal_cycle_s": 2.0,
                    "publish_interval_s": 1,
                },
            ),
        ],
    )


async def stored_seqs(bus: Bus, subject: str, stream: str = subjects.STREAM_DATA) -> list[int]:
    """The ``seq`` of every message the stream holds for ``subject`` (in stream order)."""
    info = await bus.js.stream_info(stream, subjects_filter=subject)
    total = (info.state.subjects or {}).get(subject, 0)
    if total == 0:
        return []
    sub = await bus.js.subscribe(
        subject,
        ordered_consumer=True,
        config=js_api.ConsumerConfig(deliver_policy=js_api.DeliverPolicy.ALL),
    )
    out: list[int] = []
    try:
        while len(out) < total:
            msg = await sub.next_msg(timeout=10)
            out.append(int(json.loads(msg.data)["seq"]))
    finally:
        await sub.unsubscribe()
    return out


async def stored_events(bus: Bus, subject: str = "kit.event.system.>") -> list[dict]:
    """Every runtime event the EVENTS stream holds."""
    info = await bus.js.stream_info(subjects.STREAM_EVENTS, subjects_filter=subject)
    total = sum((info.state.subjects or {}).values())
    if not total:
        return []
    sub = await bus.js.subscribe(subject, ordered_consumer=True)
    out = []
    try:
        while len(out) < total:
            out.append(json.loads((await sub.next_msg(timeout=10)).data))
    finally:
        await sub.unsubscribe()
    return out


def completeness(seqs: list[int], produced: int) -> float:
    """Share of the producer's batches the stream holds, in % (distinct sequence numbers
    stored against the producer's own count of batches published)."""
    return 100.0 * len(set(seqs)) / max(1, produced)


def gaps(seqs: list[int]) -> list[int]:
    """Sequence numbers missing between the first and the last stored."""
    have = set(seqs)
    return [n for n in range(min(have), max(have) + 1) if n not in have] if have else []


async def until(predicate, timeout: float = 60.0, what: str = "condition") -> None:
    """Wait for ``predicate()`` (polled; never a sleep as synchronisation)."""
    from kit.testing import wait_for

    await wait_for(predicate, timeout=timeout, message=what)
