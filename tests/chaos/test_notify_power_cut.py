"""Notifications survive a power cut (docs/integrations.md, "Delivery": "A restart, crash or
power cut reloads the outbox and sends what is still undelivered").

The attack: alarms are raised while the receiving webhook is down, so every delivery sits in
the notify component's outbox; then the runtime is killed with SIGKILL (no stop, no save on
the way out). The receiver comes back, the runtime is started again on the same data
directory, and every alarm must arrive, each under its idempotency key ``<event id>:<route>``
(at least once; a repeat carries the same key). Real ``kit up`` processes, real embedded
server, a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import signal
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from chaos_helpers import until
from lc_helpers import KIT, PtyProcess, env_for, free_port, nats_servers

from kit.api import core as core_api
from kit.bus import Bus
from kit.components import ComponentContext
from kit.control import ControlClient
from kit.trust.busauth import client_options

ASSET = "chaos/area/line1/press1"
ALARMS = 12


class Receiver:
    """Records every POST's JSON body; answers 200."""

    def __init__(self, port: int) -> None:
        self.bodies: list[dict[str, Any]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.bodies.append(json.loads(body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _notify_metrics(url: str, data) -> dict[str, Any]:
    bus = await Bus.connect(url, **client_options(data, "admin", url))
    try:
        comps = await ControlClient(bus).call(core_api.COMPONENTS)
    finally:
        await bus.close()
    rows = [c.model_dump() if hasattr(c, "model_dump") else c for c in comps.root]
    return next(r for r in rows if r["name"] == "notify")["metrics"]


async def test_outbox_survives_kill_9(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    hook_port = _free_port()  # nothing listens here until the receiver starts
    url = f"nats://127.0.0.1:{port}"
    cfg = tmp_path / "kit.yaml"
    route = {
        "name": "mes",
        "type": "webhook",
        "url": f"http://127.0.0.1:{hook_port}/hook",
        "match": {"kinds": ["alarm"]},
        "retry": {"initial_s": 0.05, "max_s": 0.2},
    }
    cfg.write_text(
        f"site: chaos\nnats: {{port: {port}}}\ncomponents:\n"
        f"  - {{name: notify, type: notify, config: {{routes: [{json.dumps(route)}]}}}}\n"
    )
    first = PtyProcess(KIT + ["--config", str(cfg), "up"], env_for(data))
    first.wait_for("kit runtime up")

    bus = await Bus.connect(url, **client_options(data, "admin", url))
    try:
        alarms = ComponentContext("alarms", bus, asset=ASSET)
        ids = []
        for i in range(ALARMS):
            ev = await alarms.publish_event(
                "alarm", "alarm_raised", severity="high", message=f"alarm {i}"
            )
            ids.append(ev.id)
    finally:
        await bus.close()

    async def all_pending() -> bool:
        m = await _notify_metrics(url, data)
        # All in the outbox; the route retries its oldest delivery while the receiver is
        # down, the others wait behind it in order (so at least one has failed).
        return m["pending"] == ALARMS and m["retrying"] >= 1

    await until(all_pending, what="every alarm in the outbox, failing to deliver")
    first.proc.send_signal(signal.SIGKILL)
    assert first.wait() == -signal.SIGKILL
    await until(lambda: nats_servers(data) == [], what="server died with the runtime")

    receiver = Receiver(hook_port)
    second = PtyProcess(KIT + ["--config", str(cfg), "up"], env_for(data))
    try:
        second.wait_for("kit runtime up")
        want = {f"{i}:mes" for i in ids}
        await until(
            lambda: want <= {b["idempotency_key"] for b in receiver.bodies},
            what="every alarm delivered after the power cut",
        )
        got = [b["idempotency_key"] for b in receiver.bodies]
        assert set(got) == want, sorted(set(got) - want)
        assert {b["event"]["id"] for b in receiver.bodies} == set(ids)
        m = await _notify_metrics(url, data)
        assert m["pending"] == 0 and m["restored"] >= 1, m
        print(f"\nnotify power cut: {len(want)}/{ALARMS} alarms delivered, {len(got)} posts")
    finally:
        second.proc.send_signal(signal.SIGINT)
        second.wait()
        receiver.close()
    await until(lambda: nats_servers(data) == [], what="server stopped")
