"""MQTT tools read kit/data/# from the embedded server's MQTT listener (NATS built-in)."""

import asyncio
import json
import struct

from kit.payloads import Point
from kit.settings import NatsSettings


def _str(s: str) -> bytes:
    b = s.encode()
    return struct.pack("!H", len(b)) + b


def _packet(kind: int, body: bytes) -> bytes:
    out, n = bytearray([kind]), len(body)
    while True:  # MQTT variable-length "remaining length"
        byte, n = n % 128, n // 128
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out) + body


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    kind = (await reader.readexactly(1))[0]
    mult, length = 1, 0
    while True:
        b = (await reader.readexactly(1))[0]
        length += (b & 0x7F) * mult
        mult *= 128
        if not b & 0x80:
            break
    return kind, await reader.readexactly(length)


async def test_mqtt_client_reads_kit_data(kit_settings, make_runtime, tmp_path):
    settings = kit_settings.model_copy(
        update={
            "nats_url": None,
            "data_dir": tmp_path / "mq",
            "nats": NatsSettings(port=0, mqtt_port=0),
        }
    )
    rt = await make_runtime(settings)
    port = rt.embedded.mqtt_port
    assert port
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        # MQTT 3.1.1 CONNECT (clean session, user+password, keepalive 30 s) as the read-only
        # viewer whose password the runtime generated, then SUBSCRIBE kit/data/# at QoS 0.
        pw = json.loads((settings.data_dir / "nats" / "auth.json").read_text())["users"]["viewer"]
        writer.write(
            _packet(
                0x10,
                _str("MQTT")
                + bytes([4, 0xC2])
                + struct.pack("!H", 30)
                + _str("kit-test")
                + _str("viewer")
                + _str(pw),
            )
        )
        kind, body = await asyncio.wait_for(_read_packet(reader), 10)
        assert kind == 0x20 and body[1] == 0, "CONNACK accepted"
        writer.write(_packet(0x82, struct.pack("!H", 1) + _str("kit/data/#") + bytes([0])))
        kind, _ = await asyncio.wait_for(_read_packet(reader), 10)
        assert kind == 0x90
        from kit.components import ComponentContext

        ctx = ComponentContext("mqtt-test", rt.bus, asset="test/area/line/m1")

        async def publish_until_received():
            while True:  # NATS attaches the MQTT subscription asynchronously; repeat until seen
                await ctx.publish_samples(
                    [Point(name="power_active_total_w", value=1234.5, unit="W")]
                )
                await asyncio.sleep(0.1)

        pub = asyncio.create_task(publish_until_received())
        try:
            kind, body = await asyncio.wait_for(_read_packet(reader), 10)
        finally:
            pub.cancel()
        assert kind >> 4 == 3  # PUBLISH
        tlen = struct.unpack("!H", body[:2])[0]
        topic, payload = body[2 : 2 + tlen].decode(), body[2 + tlen :]
        assert topic == "kit/data/test/area/line/m1"
        obj = json.loads(payload)
        assert obj["points"][0] == {
            "name": "power_active_total_w",
            "value": 1234.5,
            "unit": "W",
            "quality": "good",
        }
    finally:
        writer.close()
