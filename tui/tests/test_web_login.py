"""``kit web`` sign-in, sessions and TLS, against the real server in-process (fast; the
browser test, test_web_browser.py, covers the whole path with a runtime and Chromium).

No TUI process starts here: every request is refused before a WebSocket would start one,
or the page is only fetched.
"""

from __future__ import annotations

import asyncio
import ssl
import stat
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from kit_tui.web.accounts import Accounts
from kit_tui.web.server import COOKIE, MAX_FAILS, KitWebServer, tls_context

from kit.errors import ConfigError
from kit.testing_pki import self_signed


def _accounts(tmp_path: Path) -> Accounts:
    acc = Accounts(tmp_path)
    acc.set("vic", "viewer", "viewer-pass-1")
    acc.set("tom", "technician", "technician-pass-1")
    return acc


def test_accounts_hash_verify_and_refuse_bad_input(tmp_path: Path):
    acc = _accounts(tmp_path)
    assert stat.S_IMODE(acc.path.stat().st_mode) == 0o600
    text = acc.path.read_text()
    assert "viewer-pass-1" not in text and "scrypt$" in text
    assert acc.verify("vic", "viewer-pass-1").role == "viewer"
    assert acc.verify("vic", "viewer-pass-2") is None
    assert acc.verify("nobody", "viewer-pass-1") is None
    # Changing the password replaces the old one.
    acc.set("vic", "technician", "another-pass-1")
    assert acc.verify("vic", "viewer-pass-1") is None
    assert acc.verify("vic", "another-pass-1").role == "technician"
    with pytest.raises(ConfigError, match="role: 'boss'"):
        acc.set("x", "boss", "long-enough-1")
    with pytest.raises(ConfigError, match="password: at least"):
        acc.set("x", "viewer", "short")
    with pytest.raises(ConfigError, match="name: 'a b'"):
        acc.set("a b", "viewer", "long-enough-1")
    assert [a.name for a in acc.list()] == ["tom", "vic"]
    assert acc.remove("tom") and not acc.remove("tom")


class Running:
    """A KitWebServer on a free loopback port in this test's event loop."""

    def __init__(self, server: KitWebServer) -> None:
        self.server = server
        self.stop = asyncio.Event()
        self.url = ""

    async def __aenter__(self) -> Running:
        ready = asyncio.Event()

        def on_ready(url: str) -> None:
            self.url = url
            ready.set()

        self.task = asyncio.create_task(self.server.run(on_ready, self.stop))
        await asyncio.wait_for(ready.wait(), 10)
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await self.task


def _server(tmp_path: Path, **kw) -> KitWebServer:
    # The TUI command is never run here (see module docstring); a real one all the same.
    return KitWebServer(_accounts(tmp_path), lambda a: ["kit", "tui"], port=0, **kw)


async def test_sign_in_sets_session_and_guards_page_and_websocket(tmp_path: Path):
    async with Running(_server(tmp_path)) as r, _client() as http:
        # Not signed in: the page sends to the sign-in form, the WebSocket is refused.
        async with http.get(r.url + "/", allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"] == "/login"
        async with http.get(r.url + "/ws") as resp:
            assert resp.status == 401
        async with http.get(r.url + "/login") as resp:
            assert resp.status == 200 and 'name="password"' in await resp.text()
            assert resp.headers["X-Frame-Options"] == "DENY"

        async with http.post(
            r.url + "/login", data={"username": "vic", "password": "nope"}, allow_redirects=False
        ) as resp:
            assert "Wrong" in resp.headers["Location"]
            assert COOKIE not in resp.cookies
        async with http.post(
            r.url + "/login",
            data={"username": "vic", "password": "viewer-pass-1"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
            morsel = resp.cookies[COOKIE]
            assert morsel["httponly"] and morsel["samesite"] == "Strict"
            assert not morsel["secure"]  # plain HTTP on loopback
        async with http.get(r.url + "/") as resp:
            page = await resp.text()
            assert resp.status == 200
            assert f'data-session-websocket-url="ws://{r.url[7:]}/ws"' in page
            assert "vic (viewer)" in page
            assert "googleapis" not in page  # nothing fetched from the internet
        # Another site's page cannot open the signed-in person's session.
        async with http.get(r.url + "/ws", headers={"Origin": "http://evil.example"}) as resp:
            assert resp.status == 403
        assert not r.server.apps  # no TUI was started for any of these

        async with http.post(r.url + "/logout", allow_redirects=False) as resp:
            assert resp.status == 303
        async with http.get(r.url + "/", allow_redirects=False) as resp:
            assert resp.status == 302


async def test_repeated_failures_pause_sign_in_even_with_right_password(tmp_path: Path):
    async with Running(_server(tmp_path)) as r, _client() as http:
        for _ in range(MAX_FAILS):
            async with http.post(
                r.url + "/login", data={"username": "vic", "password": "guess"}
            ) as resp:
                assert resp.status == 200  # back on the form
        async with http.post(
            r.url + "/login",
            data={"username": "vic", "password": "viewer-pass-1"},
            allow_redirects=False,
        ) as resp:
            assert "Too+many" in resp.headers["Location"]
            assert COOKIE not in resp.cookies


def _client() -> aiohttp.ClientSession:
    # unsafe=True: keep cookies from an IP address host (127.0.0.1), as a browser does.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))


async def test_tls_serves_https_with_secure_cookie(tmp_path: Path):
    cert, key = self_signed(tmp_path, "web")
    client_ctx = ssl.create_default_context(cafile=str(cert))
    server = _server(tmp_path, ssl_context=tls_context(cert, key))
    async with Running(server) as r, _client() as http:
        assert r.url.startswith("https://127.0.0.1:")
        async with http.post(
            r.url + "/login",
            data={"username": "tom", "password": "technician-pass-1"},
            allow_redirects=False,
            ssl=client_ctx,
        ) as resp:
            assert resp.cookies[COOKIE]["secure"]
        async with http.get(r.url + "/", ssl=client_ctx) as resp:
            assert 'data-session-websocket-url="wss://' in await resp.text()
    with pytest.raises(ConfigError, match="cannot load"):
        tls_context(tmp_path / "missing.pem", key)


def test_network_address_needs_tls_and_accounts(tmp_path: Path, monkeypatch):
    from kit.cli import cli

    monkeypatch.setenv("KIT_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    res = runner.invoke(cli, ["web", "--host", "0.0.0.0"])
    assert res.exit_code == 2 and "--cert/--key" in res.output
    res = runner.invoke(cli, ["web", "--cert", str(tmp_path / "c.pem")])
    assert res.exit_code == 2 and "go together" in res.output
    res = runner.invoke(cli, ["web"])  # loopback, but nobody may sign in yet
    assert res.exit_code != 0 and "kit web users add" in res.output
    res = runner.invoke(
        cli,
        ["web", "users", "add", "ada", "--role", "admin", "--password-stdin"],
        input="admin-pass-123\n",
    )
    assert res.exit_code == 0, res.output
    assert Accounts(tmp_path).verify("ada", "admin-pass-123").role == "admin"


async def test_removed_account_cannot_open_a_tab(tmp_path: Path):
    server = _server(tmp_path)
    async with Running(server) as r, _client() as http:
        async with http.post(
            r.url + "/login",
            data={"username": "tom", "password": "technician-pass-1"},
            allow_redirects=False,
        ) as resp:
            assert resp.status == 303
        server.accounts.remove("tom")
        async with http.get(r.url + "/ws") as resp:
            assert resp.status == 401
        async with http.get(r.url + "/", allow_redirects=False) as resp:
            assert resp.status == 302  # the session is gone
        assert not server.apps
