"""Notifications and MQTT data out: end-to-end rates through the notify and kpi-topics sinks.

Run: ``uv run python bench/notify_out.py`` (500 alarm events, 2,000 KPI values) or
``--quick`` (30 and 100). One embedded runtime (nats-server with its MQTT listener, loopback)
runs a ``notify`` component with a webhook route to a local HTTP receiver and a
``kpi-topics`` component. Measured:

* webhook: alarm events published on the bus → all POSTed to the receiver (durable consumer,
  outbox saved to the component state before each ack, one POST per event);
  baseline: the same POSTs sent directly with the same sender function, one after another;
* kpi-topics: KPI values on distinct (KPI, window) topics published on the bus → all
  published retained at QoS 1 on the MQTT listener; baseline: the same retained QoS 1
  publishes sent directly by one aiomqtt client.

Ratios are figure / baseline (the sinks' overhead: bus, matching, outbox, coalescing).
The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiomqtt
from kit_notify.config import WebhookRoute
from kit_notify.senders import post_webhook

from kit.components import ComponentContext
from kit.runtime import Runtime
from kit.settings import ComponentSpec, NatsSettings, Settings

ASSET = "bench/hall/line1/press1"


class Receiver:
    """HTTP receiver on 127.0.0.1 counting POSTs."""

    def __init__(self) -> None:
        self.count = 0
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.count += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


async def until(pred: Any, timeout: float = 120.0) -> None:
    """Wait for ``pred()`` (a bench measures until an observable end, not a sleep)."""
    end = time.perf_counter() + timeout
    while not pred():
        if time.perf_counter() > end:
            raise TimeoutError("bench did not finish")
        await asyncio.sleep(0.002)  # poll interval of the wait, not synchronisation


async def main(n_events: int, n_kpis: int) -> dict[str, Any]:
    rx = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        route = {
            "name": "bench",
            "type": "webhook",
            "url": rx.url,
            "match": {"kinds": ["alarm"]},
            "rate_limit": {"count": 1_000_000, "per_s": 1},
        }
        settings = Settings(
            site="bench",
            data_dir=Path(tmp) / "data",
            history=False,
            nats=NatsSettings(port=0, mqtt_port=0),
            components=[
                ComponentSpec(name="notify", type="notify", config={"routes": [route]}),
                ComponentSpec(name="mqtt-out", type="kpi-topics", config={}),
            ],
        )
        rt = Runtime(settings)
        await rt.start()
        try:
            notify = rt.supervisor.instances["notify"].component
            out = rt.supervisor.instances["mqtt-out"].component
            await until(lambda: notify is not None and notify.ready and out.connected)
            assert rt.bus is not None and rt.embedded is not None
            ctx = ComponentContext("alarms", rt.bus, asset=ASSET)

            t = time.perf_counter()
            for k in range(n_events):
                await ctx.publish_event("alarm", "alarm_raised", message=f"a{k}")
            await until(lambda: rx.count >= n_events)
            webhook_s = time.perf_counter() - t

            # Baseline: the same POSTs, directly, one after another (same sender code).
            wr = WebhookRoute(name="bench", type="webhook", url=rx.url)
            ev = {"kind": "alarm", "type": "alarm_raised", "asset": ASSET, "message": "a"}
            before = rx.count
            t = time.perf_counter()
            for k in range(n_events):
                await asyncio.to_thread(post_webhook, wr, f"k{k}", ev, None)
            direct_s = time.perf_counter() - t
            assert rx.count - before == n_events

            t = time.perf_counter()
            for k in range(n_kpis):
                await ctx.publish_kpi(f"kpi_{k}", float(k), window="hour:2026-12-06T05")
            await until(lambda: out.counts["published"] >= n_kpis)
            kpi_s = time.perf_counter() - t

            opts = rt.bus.nc.options
            t = time.perf_counter()
            async with aiomqtt.Client(
                "127.0.0.1",
                rt.embedded.mqtt_port,
                username=opts["user"],
                password=opts["password"],
                identifier="bench-direct",
            ) as c:
                for k in range(n_kpis):
                    await c.publish(f"kit/out/kpi/bench/direct/{k}", b"1", qos=1, retain=True)
            mqtt_s = time.perf_counter() - t
        finally:
            await rt.stop()
            rx.server.shutdown()
    return {
        "events": n_events,
        "webhook_per_s": round(n_events / webhook_s, 1),
        "webhook_direct_per_s": round(n_events / direct_s, 1),
        "webhook_ratio": round(webhook_s / direct_s, 2),
        "kpis": n_kpis,
        "kpi_topics_per_s": round(n_kpis / kpi_s, 1),
        "mqtt_direct_per_s": round(n_kpis / mqtt_s, 1),
        "kpi_topics_ratio": round(kpi_s / mqtt_s, 2),
    }


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="30 events, 100 KPI values")
    args = ap.parse_args()
    res = asyncio.run(main(30, 100) if args.quick else main(500, 2000))
    print(
        f"webhook: {res['webhook_per_s']} events/s end to end, "
        f"{res['webhook_direct_per_s']} POST/s direct (ratio {res['webhook_ratio']})"
    )
    print(
        f"kpi-topics: {res['kpi_topics_per_s']} KPI values/s to retained MQTT, "
        f"{res['mqtt_direct_per_s']} publishes/s direct (ratio {res['kpi_topics_ratio']})"
    )
    print(json.dumps(res))
