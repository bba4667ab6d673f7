"""Deployment records in the ``KIT_DEPLOYMENTS`` KV bucket (one key per deployment).

A record holds everything needed to re-create the deployment without the recipe library:
the recipe text and digest, the parameter values, the exact component specs, the device
identification and the commissioning report. Secrets are kept because the runtime needs
them to restart the deployment; bundles blank them (docs/bundles.md).

With a ``data_dir`` (the runtime always passes one) records are encrypted with the site key
before they reach the bucket, so secrets are never on disk in plain text
(:mod:`kit.trust.secrets`). Legacy plain records are read and re-written encrypted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kit import subjects
from kit.bus import KV_DEPLOYMENTS, Bus
from kit.trust.secrets import is_sealed, seal, site_key, unseal


def key_of(deployment: str) -> str:
    """KV key of a deployment id (a sanitised token)."""
    return subjects.sanitize_token(deployment)


class DeploymentStore:
    """Read and write deployment records."""

    def __init__(self, bus: Bus, data_dir: Path | None = None) -> None:
        self.bus = bus
        self._data_dir = data_dir
        self._key: Any = None

    @property
    def key(self) -> Any:
        """The site key (a ``Fernet``), loaded on first use: a site without deployments
        never imports ``cryptography`` (~7 MiB resident, docs/sizing.md)."""
        if self._key is None and self._data_dir is not None:
            self._key = site_key(self._data_dir)
        return self._key

    async def _kv(self) -> Any:
        return await self.bus.kv(KV_DEPLOYMENTS)

    async def get(self, deployment: str) -> dict[str, Any] | None:
        """The record of ``deployment`` or None."""
        kv = await self._kv()
        try:
            entry = await kv.get(key_of(deployment))
        except Exception:  # KeyNotFoundError / KeyDeletedError
            return None
        if not entry or not entry.value:
            return None
        record = unseal(entry.value, self.key)
        if self.key is not None and not is_sealed(entry.value):
            await self._reseal(record)  # written by an older kit: encrypt it now
        return record

    async def _reseal(self, record: dict[str, Any]) -> None:
        """Replace a plain record (and its plain history) by the encrypted one."""
        kv = await self._kv()
        await kv.purge(key_of(record["id"]))
        await self.put(record)

    async def put(self, record: dict[str, Any]) -> None:
        """Create or replace a record (keyed by ``record["id"]``)."""
        kv = await self._kv()
        raw = (
            seal(record, self.key)
            if self.key is not None
            else json.dumps(record, default=str).encode()
        )
        await kv.put(key_of(record["id"]), raw)

    async def delete(self, deployment: str) -> None:
        """Forget a deployment (history of the key is purged too)."""
        kv = await self._kv()
        try:
            await kv.purge(key_of(deployment))
        except Exception:  # already gone
            pass

    async def all(self) -> list[dict[str, Any]]:
        """Every record, sorted by id."""
        kv = await self._kv()
        try:
            keys = await kv.keys()
        except Exception:  # nats raises NoKeysError on an empty bucket
            return []
        out = []
        for k in keys:
            rec = await self.get(k)
            if rec is not None:
                out.append(rec)
        return sorted(out, key=lambda r: r["id"])
