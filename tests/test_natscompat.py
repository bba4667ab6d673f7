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


async def test_a_request_cancelled_as_its_reply_lands_is_cancelled(nats_server):
    """Python 3.11's ``asyncio.wait_for`` returned the reply and dropped a cancellation that
    arrived in the same loop tick (CPython gh-86296): a component cancelled while its KV put
    was answered kept running and its stop never finished (an OEE test hung 300 s)."""
    nc = await nats.connect(nats_server.url)
    try:

        async def echo(msg):
            await msg.respond(msg.data)

        await nc.subscribe("compat.echo", cb=echo)
        await nc.request("compat.echo", b"first", timeout=5)  # sets up the reply map
        requester: asyncio.Task[object] | None = None

        class CancelOnReply(dict):
            """Cancels the requesting task from the reply future's own done callback — the
            exact tick in which the race happens, made deterministic."""

            def __setitem__(self, token, fut):
                fut.add_done_callback(lambda _f: requester and requester.cancel())
                super().__setitem__(token, fut)

        nc._resp_map = CancelOnReply(nc._resp_map)
        requester = asyncio.get_running_loop().create_task(
            nc.request("compat.echo", b"second", timeout=5)
        )
        done, _ = await asyncio.wait({requester}, timeout=10)
        assert done, "the request neither finished nor was cancelled"
        assert requester.cancelled(), f"cancellation swallowed: returned {requester.result()!r}"
    finally:
        await nc.close()


async def test_kit_wait_for_keeps_a_cancellation_when_the_inner_result_is_ready():
    """CPython gh-107547's reproduction, against :func:`kit.aio.wait_for`."""
    from kit.aio import wait_for

    async def quick() -> int:
        return 1

    async def victim() -> str:
        inner = asyncio.get_running_loop().create_task(quick())
        await inner  # done before wait_for is entered
        current = asyncio.current_task()
        assert current is not None
        current.cancel()
        await wait_for(inner, timeout=10)
        return "went on as if nothing happened"

    task = asyncio.get_running_loop().create_task(victim())
    await asyncio.wait({task})
    assert task.cancelled()

    async def slow() -> None:
        await asyncio.Event().wait()

    # Its own deadline still raises TimeoutError, and a result still comes back.
    try:
        await wait_for(slow(), timeout=0.01)
    except TimeoutError:
        pass
    else:
        raise AssertionError("no TimeoutError")
    assert await wait_for(quick(), timeout=None) == 1
    ready = asyncio.get_running_loop().create_future()
    ready.set_result(2)
    assert await wait_for(ready, timeout=0) == 2  # a zero timeout still returns what is there
