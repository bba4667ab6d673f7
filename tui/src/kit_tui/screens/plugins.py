"""Plugins and trust: installed plugins with version, vendor, manifest permissions and
certification status; OPC UA server certificates waiting for trust, with trust/reject."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from kit.api import core as core_api
from kit_tui.data import plugin_api
from kit_tui.data.format import short
from kit_tui.screens.base import KitScreen
from kit_tui.screens.dialogs import ConfirmDialog
from kit_tui.widgets.banner import Unavailable
from kit_tui.widgets.tables import row_table

#: Trust status → (symbol, style); the word itself is always shown too.
TRUST = {
    "signed": ("✓", "green"),
    "certified": ("✓", "green"),
    "unsigned": ("○", "yellow"),
    "invalid": ("✗", "bold red"),
    "modified": ("✗", "bold red"),
}


def permissions(p: core_api.PluginInfo) -> str:
    """Manifest permissions in one line: publishes, subscribes, device writes."""
    m = p.manifest
    if m is None:
        return "—"
    parts = []
    if m.publishes:
        parts.append("pub " + ",".join(m.publishes))
    if m.subscribes:
        parts.append("sub " + ",".join(m.subscribes))
    if m.device_writes:
        parts.append("WRITES")
    return "; ".join(parts) or "—"


def trust_text(p: core_api.PluginInfo) -> Text:
    """Certification status with symbol (``— unknown`` when signatures were not checked)."""
    t = p.trust
    if t is None:
        return Text("— unknown", style="bright_black")
    sym, style = TRUST.get(t.status.lower(), ("?", "yellow"))
    return Text(f"{sym} {t.status}" + (f" ({t.tier})" if t.tier else ""), style=style)


class PluginsScreen(KitScreen):
    """Plugins table and the certificate trust list."""

    TITLE_TEXT = "Plugins and trust"
    BINDINGS = [Binding("t", "trust", "Trust cert"), Binding("x", "reject", "Reject cert")]

    def __init__(self) -> None:
        super().__init__()
        self.plugins: list[core_api.PluginInfo] = []
        self.certs: list[Any] = []

    def compose_body(self) -> ComposeResult:
        yield Static("Installed plugins", classes="section-title")
        table = row_table(
            "plugins-table",
            (
                ("name", "Plugin"),
                ("version", "Version"),
                ("vendor", "Vendor"),
                ("trust", "Trust"),
                ("perms", "Permissions"),
            ),
        )
        yield table
        yield Static("OPC UA server certificates", classes="section-title")
        yield Unavailable(id="certs-unavailable")
        certs = row_table(
            "certs",
            (
                ("status", "Status"),
                ("subject", "Subject"),
                ("thumb", "Thumbprint"),
                ("valid", "Valid"),
            ),
        )
        yield certs

    def reload(self) -> None:
        self.fetch()

    @work(exclusive=True, group="plugins")
    async def fetch(self) -> None:
        """Load ``plugins`` and ``opcua.certs.list``."""
        table = self.query_one("#plugins-table", DataTable)
        broken: list[core_api.BrokenPluginInfo] = []
        try:
            reply = await self.call(core_api.PLUGINS)
            self.plugins, broken = reply.plugins, reply.broken
        except Exception as exc:
            self.notify(self.explain(exc), severity="warning")
            self.plugins = []
        table.clear()
        for p in self.plugins:
            table.add_row(
                p.name,
                p.version,
                short(p.vendor or p.distribution, 22),
                trust_text(p),
                short(permissions(p), 40),
                key=f"p:{p.name}",
            )
        for b in broken:
            table.add_row(
                b.name,
                "",
                short(b.distribution, 22),
                Text("✗ BROKEN", style="bold red"),
                short(b.error, 40),
                key=f"b:{b.name}",
            )
        await self.fetch_certs()

    async def fetch_certs(self) -> None:
        """Load the OPC UA certificate list (optional endpoint)."""
        certs = self.query_one("#certs", DataTable)
        try:
            self.certs = (await self.call(plugin_api.spec("opcua.certs.list"))).certificates
            self.query_one("#certs-unavailable", Unavailable).show(
                None if self.certs else "No server certificates."
            )
        except Exception as exc:
            self.certs = []
            self.query_one("#certs-unavailable", Unavailable).show(self.explain(exc))
        certs.clear()
        for c in self.certs:
            status = c.state or "pending"
            mark = "✓" if status == "trusted" else "✗" if status == "rejected" else "?"
            valid = f"{(c.not_before or '')[:10]} → {(c.not_after or '')[:10]}"
            certs.add_row(
                Text(f"{mark} {status}", style="bold" if mark == "?" else ""),
                short(c.subject or "", 30),
                short(c.thumbprint, 20),
                valid,
                key=c.thumbprint,
            )

    def _cert(self) -> str | None:
        certs = self.query_one("#certs", DataTable)
        if certs.row_count == 0:
            return None
        return certs.coordinate_to_cell_key(certs.cursor_coordinate).row_key.value

    def _cert_action(self, verb: str) -> None:
        thumb = self._cert()
        if thumb is None:
            self.notify("no certificate selected")
            return
        c = next(x for x in self.certs if x.thumbprint == thumb)

        def answer(yes: bool | None) -> None:
            if yes:
                self._act(f"opcua.certs.{verb}", {"thumbprint": thumb}, f"{verb}ed {thumb[:16]}")

        self.app.push_screen(
            ConfirmDialog(
                f"{verb.capitalize()} the server certificate\n  subject {c.subject}\n"
                f"  thumbprint {thumb}\n  valid {c.not_before} → {c.not_after}?"
            ),
            answer,
        )

    def action_trust(self) -> None:
        """Trust the highlighted server certificate (after confirmation)."""
        self._cert_action("trust")

    def action_reject(self) -> None:
        """Reject the highlighted server certificate (after confirmation)."""
        self._cert_action("reject")

    @work(group="plugin-actions")
    async def _act(self, endpoint: str, body: dict[str, Any], done: str) -> None:
        try:
            await self.call(plugin_api.spec(endpoint), body)
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        self.notify(done)
        await self.fetch_certs()
