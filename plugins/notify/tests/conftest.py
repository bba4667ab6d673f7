"""Fixtures of the notify tests: a local HTTP endpoint that records what it is sent."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest


def free_port() -> int:
    """A loopback port nothing listens on right now (the receiver binds it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """``ThreadingHTTPServer`` on 127.0.0.1 recording each POST (headers and JSON body)."""

    def __init__(self, port: int = 0, status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = status
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                outer.requests.append(
                    {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
                )
                self.send_response(outer.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """``receivers(port=0, status=200)`` → a started :class:`Receiver`, closed at teardown."""
    made: list[Receiver] = []

    def make(port: int = 0, status: int = 200) -> Receiver:
        r = Receiver(port, status)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def port_later() -> Callable[[], int]:
    """:func:`free_port` as a fixture (the tests cannot import this conftest)."""
    return free_port
