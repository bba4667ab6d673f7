"""The web server of ``kit web``: textual-serve plus sign-in, sessions and TLS.

textual-serve runs one TUI process per browser tab and relays its screen over a WebSocket;
the browser only draws and sends keys. What this module adds:

* **Sign-in** (``/login``) against :class:`kit_tui.web.accounts.Accounts`; a session cookie
  (random, HttpOnly, SameSite=Strict, Secure under TLS) opens the app page and its WebSocket.
* **Roles enforced by the runtime**: each tab's TUI is started as ``kit tui --role <role>``,
  so it connects to the bus as that role's user and the runtime refuses what the role may
  not do, whatever reaches the browser (the TUI also hides those keys).
* Same-origin check on the WebSocket, a cap on concurrent sessions (each is a process),
  a pause after repeated failed sign-ins, TLS from a certificate and key.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import shlex
import signal
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from kit.aio import wait_for
from kit_tui.web.accounts import Account, Accounts

log = logging.getLogger(__name__)

COOKIE = "kit_web_session"
TEMPLATES = Path(__file__).parent / "templates"
#: Failed sign-ins from one address within FAIL_WINDOW_S before it must wait.
MAX_FAILS, FAIL_WINDOW_S = 5, 60.0
#: Seconds a TUI process gets to quit after its tab closed before it is killed.
STOP_TIMEOUT_S = 5.0


@dataclass
class Session:
    """A signed-in browser."""

    account: Account
    expires: float
    sockets: set[web.WebSocketResponse] = field(default_factory=set)


class SessionApp(AppService):
    """One tab's TUI process, with the signed-in person's name and role in its environment."""

    def __init__(self, command: str, account: Account, **kw: Any) -> None:
        super().__init__(command, **kw)
        self.account = account

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        env = super()._build_environment(width, height)
        env["KIT_ROLE"] = self.account.role
        env["KIT_OPERATOR"] = self.account.name  # acknowledgements are recorded as this person
        return env

    @property
    def pid(self) -> int | None:
        """Process id of the TUI (for ``bench/web.py``)."""
        return self._process.pid if self._process is not None else None

    async def stop(self) -> None:
        """Ask the TUI to quit; kill it if it has not within ``STOP_TIMEOUT_S``."""
        try:
            await wait_for(super().stop(), STOP_TIMEOUT_S)
        except TimeoutError:
            if self._process is not None and self._process.returncode is None:
                self._process.kill()
                await self._process.wait()


class KitWebServer(Server):
    """textual-serve's server with sign-in (see module docstring)."""

    def __init__(
        self,
        accounts: Accounts,
        tui_command: Callable[[Account], list[str]],
        *,
        host: str = "127.0.0.1",
        port: int = 8080,
        public_url: str | None = None,
        ssl_context: ssl.SSLContext | None = None,
        session_hours: float = 12.0,
        max_sessions: int = 10,
    ) -> None:
        super().__init__(
            "kit tui",
            host=host,
            port=port,
            title="Fast-Track Kit",
            public_url=public_url or "-",
            templates_path=TEMPLATES,
        )
        self.fixed_public_url = public_url.rstrip("/") if public_url else None
        self.accounts = accounts
        self.tui_command = tui_command
        self.ssl_context = ssl_context
        self.session_s = session_hours * 3600
        self.max_sessions = max_sessions
        self.sessions: dict[str, Session] = {}
        self.apps: set[SessionApp] = set()
        self._fails: dict[str, list[float]] = {}
        self.bound_url = ""

    # --- app and routes -------------------------------------------------------------------

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(_security_headers)
        app.add_routes(
            [
                web.get("/login", self.handle_login_page, name="login"),
                web.post("/login", self.handle_login),
                web.post("/logout", self.handle_logout, name="logout"),
            ]
        )
        return app

    async def on_startup(self, app: web.Application) -> None:
        """No banner: ``serve`` prints where it listens once the socket is bound."""

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every tab's WebSocket so each TUI process is told to quit."""
        for s in self.sessions.values():
            for ws in list(s.sockets):
                await ws.close()

    def _base_url(self, request: web.Request) -> str:
        if self.fixed_public_url:
            return self.fixed_public_url
        return f"{request.scheme}://{request.host}"

    def _session(self, request: web.Request) -> Session | None:
        token = request.cookies.get(COOKIE, "")
        s = self.sessions.get(token)
        if s is None:
            return None
        if s.expires < time.time():
            self.sessions.pop(token, None)
            return None
        return s

    # --- sign-in --------------------------------------------------------------------------

    @aiohttp_jinja2.template("login.html")
    async def handle_login_page(self, request: web.Request) -> dict[str, Any]:
        """The sign-in form."""
        return {"error": request.query.get("error", ""), "title": self.title}

    async def handle_login(self, request: web.Request) -> web.StreamResponse:
        """Check name and password; set the session cookie and go to the app."""
        peer = request.remote or "?"
        now = time.monotonic()
        fails = [t for t in self._fails.get(peer, []) if now - t < FAIL_WINDOW_S]
        self._fails[peer] = fails
        if len(fails) >= MAX_FAILS:
            raise web.HTTPFound("/login?error=Too+many+failed+sign-ins%3B+wait+a+minute")
        form = await request.post()
        name, password = str(form.get("username", "")), str(form.get("password", ""))
        # scrypt is deliberately slow: keep it off the event loop (other tabs stay live).
        account = await asyncio.to_thread(self.accounts.verify, name, password)
        if account is None:
            fails.append(now)
            log.warning("kit web: failed sign-in for %r from %s", name, peer)
            raise web.HTTPFound("/login?error=Wrong+name+or+password")
        token = secrets.token_urlsafe(32)
        self.sessions[token] = Session(account, time.time() + self.session_s)
        log.info("kit web: %s signed in as %s from %s", account.name, account.role, peer)
        resp = web.Response(status=303, headers={"Location": "/"})
        resp.set_cookie(
            COOKIE,
            token,
            httponly=True,
            samesite="Strict",
            secure=self.ssl_context is not None or self._base_url(request).startswith("https"),
            max_age=int(self.session_s),
        )
        return resp

    async def handle_logout(self, request: web.Request) -> web.StreamResponse:
        """End the session and close its tabs."""
        s = self.sessions.pop(request.cookies.get(COOKIE, ""), None)
        if s is not None:
            for ws in list(s.sockets):
                await ws.close()
        resp = web.Response(status=303, headers={"Location": "/login"})
        resp.del_cookie(COOKIE)
        return resp

    # --- the app page and its WebSocket -----------------------------------------------------

    async def handle_index(self, request: web.Request) -> Any:  # type: ignore[override]
        """The app page (signed in), else the sign-in form."""
        s = self._session(request)
        if s is None:
            raise web.HTTPFound("/login")
        base = self._base_url(request)
        ws = "wss" + base[5:] if base.startswith("https") else "ws" + base[4:]
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{ws}/ws",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
            "account": s.account,
        }
        return aiohttp_jinja2.render_template("app_index.html", request, context)

    async def handle_download(self, request: web.Request) -> web.StreamResponse:
        """Files a TUI offers for download (signed-in only)."""
        if self._session(request) is None:
            raise web.HTTPUnauthorized()
        return await super().handle_download(request)

    def _same_origin(self, request: web.Request) -> bool:
        """A WebSocket opened by our own page (no cross-site page may drive a session)."""
        origin = request.headers.get("Origin")
        if origin is None:
            return True  # not a browser: the cookie is the credential
        o = urlparse(origin)
        if self.fixed_public_url:
            b = urlparse(self.fixed_public_url)
            return (o.scheme, o.netloc) == (b.scheme, b.netloc)
        return o.netloc == request.host

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """Start this tab's TUI as the signed-in person's role and relay it."""
        s = self._session(request)
        if s is None:
            raise web.HTTPUnauthorized()
        if not self._same_origin(request):
            raise web.HTTPForbidden(text="cross-origin WebSocket refused")
        # Removed from the accounts file, or given another role, since signing in: sign in again.
        current = {a.name: a.role for a in await asyncio.to_thread(self.accounts.list)}
        if current.get(s.account.name) != s.account.role:
            self.sessions.pop(request.cookies.get(COOKIE, ""), None)
            raise web.HTTPUnauthorized()
        if len(self.apps) >= self.max_sessions:
            raise web.HTTPServiceUnavailable(
                text=f"{self.max_sessions} sessions already open (kit web --max-sessions)"
            )
        websocket = web.WebSocketResponse(heartbeat=15)
        width = to_int(request.query.get("width", "80"), 80)
        height = to_int(request.query.get("height", "24"), 24)
        app: SessionApp | None = None
        # A session that expires ends its open tabs too (not only new ones).
        expiry = asyncio.get_running_loop().call_later(
            max(0.0, s.expires - time.time()), lambda: asyncio.ensure_future(websocket.close())
        )
        try:
            await websocket.prepare(request)
            s.sockets.add(websocket)
            app = SessionApp(
                shlex.join(self.tui_command(s.account)),
                s.account,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
            )
            self.apps.add(app)
            await app.start(width, height)
            await self._process_messages(websocket, app)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception:
            log.exception("kit web: session of %s failed", s.account.name)
        finally:
            expiry.cancel()
            s.sockets.discard(websocket)
            if app is not None:
                self.apps.discard(app)
                await app.stop()
        return websocket

    # --- running ----------------------------------------------------------------------------

    async def run(
        self, on_ready: Callable[[str], None] | None = None, stop: asyncio.Event | None = None
    ) -> None:
        """Serve until ``stop`` is set (default: SIGINT/SIGTERM); ``on_ready(url)`` once
        listening (port 0: with the real port)."""
        app = await self._make_app()
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port, ssl_context=self.ssl_context)
        await site.start()
        host, port = runner.addresses[0][:2]
        scheme = "https" if self.ssl_context else "http"
        self.bound_url = f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"
        if on_ready is not None:
            on_ready(self.bound_url)
        if stop is None:
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError):
                    loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            await runner.cleanup()


@web.middleware
async def _security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    """No framing by other sites (clickjacking), no MIME sniffing, no referrer to elsewhere."""
    resp: web.StreamResponse = await handler(request)
    resp.headers.setdefault("X-Frame-Options", "DENY")
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/static/"):  # pages and downloads: never cached
        resp.headers.setdefault("Cache-Control", "no-store")
    return resp


def tls_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server TLS context (TLS 1.2+) from a PEM certificate chain and key.

    Raises:
        ConfigError: the files are missing or do not match.
    """
    from kit.errors import ConfigError

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--cert/--key: cannot load {cert} / {key}: {exc}") from None
    return ctx
