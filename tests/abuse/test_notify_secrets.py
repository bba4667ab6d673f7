"""A notification route's secret never reaches a viewer (docs/integrations.md "Secrets").

The attack: a webhook receiver that answers ``401`` with the caller's ``Authorization``
header echoed in its reason phrase (misconfigured proxies and debug endpoints do this). The
failure is counted and its reason shown in ``kit status`` — which the viewer role reads, on
``kit.health.>`` and through the control API. The token must not be in any of it, while the
error itself (``HTTP 401``) still is. Real embedded server with generated permissions, real
notify plugin, a real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import nats
from kit_notify.secrets import set_secret

from kit.components import ComponentContext
from kit.settings import ComponentSpec, NatsSettings, Settings, SupervisorSettings
from kit.testing import wait_for
from kit.trust.busauth import client_options

TOKEN = "tok-7f3a9c-never-show-me"
ASSET = "t/a/l/m1"


class EchoingReceiver:
    """HTTP server that refuses every POST, echoing the Authorization header as its reason."""

    def __init__(self) -> None:
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                auth = self.headers.get("Authorization", "")
                outer.seen.append(auth)
                self.send_response(401, f"Unauthorized ({auth})")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


async def test_a_webhook_token_never_reaches_the_viewer(tmp_path, make_runtime):
    receiver = EchoingReceiver()
    data_dir = tmp_path / "data"
    set_secret(data_dir, "mes_token", TOKEN)
    settings = Settings(
        site="t",
        data_dir=data_dir,
        nats=NatsSettings(port=0),
        supervisor=SupervisorSettings(heartbeat_s=0.2),
        components=[
            ComponentSpec(
                name="notify",
                type="notify",
                config={
                    "routes": [
                        {
                            "name": "mes",
                            "type": "webhook",
                            "url": receiver.url,
                            "token_secret": "mes_token",
                            "match": {"kinds": ["work_order"]},
                        }
                    ]
                },
            )
        ],
    )
    try:
        rt = await make_runtime(settings)
        n = rt.supervisor.instances["notify"].component
        await wait_for(lambda: n.ready, message="notify consumer attached")

        viewer = await nats.connect(rt.url, **client_options(data_dir, "viewer"))
        seen: list[bytes] = []

        async def on_msg(m) -> None:
            seen.append(m.data)

        await viewer.subscribe("kit.health.>", cb=on_msg)
        await viewer.subscribe("kit.event.>", cb=on_msg)
        await viewer.flush()

        await ComponentContext("models", rt.bus, asset=ASSET).publish_event(
            "work_order", "work_order_approved", data={"state": "approved"}
        )
        await wait_for(lambda: n.stats["mes"].failed == 1, message="401 given up")
        # The attack happened: the receiver saw the token and echoed it back.
        assert receiver.seen == [f"Bearer {TOKEN}"]
        await wait_for(
            lambda: any(b"HTTP 401" in m for m in seen),
            message="the failure reached the viewer's health feed",
        )
        for endpoint in ("status", "components"):
            reply = await viewer.request(f"kit.control.{endpoint}", b"{}", timeout=10)
            assert json.loads(reply.data)["ok"]
            seen.append(reply.data)
        await viewer.close()

        leaked = [m[:200] for m in seen if TOKEN.encode() in m]
        assert not leaked, f"the viewer read the webhook token: {leaked}"
        # Nor is it in the component's own journal (shown by kit status / TUI).
        assert TOKEN not in json.dumps(list(n.journal)) and TOKEN not in json.dumps(n.metrics())
    finally:
        receiver.close()
