"""The base of every top-level screen: header, connection banner, body, key hints.

Screens get data two ways: live bus data from the app's store (``live_update`` is called
at most a few times per second), and control API replies fetched in workers
(``reload``). A control call never runs on the UI's own path: each is an exclusive worker
in the screen's group, so a slow runtime delays a table, never a key press.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import ScreenResume
from textual.screen import Screen
from textual.widgets import Header

from kit_tui.data.link import LinkDown, LinkState, NotAvailable
from kit_tui.widgets.banner import ConnectionBanner
from kit_tui.widgets.keyhints import KeyHints

if TYPE_CHECKING:
    from kit_tui.app import KitApp

#: A screen shown again refetches its control API data only if the last fetch is older.
RELOAD_ON_RESUME_S = 3.0


class KitScreen(Screen):
    """Header + connection banner + ``compose_body()`` + footer."""

    BINDINGS = [Binding("r", "reload", "Refresh", show=False)]
    #: Title shown in the header.
    TITLE_TEXT = "Fast-Track Kit"

    @property
    def kit(self) -> KitApp:
        """The app, typed."""
        return self.app  # type: ignore[return-value]

    def compose(self) -> ComposeResult:
        yield Header(show_clock=False)
        yield ConnectionBanner()
        yield from self.compose_body()
        yield KeyHints()

    def compose_body(self) -> ComposeResult:
        """The screen's own widgets."""
        return iter(())

    _reloaded_at: float = -1e9

    def on_mount(self) -> None:
        self.sub_title = self.TITLE_TEXT
        self.watch(self.kit, "link", self._link_changed)

    def on_screen_resume(self, event: ScreenResume) -> None:
        # Textual re-applies the whole stylesheet to every widget when a mode's screen comes
        # back; each DataTable then drops all its render caches and re-renders every cell
        # (~70 % of a screen switch's CPU). Styles of a suspended screen are kept current
        # by Textual itself (class changes apply at once; a theme change while away is caught
        # by switch_mode's CSS update count), so the re-application changes nothing here —
        # the same choice Textual makes when a pushed screen is popped.
        event.refresh_styles = False
        if not self.app.is_running:  # a background-built screen resumed while the app exits
            return
        self.live_update()
        # Flipping between screens should not refetch every time; `r` always does.
        # Not connected yet (a TUI just started, a web session just opened): the banner says
        # so and _link_changed reloads on connecting; a fetch now would only toast "Not
        # connected" over the first screen.
        now = time.monotonic()
        if now - self._reloaded_at >= RELOAD_ON_RESUME_S and self.kit.link.connected:
            self._reloaded_at = now
            self.reload()

    def _link_changed(self, link: LinkState) -> None:
        if not self.app.is_running:  # widgets are being removed at exit
            return
        self.query_one(ConnectionBanner).show_state(link)
        if link.connected:
            self._reloaded_at = time.monotonic()
            self.reload()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide (and refuse) actions beyond the user's role (kit_tui.roles; the runtime
        refuses them too, this only keeps the keys honest)."""
        from kit_tui.roles import allowed

        return allowed(self.kit.role, action)

    def action_reload(self) -> None:
        """Fetch control API data again."""
        self.reload()

    def reload(self) -> None:
        """Start this screen's control API workers (override)."""

    def live_update(self) -> None:
        """Redraw from the live store (override)."""

    async def call(self, endpoint: Any, body: Any = None, timeout: float = 10.0) -> Any:
        """Call a control endpoint (a :class:`kit.api.Endpoint` spec: typed reply) through the
        app's data source."""
        return await self.kit.source.call(endpoint, body, timeout)

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: str = "information",  # type: ignore[override]
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Toast without markup by default: runtime messages may contain ``[`` (``[Errno 111]``)."""
        super().notify(message, title=title, severity=severity, timeout=timeout, markup=markup)  # type: ignore[arg-type]

    @staticmethod
    def explain(exc: Exception) -> str:
        """The text a screen shows for a failed control call."""
        if isinstance(exc, NotAvailable):
            return f"{exc} (the plugin that provides it is not installed or the runtime is older)."
        if isinstance(exc, LinkDown):
            return f"Not connected: {exc}. The TUI retries by itself."
        return f"Error: {exc}"
