"""What KIT_DATA stores of a producer's batches when it is not simply the live JSON.

With ``retention.data_encoding: compact`` or ``retention.data_persistence`` ``sampled`` /
``none`` (docs/sizing.md), a :class:`kit.components.SampleWriter` publishes each batch twice:

* the JSON of the bus contract on ``kit.data.<asset>`` as a plain NATS publish — every live
  subscriber (analytics, alarms, MQTT tools, ``kit bus tail``) sees exactly what it saw
  before, every batch;
* the stored form on ``kit.store.data.<asset>``, the subject KIT_DATA then captures, with the
  same ``Nats-Msg-Id`` and the acknowledged, re-sent-after-an-outage path of every stream
  publish: compact (:mod:`kit.compact`) or the same JSON, for every batch (``kept``) or one
  per ``data_sample_s`` (``sampled``), or nothing (``none``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from kit import subjects


class StoredForm:
    """The stored side of one :class:`kit.components.SampleWriter`."""

    def __init__(
        self,
        ctx: Any,
        path: subjects.AssetPath,
        msg_id_prefix: str,
        points: Sequence[tuple[str, str | None]],
        retention: Any,
    ) -> None:
        self.ctx = ctx
        self.subject = subjects.data_subject(path)
        self.store_subject = subjects.store_subject(path)
        # Nats-Msg-Id of the stored form: a hash of the writer's id prefix (source, asset,
        # epoch) and the sequence number — as unique, ~30 bytes shorter on every stored batch.
        self._prefix = hashlib.sha256(msg_id_prefix.encode()).hexdigest()[:12] + ":"
        self.persistence: str = retention.data_persistence
        self.sample_s: float = retention.data_sample_s
        self._stored_at: float | None = None
        self.stored = 0
        """Batches handed to KIT_DATA."""
        self.compact_batches = 0
        """Of them, in the compact form (the rest as JSON: non-good points, text, …)."""
        self.encoder: Any = None
        if retention.data_encoding == "compact":
            from kit.compact import CompactEncoder

            self.encoder = CompactEncoder(str(path), ctx.name, ctx.epoch, points)

    def due(self) -> bool:
        """Whether this batch is stored (``sampled``: the first, then one per ``sample_s``)."""
        if self.persistence == "none":
            return False
        if self.persistence != "sampled":
            return True
        now = self.ctx.clock.monotonic()
        if self._stored_at is None or now - self._stored_at >= self.sample_s:
            self._stored_at = now
            return True
        return False

    async def publish(
        self,
        data: bytes,
        seq: int,
        ts: datetime,
        values: Sequence[Any],
        qualities: Sequence[Any] | None,
        point_ts: Sequence[datetime | None] | None,
        subset: Sequence[int] | None,
    ) -> None:
        """Publish the live JSON ``data`` and, if due, the stored form of the same batch.

        Args:
            values: the values in ``data`` (of ``subset`` of the points, if given).
            subset: report by exception: indices of the points ``data`` carries.
        """
        bus = self.ctx.bus
        await bus.publish_core(self.subject, data)
        if not self.due():
            return
        stored = None
        if qualities is not None and all(q is None for q in qualities):
            qualities = None  # all good, given point by point
        if self.encoder is not None and qualities is None and point_ts is None:
            stored = self.encoder.encode(ts, seq, values, subset)
        if stored is not None:
            self.compact_batches += 1
        self.stored += 1
        await bus.publish(self.store_subject, stored or data, msg_id=self._prefix + str(seq))
