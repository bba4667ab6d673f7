"""Help: every key of every screen, on one page."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]Fast-Track Kit — keys[/b]          (everything works without a mouse)

[b]Everywhere[/b]
  1 Overview   2 Catalog   3 Deployments   4 KPIs   5 Alarms   6 Plugins
  7 Scan your network (where an empty runtime opens)
  Ctrl+P command palette   ? or F1 this help   r refresh   q quit
  Tab / Shift+Tab move between fields   ↑ ↓ PgUp PgDn move in tables
  Enter open / choose   Esc back / close
[b]Overview[/b]       Enter on an asset opens its points
[b]Asset[/b]          x show/hide "explain this value"   Esc back
[b]Catalog[/b]        / search   Enter install the highlighted recipe
[b]Install wizard[/b] Ctrl+T test connection   Ctrl+N next step   Esc cancel
[b]Deployments[/b]    u uninstall  g upgrade  e export bundle  b install bundle
[b]KPIs[/b]           ← → switch tab   a assign a reason to a downtime
[b]Alarms[/b]         a acknowledge   s shelve (asks for minutes)   u unshelve
[b]Plugins[/b]        t trust certificate   x reject certificate
[b]Scan[/b]           t targets  Enter scan  ^C stop  Space tick  ^N recipes

[b]Quality marks[/b] (symbol and word, readable without colour)
  ● ok   ? UNCERTAIN   ✗ BAD (reason)   ◌ STALE (stopped updating)   · no data
"""


class HelpScreen(ModalScreen[None]):
    """Key reference; Esc, q or ? closes it."""

    BINDINGS = [Binding("escape,q,question_mark,f1", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help-text")

    def action_dismiss(self) -> None:  # type: ignore[override]
        """Close the help."""
        self.dismiss(None)
