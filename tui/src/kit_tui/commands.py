"""Command palette entries (Ctrl+P): every screen and the main actions, searchable."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

#: (title, help, action) — actions are app actions run on selection.
ENTRIES = [
    ("Overview", "sites, lines and assets with health, quality and KPIs", "go('overview')"),
    ("Recipe catalog", "browse and install use cases", "go('catalog')"),
    ("Deployments", "installed recipes: uninstall, upgrade, bundles", "go('deployments')"),
    ("KPIs", "OEE, energy, condition monitoring, SPC", "go('kpis')"),
    ("Alarms", "active and recent alarms: acknowledge, shelve", "go('alarms')"),
    ("Plugins and trust", "installed plugins, OPC UA certificates", "go('plugins')"),
    ("Trend", "a point or KPI over hours or days, from the historian", "trend"),
    ("Help", "keys and screens", "help"),
    ("Quit", "leave the TUI (the runtime keeps running)", "quit"),
]


class KitCommands(Provider):
    """Offers the kit's screens and actions in the command palette."""

    async def discover(self) -> Hits:
        for title, help_text, action in ENTRIES:
            yield DiscoveryHit(title, partial(self.app.run_action, action), help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, action in ENTRIES:
            score = matcher.match(title)
            if score > 0:
                yield Hit(
                    score,
                    matcher.highlight(title),
                    partial(self.app.run_action, action),
                    help=help_text,
                )
