"""Fixtures of the notify tests: a local HTTP endpoint that records what it is sent."""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest


def free_port() -> int:
    """A loopback port nothing listens on right now (the receiver binds it later)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """``ThreadingHTTPServer`` on 127.0.0.1 recording each POST (headers and JSON body)."""

    def __init__(
        self, port: int = 0, status: int = 200, tls: tuple[Path, Path] | None = None
    ) -> None:
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
        if tls is not None:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://127.0.0.1:{self.port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """``receivers(port=0, status=200, tls=None)`` → a started :class:`Receiver` (HTTPS with
    ``tls=(cert, key)``), closed at teardown."""
    made: list[Receiver] = []

    def make(port: int = 0, status: int = 200, tls: tuple[Path, Path] | None = None) -> Receiver:
        r = Receiver(port, status, tls)
        made.append(r)
        return r

    yield make
    for r in made:
        r.close()


@pytest.fixture
def port_later() -> Callable[[], int]:
    """:func:`free_port` as a fixture (the tests cannot import this conftest)."""
    return free_port


@pytest.fixture
def tls_files(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key (PEM files): the "site-internal
    CA" a route names in ``tls_ca``."""
    from kit.testing_pki import self_signed

    return self_signed(tmp_path, "receiver")
