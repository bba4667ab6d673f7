"""Plugins and trust: installed plugins with version, vendor, manifest permissions and
certification status; OPC UA server certificates waiting for trust, with trust/reject."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from kit_tui.data.format import first, items, short
from kit_tui.screens.base import KitScreen
from kit_tui.screens.dialogs import ConfirmDialog
from kit_tui.widgets.banner import Unavailable

#: Trust status → (symbol, style); the word itself is always shown too.
TRUST = {
    "signed": ("✓", "green"),
    "certified": ("✓", "green"),
    "unsigned": ("○", "yellow"),
    "invalid": ("✗", "bold red"),
    "modified": ("✗", "bold red"),
}


def permissions(p: dict[str, Any]) -> str:
    """Manifest permissions in one line: publishes, subscribes, device writes."""
    m = p.get("manifest") if isinstance(p.get("manifest"), dict) else p
    parts = []
    if m.get("publishes"):
        parts.append("pub " + ",".join(m["publishes"]))
    if m.get("subscribes"):
        parts.append("sub " + ",".join(m["subscribes"]))
    if m.get("device_writes"):
        parts.append("WRITES")
    return "; ".join(parts) or "—"


def trust_text(p: dict[str, Any]) -> Text:
    """Certification status with symbol (``— unknown`` on runtimes without the trust layer)."""
    t = p.get("trust")
    if isinstance(t, dict):
        t = first(t, "status", "state", default=None)
    if not t:
        return Text("— unknown", style="bright_black")
    sym, style = TRUST.get(str(t).lower(), ("?", "yellow"))
    cert = p.get("certification")
    tier = p.get("tier") or (cert.get("tier") if isinstance(cert, dict) else None)
    return Text(f"{sym} {t}" + (f" ({tier})" if tier else ""), style=style)


class PluginsScreen(KitScreen):
    """Plugins table and the certificate trust list."""

    TITLE_TEXT = "Plugins and trust"
    BINDINGS = [Binding("t", "trust", "Trust cert"), Binding("x", "reject", "Reject cert")]

    def __init__(self) -> None:
        super().__init__()
        self.plugins: list[dict[str, Any]] = []
        self.certs: list[dict[str, Any]] = []

    def compose_body(self) -> ComposeResult:
        yield Static("Installed plugins", classes="section-title")
        table = DataTable(id="plugins-table", cursor_type="row")
        for key, label in (
            ("name", "Plugin"),
            ("version", "Version"),
            ("vendor", "Vendor"),
            ("trust", "Trust"),
            ("perms", "Permissions"),
        ):
            table.add_column(label, key=key)
        yield table
        yield Static("OPC UA server certificates", classes="section-title")
        yield Unavailable(id="certs-unavailable")
        certs = DataTable(id="certs", cursor_type="row")
        for key, label in (
            ("status", "Status"),
            ("subject", "Subject"),
            ("thumb", "Thumbprint"),
            ("valid", "Valid"),
        ):
            certs.add_column(label, key=key)
        yield certs

    def reload(self) -> None:
        self.fetch()

    @work(exclusive=True, group="plugins")
    async def fetch(self) -> None:
        """Load ``plugins`` and ``opcua.certs.list``."""
        table = self.query_one("#plugins-table", DataTable)
        try:
            reply = await self.call("plugins")
            self.plugins = items(reply, "plugins")
            broken = items(reply, "broken")
        except Exception as exc:
            self.notify(self.explain(exc), severity="warning")
            self.plugins, broken = [], []
        table.clear()
        for p in self.plugins:
            name = str(p.get("name", "?"))
            vendor = (
                first(p, "vendor", default=None)
                or (p.get("manifest") or {}).get("vendor")
                or p.get("distribution", "")
            )
            table.add_row(
                name,
                str(p.get("version", "")),
                short(vendor, 22),
                trust_text(p),
                short(permissions(p), 40),
                key=f"p:{name}",
            )
        for b in broken:
            table.add_row(
                str(b.get("name")),
                "",
                short(b.get("distribution", ""), 22),
                Text("✗ BROKEN", style="bold red"),
                short(b.get("error", ""), 40),
                key=f"b:{b.get('name')}",
            )
        await self.fetch_certs()

    async def fetch_certs(self) -> None:
        """Load the OPC UA certificate list (optional endpoint)."""
        certs = self.query_one("#certs", DataTable)
        try:
            self.certs = items(await self.call("opcua.certs.list"), "certs", "certificates")
            self.query_one("#certs-unavailable", Unavailable).show(
                None if self.certs else "No server certificates."
            )
        except Exception as exc:
            self.certs = []
            self.query_one("#certs-unavailable", Unavailable).show(self.explain(exc))
        certs.clear()
        for c in self.certs:
            status = str(first(c, "status", "state", default="pending"))
            mark = "✓" if status == "trusted" else "✗" if status == "rejected" else "?"
            valid = f"{str(first(c, 'not_before', 'valid_from', default=''))[:10]} → {str(first(c, 'not_after', 'valid_to', default=''))[:10]}"
            certs.add_row(
                Text(f"{mark} {status}", style="bold" if mark == "?" else ""),
                short(c.get("subject", ""), 30),
                short(c.get("thumbprint", ""), 20),
                valid,
                key=str(c.get("thumbprint")),
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
        c = next((x for x in self.certs if str(x.get("thumbprint")) == thumb), {})

        def answer(yes: bool | None) -> None:
            if yes:
                self._act(f"opcua.certs.{verb}", {"thumbprint": thumb}, f"{verb}ed {thumb[:16]}")

        self.app.push_screen(
            ConfirmDialog(
                f"{verb.capitalize()} the server certificate\n  subject {c.get('subject')}\n"
                f"  thumbprint {thumb}\n  valid {c.get('not_before')} → {c.get('not_after')}?"
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
            await self.call(endpoint, body)
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        self.notify(done)
        await self.fetch_certs()
