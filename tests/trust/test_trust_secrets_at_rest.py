"""Secrets at rest and private file modes (issue 19 item 11).

A deployment's secret parameter must not be readable in the JetStream store on disk, the
data directory is 0700, and what the runtime and its nats-server write is owner-only.
"""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime

import pytest

from kit.bus import KV_DEPLOYMENTS
from kit.recipes.engine import RecipeEngine
from kit.settings import NatsSettings, Settings
from kit.trust.secrets import SecretsError, site_key, unseal

SECRET = "opcua-password-Zq8v4"


@pytest.fixture
def restore_umask():
    old = os.umask(0o022)
    os.umask(old)
    yield
    os.umask(old)


def _scan(root, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_secret_not_on_disk_and_store_private(tmp_path, make_runtime, restore_umask):
    os.umask(0o022)  # a typical login shell: the runtime must not depend on it
    settings = Settings(site="t", data_dir=tmp_path / "data", nats=NatsSettings(port=0))
    rt = await make_runtime(settings)
    record = {"id": "line-1", "recipe": "opcua-machine", "params": {"password": SECRET}}
    await RecipeEngine(rt).store.put(record)
    assert await RecipeEngine(rt).store.get("line-1") == record
    # What the bucket holds (and a viewer, or a backup of the store, would see): ciphertext.
    raw = (await (await rt.bus.kv(KV_DEPLOYMENTS)).get("line-1")).value
    assert SECRET.encode() not in raw
    await rt.stop()

    data = settings.data_dir
    js_files = [p for p in (data / "nats").rglob("*") if p.is_file()]
    assert js_files and not _scan(data / "nats", SECRET.encode())
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    loose = [
        (str(p), oct(stat.S_IMODE(p.stat().st_mode)))
        for p in data.rglob("*")
        if stat.S_IMODE(p.stat().st_mode) & 0o077
    ]
    assert not loose, loose
    assert stat.S_IMODE((data / "secrets.key").stat().st_mode) == 0o600

    # A changed key cannot decrypt (and nothing falls back to plain text).
    with pytest.raises(SecretsError):
        from cryptography.fernet import Fernet

        unseal(raw, Fernet(Fernet.generate_key()))
    assert unseal(raw, site_key(data)) == record


async def test_legacy_plain_record_is_resealed(tmp_path, make_runtime, restore_umask):
    settings = Settings(site="t", data_dir=tmp_path / "data", nats=NatsSettings(port=0))
    rt = await make_runtime(settings)
    kv = await rt.bus.kv(KV_DEPLOYMENTS)
    old = {"id": "old-1", "params": {"password": SECRET}}
    await kv.put("old-1", json.dumps(old).encode())  # written by an older kit
    assert await RecipeEngine(rt).store.get("old-1") == old
    assert SECRET.encode() not in (await kv.get("old-1")).value
    # The plain revision is gone from the key's history, too.
    hist = await kv.history("old-1")
    assert not [e for e in hist if e.value and SECRET.encode() in e.value]


def test_historian_parquet_files_are_private(tmp_path, restore_umask):
    from kit_historian.storage import RowBuffer, Store

    from kit.payloads import Point, SampleBatch

    os.umask(0o022)
    st = Store(tmp_path / "hist", "data")
    st.recover()
    buf = RowBuffer()
    batch = SampleBatch(
        asset="t/a/l/m1",
        ts=datetime(2026, 1, 1, tzinfo=UTC),
        seq=0,
        source="plc",
        points=[Point(name="x", value=1.0)],
    )
    buf.add_batch(batch, 1)
    files = st.write(buf.frame(), 1, 1)
    assert files
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600
        assert stat.S_IMODE(f.parent.stat().st_mode) & 0o077 == 0
