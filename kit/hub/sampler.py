"""Sampled raw data for the hub: at most one batch per asset per ``hub.raw_sample_s``.

A hub that wants a site's raw data but not all of it (``kit hub add-site SITE --raw-data
sampled``) sources the site's ``KIT_DATA_SAMPLED`` stream instead of ``KIT_DATA``. The site
keeps that stream when ``hub.raw_sample_s`` is set: of the batches its components publish
on ``kit.data.<site>.…``, one per asset whose timestamp is at least ``raw_sample_s`` after
the last one kept goes, byte for byte (original timestamps), to ``kit.sampled.<site>.…``.
Sampling by the batches' own timestamps makes it independent of delivery jitter.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig

from kit import codec, subjects
from kit.hub.config import SAMPLED_PREFIX

log = logging.getLogger(__name__)

STREAM = "KIT_DATA_SAMPLED"


class RawSampler:
    """Keeps ``KIT_DATA_SAMPLED`` on a site runtime (see the module docstring)."""

    def __init__(self, runtime: Any, every_s: float) -> None:
        self.runtime = runtime
        self.every_s = every_s
        self.site = runtime.settings.site
        self.last: dict[str, datetime] = {}
        self.kept = 0

    async def start(self) -> None:
        """Create or update the stream (a tenth of ``KIT_DATA``'s size limit, same age) and
        subscribe to the site's own raw data."""
        r = self.runtime.settings.retention
        cfg = StreamConfig(
            name=STREAM,
            description="Fast-Track Kit: sampled raw data for the hub (kit.hub.sampler)",
            subjects=[f"{SAMPLED_PREFIX}.>"],
            retention=RetentionPolicy.LIMITS,
            discard=DiscardPolicy.OLD,
            storage=StorageType.FILE,
            max_age=r.data_max_age_hours * 3600.0,
            max_bytes=max(1, r.data_max_bytes // 10),
        )
        js = self.runtime.bus.js
        try:
            await js.stream_info(STREAM)
            await js.update_stream(cfg)
        except Exception:  # not there yet
            await js.add_stream(cfg)
        await self.runtime.bus.nc.subscribe(
            f"{subjects.DATA_PREFIX}.{self.site}.>", cb=self._on_batch
        )

    async def _on_batch(self, msg: Any) -> None:
        try:
            ts = codec.decode_batch(msg.data).ts
        except Exception:  # malformed: the bus counts it elsewhere; never sampled
            return
        last = self.last.get(msg.subject)
        if last is not None and (ts - last).total_seconds() < self.every_s:
            return
        self.last[msg.subject] = ts
        tail = msg.subject[len(subjects.DATA_PREFIX) + 1 :]
        await self.runtime.bus.publish(f"{SAMPLED_PREFIX}.{tail}", msg.data)
        self.kept += 1
