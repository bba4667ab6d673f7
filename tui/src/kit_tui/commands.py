"""Command palette entries (Ctrl+P): every screen and the actions on them, searchable.

An action entry (``do(mode, action)``) switches to its screen and runs that screen's action, so
"ack" or "install" in the palette does what the key on the screen does.
"""

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
    # Actions, not only screens: each switches to its screen and runs the action there on
    # the highlighted row (what a technician types: "install", "ack", "export").
    (
        "Install a recipe",
        "pick a use case in the catalog and install it",
        "do('catalog', 'search')",
    ),
    ("Acknowledge alarm", "acknowledge the highlighted alarm (a / Alarms)", "do('alarms', 'ack')"),
    ("Shelve alarm", "shelve the highlighted alarm for a while", "do('alarms', 'shelve')"),
    (
        "Change deployment values",
        "the install wizard with a deployment's current values; upgrades on confirm",
        "do('deployments', 'change')",
    ),
    ("Upgrade deployment", "to a newer recipe version or file", "do('deployments', 'upgrade')"),
    (
        "Uninstall deployment",
        "stop and remove the highlighted deployment",
        "do('deployments', 'uninstall')",
    ),
    ("Export bundle", "the highlighted deployment as a bundle file", "do('deployments', 'export')"),
    ("Install bundle", "deployments from a bundle file", "do('deployments', 'bundle_install')"),
    (
        "Assign downtime reason",
        "to the highlighted stop (KPIs › OEE)",
        "do('kpis', 'assign_reason')",
    ),
    (
        "Trust certificate",
        "trust the highlighted OPC UA server certificate",
        "do('plugins', 'trust')",
    ),
    ("Model alerts and work orders", "label anomaly alerts; approve work orders", "go('models')"),
    ("Scan your network", "find devices, see what they are, get recipes for them", "go('scan')"),
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
