"""A flush that times out must not stop the connection from reading (nats-py 2.16 bug).

The PONG of the timed-out flush arrives later; nats-py resolved its cancelled future inside
the read loop, raised ``InvalidStateError`` and stopped reading: the next request on that
connection was never answered (``test_tampered_bundle_is_refused`` failed that way, a
30 s "no kit runtime answered"). :mod:`kit.natscompat` is applied by importing :mod:`kit.bus`.
"""

from __future__ import annotations

import asyncio

import nats

import kit.bus  # noqa: F401  (applies kit.natscompat, as every kit process does)


async def test_requests_are_answered_after_a_flush_timed_out(nats_server):
    nc = await nats.connect(nats_server.url)
    try:

        async def echo(msg):
            await msg.respond(msg.data)

        await nc.subscribe("compat.echo", cb=echo)
        # What flush() does when it times out: its PING is sent with a future for the PONG,
        # then the future is cancelled while it is still queued (made deterministic here by
        # cancelling at once instead of racing a tiny timeout against loopback).
        for _ in range(3):
            pong = asyncio.get_running_loop().create_future()
            await nc._send_ping(pong)
            pong.cancel()
        await nc.flush(timeout=5)  # its own PONG comes after the three late ones
        for i in range(5):
            reply = await nc.request("compat.echo", str(i).encode(), timeout=5)
            assert reply.data == str(i).encode()
        assert nc.is_connected and not nc._reading_task.done()
    finally:
        await nc.close()
