"""Stream storage settings against a real nats-server: S2, raw data in memory, KIT_LAST in RAM."""

from __future__ import annotations

import nats.js.api as js_api

from kit.bus import KV_LAST, Bus
from kit.settings import RetentionSettings


async def _info(bus: Bus, name: str):
    return await bus.js.stream_info(name)


async def test_defaults_compress_streams_and_keep_last_values_in_memory(nats_server) -> None:
    bus = await Bus.connect(nats_server.url)
    try:
        await bus.provision(RetentionSettings())
        for name in ("KIT_DATA", "KIT_KPI", "KIT_EVENTS"):
            info = await _info(bus, name)
            assert info.config.compression == js_api.StoreCompression.S2
            assert info.config.storage == js_api.StorageType.FILE
        assert (await _info(bus, f"KV_{KV_LAST}")).config.storage == js_api.StorageType.MEMORY
    finally:
        await bus.close()


async def test_existing_uncompressed_stream_is_updated_in_place(nats_server) -> None:
    bus = await Bus.connect(nats_server.url)
    try:
        await bus.provision(RetentionSettings(compression="none"))
        assert (await _info(bus, "KIT_DATA")).config.compression in (
            None,
            js_api.StoreCompression.NONE,
        )
        await bus.publish("kit.data.s.a.l.m", b'{"x":1}', msg_id="m:1")
        await bus.flush()
        created = (await _info(bus, "KIT_DATA")).created
        await bus.provision(RetentionSettings())  # s2 now: the server accepts the update
        info = await _info(bus, "KIT_DATA")
        assert info.config.compression == js_api.StoreCompression.S2
        assert info.state.messages == 1 and info.created == created  # same stream, data kept
    finally:
        await bus.close()


async def test_raw_data_in_memory_and_back(nats_server) -> None:
    bus = await Bus.connect(nats_server.url)
    try:
        await bus.provision(RetentionSettings())
        await bus.publish("kit.data.s.a.l.m", b'{"x":1}', msg_id="m:1")
        await bus.publish("kit.kpi.s.a.l.m.oee", b'{"k":1}', msg_id="k:1")
        await bus.flush()
        mem = RetentionSettings(data_storage="memory", data_memory_max_bytes=4_000_000)
        await bus.provision(mem)
        info = await _info(bus, "KIT_DATA")
        assert info.config.storage == js_api.StorageType.MEMORY
        assert info.config.max_bytes == 4_000_000
        assert info.state.messages == 0  # recreated: the setting says raw data is not kept
        kpi = await _info(bus, "KIT_KPI")  # KPIs are always on disk and untouched
        assert kpi.config.storage == js_api.StorageType.FILE and kpi.state.messages == 1
        await bus.publish("kit.data.s.a.l.m", b'{"x":2}', msg_id="m:2")
        await bus.flush()
        assert (await _info(bus, "KIT_DATA")).state.messages == 1  # publishing works
        await bus.provision(mem)  # unchanged: nothing recreated
        assert (await _info(bus, "KIT_DATA")).state.messages == 1
        await bus.provision(RetentionSettings())
        assert (await _info(bus, "KIT_DATA")).config.storage == js_api.StorageType.FILE
    finally:
        await bus.close()


async def test_a_file_last_value_bucket_from_an_older_kit_moves_to_memory(nats_server) -> None:
    bus = await Bus.connect(nats_server.url)
    try:
        await bus.js.create_key_value(js_api.KeyValueConfig(bucket=KV_LAST, history=1))
        assert (await _info(bus, f"KV_{KV_LAST}")).config.storage == js_api.StorageType.FILE
        await bus.provision(RetentionSettings())
        assert (await _info(bus, f"KV_{KV_LAST}")).config.storage == js_api.StorageType.MEMORY
        kv = await bus.kv(KV_LAST)
        await kv.put("s.a.l.m", b"{}")
        assert (await kv.get("s.a.l.m")).value == b"{}"
    finally:
        await bus.close()
