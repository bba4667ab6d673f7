"""The Textual app: composition and routing only (screens do the work).

``run_app(url, data_dir)`` runs it in its own event loop; ``run_app_async(url)`` runs it in
one that is already running (``kit demo`` has its runtime in the same process).
The bus link runs in one exclusive worker; live data reaches screens through a throttled
refresh (at most ``REFRESH_S`` apart) so a flood of telemetry never starves key presses.
"""

from __future__ import annotations

import os
from pathlib import Path

from textual import work
from textual.app import App, ScreenStackError
from textual.binding import Binding
from textual.reactive import reactive

from kit_tui.commands import KitCommands
from kit_tui.data.link import DataSource, LinkState, RuntimeLink
from kit_tui.messages import LinkStateChanged, LiveDataChanged, OpenAsset, OpenRecipe
from kit_tui.screens.alarms import AlarmsScreen
from kit_tui.screens.catalog import CatalogScreen
from kit_tui.screens.deployments import DeploymentsScreen
from kit_tui.screens.kpis import KpiScreen
from kit_tui.screens.models import ModelsScreen
from kit_tui.screens.overview import OverviewScreen
from kit_tui.screens.plugins import PluginsScreen
from kit_tui.screens.scan import ScanScreen, runtime_is_empty

#: Seconds between live redraws (coalesced; 4 per second reads as "live" to a person).
REFRESH_S = 0.25
#: After start, one not-yet-shown top-level screen is built behind the current one every this
#: many seconds, so that no first visit pays for building a screen (150–350 ms of CPU each).
PREBUILD_EVERY_S = 0.4


class KitApp(App):
    """Fast-Track Kit terminal UI."""

    TITLE = "Fast-Track Kit"
    CSS_PATH = ["global.tcss", "app.tcss"]
    COMMANDS = App.COMMANDS | {KitCommands}
    ENABLE_COMMAND_PALETTE = True
    MODES = {
        "overview": OverviewScreen,
        "catalog": CatalogScreen,
        "deployments": DeploymentsScreen,
        "kpis": KpiScreen,
        "alarms": AlarmsScreen,
        "plugins": PluginsScreen,
        "models": ModelsScreen,
        "scan": ScanScreen,
    }
    #: Mode per number key, in the order shown in the footer and help.
    NAV = [
        ("1", "overview", "Overview"),
        ("2", "catalog", "Catalog"),
        ("3", "deployments", "Deploy"),
        ("4", "kpis", "KPIs"),
        ("5", "alarms", "Alarms"),
        ("6", "plugins", "Plugins"),
    ]
    BINDINGS = [
        *(Binding(k, f"go('{m}')", label, show=True) for k, m, label in NAV),
        Binding("question_mark,f1", "help", "Help", show=True, key_display="?"),
        Binding("q", "quit", "Quit", show=True),
        Binding("7", "go('scan')", "Scan", show=False),
    ]

    link: reactive[LinkState] = reactive(LinkState("connecting"), always_update=True)

    def __init__(
        self, source: DataSource, *, refresh_s: float = REFRESH_S, role: str | None = None
    ) -> None:
        super().__init__()
        from kit_tui.roles import current_role

        #: The role this TUI's bus user has (kit_tui.roles): screens hide what it may not do.
        self.role = current_role(role)
        self.source = source
        self.refresh_s = refresh_s
        self._seen_version = -1
        self._visited_modes: set[str] = set()
        self._unmasked_switch = False
        #: Top-level screens still to build in the background, each twice (see _prebuild_next).
        self._prebuild = [mode for _, mode, _ in self.NAV[1:] for _visit in (1, 2)]
        #: Who acknowledges alarms and assigns reasons (recorded by the runtime).
        self.operator = os.environ.get("KIT_OPERATOR") or _login()
        #: The front door (scan screen on an empty runtime) is decided once, on first connect,
        #: and never after the user has moved: it must not pull the screen from under them.
        self._front_door = "pending"

    def on_mount(self) -> None:
        # Which bus this is, always in view (two runtimes side by side look the same).
        from kit.busconnect import redact_url

        self.title = f"{self.TITLE} · {redact_url(self.source.url)}"
        if self.role != "admin":  # say why some keys are missing
            self.title += f" · {self.operator} ({self.role})"
        # On a 16-colour terminal (serial console, old PuTTY, `TERM=xterm`), use the theme
        # made of the terminal's own ANSI colours instead of approximating true colours.
        theme = os.environ.get("KIT_TUI_THEME")
        if theme in self.available_themes:
            self.theme = theme
        elif self.console.color_system in ("standard", "windows"):
            self.theme = "ansi-dark"
        self.switch_mode("overview")
        self.run_link()
        self.set_interval(self.refresh_s, self._tick)
        self.set_timer(PREBUILD_EVERY_S, self._prebuild_next)

    def _prebuild_next(self) -> None:
        """Build one top-level screen not shown yet, behind the current one (then reschedule).

        A screen's widgets are composed by its own task once it has been switched to, even
        after switching back; Textual styles it fully only on the next switch after it has
        mounted, so each screen is visited twice, a tick apart. Both switches of a visit
        happen in one batch, so nothing flickers; nothing happens while a dialog or pushed
        screen is open, so that nothing under the user's hands moves.
        """
        if not self._prebuild or not self.is_running:
            return
        if len(self.screen_stack) == 1:
            mode = self._prebuild.pop(0)
            current = self.current_mode
            if mode != current:
                self._visited_modes.add(mode)  # inside a batch: no display mask needed
                with self.batch_update():
                    self.switch_mode(mode)
                    self.switch_mode(current)
        self.set_timer(PREBUILD_EVERY_S, self._prebuild_next)

    @work(exclusive=True, group="bus")
    async def run_link(self) -> None:
        """Keep the bus link alive for the app's lifetime (reconnects are the link's job)."""
        await self.source.run(lambda s: self.post_message(LinkStateChanged(s)))

    def _tick(self) -> None:
        v = self.source.store.version
        if v != self._seen_version:
            self._seen_version = v
            self.post_message(LiveDataChanged(v))

    def on_link_state_changed(self, message: LinkStateChanged) -> None:
        self.link = message.link
        if message.link.connected and self._front_door == "pending":
            self._front_door = "checking"
            self.open_front_door()

    @work(exclusive=True, group="front-door")
    async def open_front_door(self) -> None:
        """On an empty runtime (no deployments, nothing measured) open on "Scan your network"."""
        empty = await runtime_is_empty(self.source)
        untouched = self._front_door == "checking" and self.current_mode == "overview"
        self._front_door = "done"
        if empty and untouched and len(self.screen_stack) == 1 and self.is_running:
            self.switch_mode("scan")

    def on_live_data_changed(self, _message: LiveDataChanged) -> None:
        try:
            screen = self.screen
        except ScreenStackError:  # a notice queued while the app is shutting down
            return
        # A notice can be handled while a just-pushed screen is not composed yet (it draws on
        # mount) or while the app shuts down and removes every widget (a CI failure).
        if not self.is_running or not screen.is_mounted:
            return
        update = getattr(screen, "live_update", None)
        if update is not None:
            update()

    def on_open_asset(self, message: OpenAsset) -> None:
        from kit_tui.screens.asset import AssetScreen

        self.push_screen(AssetScreen(message.asset))

    def on_open_recipe(self, message: OpenRecipe) -> None:
        from kit_tui.roles import allowed
        from kit_tui.screens.wizard import WizardScreen

        if not allowed(self.role, "install"):  # the runtime would refuse the install anyway
            self.notify(f"Installing needs the admin role (signed in as {self.role}).")
            return
        self.push_screen(WizardScreen(message.recipe_id))

    def action_trend(self) -> None:
        """Open a trend of what the current screen points at (its ``trend_series()``)."""
        from kit_tui.screens.trend import TrendScreen

        series = getattr(self.screen, "trend_series", list)()
        self.push_screen(TrendScreen(series))

    def action_go(self, mode: str) -> None:
        """Switch to a top-level screen."""
        self._front_door = "done"  # the user chose where to go
        self.switch_mode(mode)

    def action_do(self, mode: str, action: str) -> None:
        """Switch to a top-level screen and run one of its actions (command palette entries)."""
        self._front_door = "done"  # the user chose where to go
        self.switch_mode(mode)
        self.call_after_refresh(self._run_screen_action, action)

    async def _run_screen_action(self, action: str) -> None:
        await self.screen.run_action(action)

    def switch_mode(self, mode: str):  # type: ignore[override]
        """Switch mode; a screen shown before is switched to without Textual's 50 ms mask."""
        self._unmasked_switch = mode in self._visited_modes
        self._visited_modes.add(mode)
        try:
            return super().switch_mode(mode)
        finally:
            self._unmasked_switch = False
        #: Top-level screens still to build in the background, each twice (see _prebuild_next).
        self._prebuild = [mode for _, mode, _ in self.NAV[1:] for _visit in (1, 2)]

    def delay_update(self, delay: float = 0.05) -> None:
        """Textual holds the display for 50 ms on every mode switch, to hide a new screen being
        built. Our top-level screens stay mounted after their first visit, so switching back
        needs no mask: the switch happens within one message handler and is drawn by the next
        frame (50 ms was most of a key press's latency in a real terminal — bench/tui_tmux.py)."""
        if not self._unmasked_switch:
            super().delay_update(delay)

    def action_help(self) -> None:
        """Show the key reference."""
        from kit_tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())


def _login() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "operator"


def run_app(url: str | None, data_dir: Path | None = None) -> None:
    """Run the TUI against the runtime at ``url`` (or the local one advertised in ``data_dir``).

    Raises:
        RuntimeNotRunning: no URL given and no runtime advertised in the data directory.
    """
    if url is None:
        from kit.cli.common import bus_url
        from kit.settings import load_settings

        settings = load_settings()
        if data_dir is not None:
            settings = settings.model_copy(update={"data_dir": Path(data_dir)})
        url = bus_url(settings)
    KitApp(RuntimeLink(url)).run()


async def run_app_async(url: str) -> None:
    """Run the TUI inside an already running event loop (e.g. beside an in-process runtime,
    as ``kit demo`` does: ``await run_app_async(runtime.url)`` then stop the runtime)."""
    await KitApp(RuntimeLink(url)).run_async()
