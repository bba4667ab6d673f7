"""Retention that tells the truth: write rate, how many hours the store holds *now*, bytes/day.

A stream is limited both by age (``*_max_age_hours``) and by size (``*_max_bytes``); whichever
is reached first discards the oldest data. At 1,000 points per second the default 2 GiB of
``KIT_DATA`` fills in well under the 72 h the age limit promises, so the runtime measures the
write rate of each stream from the server's own stream info (two samples, the growth of the
stream's sequence times its mean stored message size, divided by the time between them) and
says how long the size limit lasts at that rate, with a warning when that is less than the
configured age. The same estimate gives the bytes written per day, for SD-card planning
(docs/sizing.md). ``max_bytes`` counts uncompressed bytes: S2 compression saves disk space,
not retention, so the estimate uses the stream's accounting, never ``du``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

from kit import subjects
from kit.settings import RetentionSettings

log = logging.getLogger(__name__)

STREAMS = (subjects.STREAM_DATA, subjects.STREAM_KPI, subjects.STREAM_EVENTS)


@dataclass(frozen=True)
class StreamSample:
    """One stream's state as the server reported it at ``at`` (monotonic seconds)."""

    name: str
    bytes: int
    messages: int
    last_seq: int
    max_bytes: int
    max_age_s: float
    storage: str
    at: float


@dataclass(frozen=True)
class StreamEstimate:
    """How one stream fills at the measured rate."""

    stream: str
    storage: str
    bytes: int
    max_bytes: int
    retention_hours: float
    """The configured age limit."""
    write_rate_bytes_s: float
    holds_hours: float | None
    """Hours of data the size limit holds at this rate (None: nothing written)."""
    bytes_per_day: float
    warning: str | None


async def sample(
    js: Any, names: tuple[str, ...] = STREAMS, at: float | None = None
) -> list[StreamSample]:
    """The current state of the given streams (missing streams are left out)."""
    out = []
    infos = await asyncio.gather(*(js.stream_info(n) for n in names), return_exceptions=True)
    now = time.monotonic() if at is None else at
    for name, info in zip(names, infos):
        if isinstance(info, BaseException):
            continue
        storage = getattr(info.config.storage, "value", info.config.storage) or "file"
        out.append(
            StreamSample(
                name=name,
                bytes=info.state.bytes,
                messages=info.state.messages,
                last_seq=info.state.last_seq,
                max_bytes=info.config.max_bytes or -1,
                max_age_s=float(info.config.max_age or 0),
                storage=str(storage),
                at=now,
            )
        )
    return out


def estimate(before: list[StreamSample], after: list[StreamSample]) -> list[StreamEstimate]:
    """Write rate and hours held per stream between two samples of the same streams."""
    prev = {s.name: s for s in before}
    out = []
    for cur in after:
        p = prev.get(cur.name)
        dt = cur.at - p.at if p else 0.0
        rate = 0.0
        if p is not None and dt > 0:
            new_msgs = cur.last_seq - p.last_seq
            if cur.bytes - p.bytes == 0 and new_msgs == 0:
                rate = 0.0
            elif cur.messages - p.messages == new_msgs:  # nothing discarded: exact growth
                rate = (cur.bytes - p.bytes) / dt
            else:  # the limit is discarding: new messages × their mean stored size
                mean = cur.bytes / cur.messages if cur.messages else 0.0
                rate = new_msgs * mean / dt
        retention_h = cur.max_age_s / 3600 if cur.max_age_s > 0 else float("inf")
        holds = cur.max_bytes / rate / 3600 if rate > 0 and cur.max_bytes > 0 else None
        warning = None
        if holds is not None and holds < retention_h:
            need = rate * cur.max_age_s
            warning = (
                f"{cur.name}: at {_size(rate)}/s the {_size(cur.max_bytes)} size limit holds "
                f"{holds:.1f} h of data, less than the {retention_h:g} h configured; "
                f"raise its max_bytes to about {_size(need)} or store less (docs/sizing.md)"
            )
        out.append(
            StreamEstimate(
                stream=cur.name,
                storage=cur.storage,
                bytes=cur.bytes,
                max_bytes=cur.max_bytes,
                retention_hours=retention_h,
                write_rate_bytes_s=rate,
                holds_hours=holds,
                bytes_per_day=rate * 86400 if cur.storage == "file" else 0.0,
                warning=warning,
            )
        )
    return out


def report(estimates: list[StreamEstimate], window_s: float) -> dict[str, Any]:
    """The ``storage`` field of the status reply (and ``kit status``)."""
    return {
        "window_s": round(window_s, 1),
        "streams": [asdict(e) for e in estimates],
        "disk_bytes_per_day": sum(e.bytes_per_day for e in estimates),
        "warnings": [e.warning for e in estimates if e.warning],
    }


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} TB"


class RetentionMonitor:
    """Samples the streams at start and every ``interval_s``; logs and reports the estimate.

    The first estimate is logged ``first_after_s`` after start (the write rate needs a
    window); later ones only when a warning appears or goes away.
    """

    def __init__(
        self,
        js: Any,
        retention: RetentionSettings,
        first_after_s: float = 60.0,
        interval_s: float = 600.0,
    ) -> None:
        self.js = js
        self.retention = retention
        self.first_after_s = first_after_s
        self.interval_s = interval_s
        self.base: list[StreamSample] = []
        self._older: list[StreamSample] = []
        self._task: asyncio.Task[None] | None = None
        self._warned: set[str] = set()

    async def start(self) -> None:
        """Take the first sample, log the limits, and start the periodic estimate."""
        self.base = await sample(self.js)
        for s in self.base:
            log.info(
                "stream %s (%s): %s of %s used, keeps data up to %g h",
                s.name,
                s.storage,
                _size(s.bytes),
                _size(s.max_bytes),
                s.max_age_s / 3600,
            )
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        await asyncio.sleep(self.first_after_s)  # the estimate's window, not synchronisation
        first = True
        while True:
            with contextlib.suppress(Exception):
                now = await sample(self.js)
                ests = estimate(self.base, now)
                self._log(ests, first)
                first = False
                self._older, self.base = self.base, now
            await asyncio.sleep(self.interval_s)

    def _log(self, ests: list[StreamEstimate], always: bool) -> None:
        warned = {e.stream for e in ests if e.warning}
        if always or warned != self._warned:
            per_day = sum(e.bytes_per_day for e in ests)
            parts = [
                f"{e.stream} {_size(e.write_rate_bytes_s)}/s"
                + (f" holds {e.holds_hours:.1f} h" if e.holds_hours is not None else "")
                for e in ests
            ]
            log.info("storage: %s; about %s written per day", ", ".join(parts), _size(per_day))
            for e in ests:
                if e.warning:
                    log.warning("retention: %s", e.warning)
        self._warned = warned

    async def current(self) -> dict[str, Any]:
        """Estimate from the last sample to now (for the status endpoint)."""
        now = await sample(self.js)
        base = self.base
        if self._older and now and base and now[0].at - base[0].at < 30:
            base = self._older  # just after a refresh: keep a useful window
        window = now[0].at - base[0].at if now and base else 0.0
        return report(estimate(base, now), window)

    async def stop(self) -> None:
        """Stop the periodic estimate."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


def status_lines(storage: dict[str, Any] | None) -> list[str]:
    """The ``storage`` field of a status reply as ``kit status`` prints it."""
    if not storage or "streams" not in storage:
        return []
    lines = [
        f"storage  about {_size(storage['disk_bytes_per_day'])} written per day "
        f"(measured over {storage['window_s']:.0f} s)"
    ]
    for e in storage["streams"]:
        holds = f"{e['holds_hours']:.1f} h" if e["holds_hours"] is not None else "-"
        lines.append(
            f"  {e['stream']:<11} {e['storage']:<6} {_size(e['bytes'])} of {_size(e['max_bytes'])}, "
            f"{_size(e['write_rate_bytes_s'])}/s, size limit holds {holds} "
            f"(retention {e['retention_hours']:g} h)"
        )
    lines += [f"WARNING: {w}" for w in storage.get("warnings", [])]
    return lines
