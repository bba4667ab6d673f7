"""Scan your network: the front door on an empty runtime (issue 13, docs/scan.md).

Targets form (networks, ports, unit ids, rate) → the runtime sweeps its network
(``scan.start``; progress by polling ``scan.status``, ``scan.stop`` or Ctrl+C stops) → found
devices with their best profile and confidence → tick the ones to use → suggested recipes
(:class:`kit_tui.screens.scan_suggest.SuggestScreen`) → the install wizard pre-filled.

The sweep runs in the runtime, not here: it must see the network the runtime's adapters
will poll, and its inventory belongs in the runtime's data directory (kit/scan/service.py).
The last inventory is shown when the screen opens.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.widgets import Button, DataTable, Input, Label, Static

from kit.api import deployments as dep_api
from kit.api import scan as scan_api
from kit.api.core import COMPONENTS
from kit.scan.inventory import Device, Endpoint, Inventory
from kit_tui.data.format import short
from kit_tui.screens.base import KitScreen
from kit_tui.widgets.tables import row_table

#: Seconds between ``scan.status`` polls while a scan runs (4 a second reads as live).
POLL_S = 0.25


async def runtime_is_empty(source: Any) -> bool:
    """True when the runtime has no deployment and no component that measures an asset, and
    it serves the scan (then the TUI opens on the scan screen). Any failure answers False:
    never hijack the start (an older runtime without ``scan.*`` keeps the overview)."""
    try:
        deps = await source.call(dep_api.LIST)
        comps = await source.call(COMPONENTS)
        await source.call(scan_api.STATUS)
    except Exception:
        return False
    return not deps.deployments and not any(c.asset for c in comps.root)


def device_key(ep: Endpoint, dev: Device) -> str:
    """Stable row key of a device (numbers change while endpoints finish in any order)."""
    return f"{ep.host}:{ep.port}/{'' if dev.unit_id is None else dev.unit_id}"


def ranges(nums: list[int]) -> str:
    """``[1, 2, 3, 247]`` → ``1-3,247`` (how the units field is written)."""
    runs: list[list[int]] = []
    for n in sorted(set(nums)):
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(f"{a}-{b}" if b > a else str(a) for a, b in runs)


#: Widest "Best match" cell: with the other columns the table fits 80 columns.
RESULT_WIDTH = 30


def result_text(dev: Device, protocol: str = "modbus") -> Text:
    """The profile cell: the identified profile, or why not (with the nearest as a hint)."""
    if dev.status == "identified" and dev.profile:
        return Text(short(dev.profile, RESULT_WIDTH), style="green")
    best = dev.candidates[0].profile if dev.candidates else None
    if dev.status == "unknown":
        what = f"? unknown (nearest {best})" if best else f"? unknown {protocol} device"
        return Text(short(what, RESULT_WIDTH))
    return Text(f"✗ {dev.status}", style="red")


def ports_text(ports: dict[int, str]) -> str:
    """The ports field from an inventory's ports (a protocol's default port needs no name)."""
    defaults = {502: "modbus", 4840: "opcua"}
    return ",".join(
        str(p) if defaults.get(p) == proto else f"{p}/{proto}" for p, proto in ports.items()
    )


def summary_text(st: scan_api.StatusReply, inv: Inventory | None) -> str:
    """One line under the form: progress while running, the outcome after."""
    p = st.progress
    counts = (
        f"hosts {p.hosts_done}/{p.hosts_total}, open ports {p.open_ports}, "
        f"devices {p.devices} ({p.identified} identified), requests {p.requests}, {p.seconds:.1f} s"
    )
    if st.running:
        return f"… scanning: {counts} — Ctrl+C stops (what was found is kept)"
    if st.state == "none" or inv is None:
        return "No scan yet. Type the networks to scan and press Enter."
    when = f" ({inv.finished_at.replace('T', ' ')[:16]} UTC)" if inv.finished_at else ""
    if st.state == "failed":
        return f"✗ the scan failed: {st.error}"
    head = "■ scan stopped" if st.state == "stopped" else "✓ scan finished"
    if p.devices == 0:
        ports = ", ".join(f"{k}/{v}" for k, v in inv.ports.items())
        why = (
            f"{p.open_ports} open port(s), but no device answered"
            if p.open_ports
            else f"no open port ({ports}) on these hosts"
        )
        return (
            f"{head}{when}: {p.hosts_done} of {p.hosts_total} hosts, {p.seconds:.1f} s — "
            f"nothing found: {why}. Check the addresses, the ports (a device on another "
            "port: 5020/modbus) and that this runtime's network reaches them."
        )
    return (
        f"{head}{when}: {p.hosts_done} of {p.hosts_total} hosts, {p.devices} device(s), "
        f"{p.identified} identified, {p.seconds:.1f} s. Space ticks a device; "
        "Ctrl+N suggests recipes for the ticked ones."
    )


class ScanScreen(KitScreen):
    """Scan form, live progress, found devices to tick."""

    TITLE_TEXT = "Scan your network"
    #: The start button, not a text field, has focus when the screen opens: number keys keep
    #: working (as on the catalog); ``t`` or Tab goes to the targets field.
    AUTO_FOCUS = "#scan-start"
    BINDINGS = [
        Binding("ctrl+c", "stop", "Stop scan", show=True, priority=True),
        Binding("t", "targets", "Targets", show=True),
        Binding("space", "tick", "Tick", show=True),
        Binding("ctrl+n", "suggest", "Suggest recipes", show=True, priority=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.status_reply: scan_api.StatusReply | None = None
        self.inventory: Inventory | None = None
        self.ticked: set[str] = set()
        self._shown_rows: list[str] | None = None
        self._prefilled = False

    def compose_body(self) -> ComposeResult:
        yield Static(
            "[b]Scan your network[/b] — find the Modbus and OPC UA devices and what they are. "
            "Reads only, paced; the runtime scans from its own network.",
            id="scan-intro",
        )
        with Horizontal(classes="scan-row"):
            yield Label("Targets ", classes="scan-label")
            yield Input(
                placeholder="192.168.10.0/24 or 192.168.10.20-40, 192.168.11.5",
                id="scan-targets",
                compact=True,
            )
        with Horizontal(classes="scan-row"):
            yield Label("Ports ", classes="scan-label")
            yield Input(scan_api.DEFAULT_PORTS, id="scan-ports", compact=True)
            yield Label(" Units ", classes="scan-label2")
            yield Input(scan_api.DEFAULT_UNITS, id="scan-units", compact=True)
            yield Label(" Rate/s ", classes="scan-label2")
            yield Input("50", id="scan-rate", type="number", compact=True)
            yield Label(" Timeout s ", classes="scan-label2")
            yield Input("1", id="scan-timeout", type="number", compact=True)
        yield Static("", id="scan-limits", markup=False)
        yield Static("", id="scan-summary", markup=False)
        yield row_table(
            "scan-devices",
            (
                ("use", "Use"),
                ("n", "#"),
                ("endpoint", "Endpoint"),
                ("unit", "Unit"),
                ("confidence", "Conf."),
                ("profile", "Best match"),
            ),
        )
        with Horizontal(id="scan-buttons"):
            yield Button("Scan ⏎", id="scan-start", variant="primary", compact=True)
            yield Button("Stop ^C", id="scan-stop", compact=True)
            yield Button("Suggest recipes ^N", id="scan-suggest", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._show_limits()

    # -- data ------------------------------------------------------------------------------
    def reload(self) -> None:
        self.follow()

    @work(exclusive=True, group="scan-status")
    async def follow(self) -> None:
        """Fetch ``scan.status``; while a scan runs, keep polling and redrawing."""
        while True:
            try:
                st = await self.call(scan_api.STATUS)
            except Exception as exc:
                self._summary(self.explain(exc), error=True)
                return
            if not self.app.is_running or not self.is_attached:
                return
            self._show(st)
            if not st.running:
                return
            await asyncio.sleep(POLL_S)  # the UI's polling schedule while the runtime scans

    def _show(self, st: scan_api.StatusReply) -> None:
        self.status_reply = st
        self.inventory = Inventory.model_validate(st.inventory) if st.inventory else None
        if self.inventory is not None and not self._prefilled and not st.running:
            self._prefill(self.inventory)
        if st.running and st.limits:
            self.query_one("#scan-limits", Static).update("Limits: " + st.limits)
        elif not st.running:
            self._show_limits()
        self._summary(summary_text(st, self.inventory), error=st.state == "failed")
        self._fill()

    def _prefill(self, inv: Inventory) -> None:
        """Put the last scan's targets, ports and units in the form (scan again = Enter)."""
        self._prefilled = True
        targets = self.query_one("#scan-targets", Input)
        if not targets.value and inv.targets:
            targets.value = " ".join(inv.targets)
            self.query_one("#scan-ports", Input).value = ports_text(inv.ports)
            if inv.limits is not None:
                self.query_one("#scan-units", Input).value = ranges(inv.limits.units)
                self.query_one("#scan-rate", Input).value = f"{inv.limits.rate:g}"
                self.query_one("#scan-timeout", Input).value = f"{inv.limits.timeout_s:g}"

    def _summary(self, text: str, error: bool = False) -> None:
        w = self.query_one("#scan-summary", Static)
        w.update(text)
        w.set_class(error, "fail")

    def _show_limits(self) -> None:
        rate = self.query_one("#scan-rate", Input).value.strip() or "?"
        timeout = self.query_one("#scan-timeout", Input).value.strip() or "?"
        self.query_one("#scan-limits", Static).update(
            f"Limits: {rate} requests/s in total, 10/s per host, at most 16 hosts at a time, "
            f"one request in flight per device, timeout {timeout} s; reads only."
        )

    def _fill(self) -> None:
        """Redraw the device table (only when its rows changed: the cursor stays put)."""
        table = self.query_one("#scan-devices", DataTable)
        devices = self.inventory.devices() if self.inventory is not None else []
        keys = [device_key(e, d) for e, d in devices]
        if keys == self._shown_rows:
            return
        current = None
        if table.row_count:
            current = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        table.clear()
        for n, ((ep, dev), key) in enumerate(zip(devices, keys, strict=True), start=1):
            table.add_row(*self._cells(n, ep, dev, key), key=key)
        self._shown_rows = keys
        if current in keys:
            table.move_cursor(row=keys.index(current))

    def _cells(self, n: int, ep: Endpoint, dev: Device, key: str) -> list[Any]:
        return [
            Text("[x]", style="bold") if key in self.ticked else Text("[ ]"),
            str(n),
            f"{ep.host}:{ep.port}",
            "" if dev.unit_id is None else str(dev.unit_id),
            f"{dev.confidence:.2f}",
            result_text(dev, ep.protocol),
        ]

    # -- actions ---------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id in ("scan-rate", "scan-timeout") and not (
            self.status_reply and self.status_reply.running
        ):
            self._show_limits()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_start()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {
            "scan-start": self.action_start,
            "scan-stop": self._stop_if_running,
            "scan-suggest": self.action_suggest,
        }[event.button.id or ""]()

    def on_data_table_row_selected(self, _event: DataTable.RowSelected) -> None:
        self.action_tick()

    def action_targets(self) -> None:
        """Put the cursor in the targets field."""
        self.query_one("#scan-targets", Input).focus()

    def action_start(self) -> None:
        """Start a scan of the targets in the form."""
        if self.status_reply is not None and self.status_reply.running:
            return
        targets = self.query_one("#scan-targets", Input).value.strip()
        if not targets:
            self.action_targets()
            self._summary("✗ type the networks or addresses to scan first", error=True)
            return
        try:
            rate = float(self.query_one("#scan-rate", Input).value or "50")
            timeout = float(self.query_one("#scan-timeout", Input).value or "1")
        except ValueError:
            self._summary("✗ rate and timeout: write numbers, e.g. 50 and 1", error=True)
            return
        body = scan_api.StartRequest(
            targets=targets,
            ports=self.query_one("#scan-ports", Input).value.strip() or scan_api.DEFAULT_PORTS,
            units=self.query_one("#scan-units", Input).value.strip() or scan_api.DEFAULT_UNITS,
            rate=min(1000.0, max(0.1, rate)),
            host_rate=min(10.0, max(0.1, rate)),
            timeout_s=min(30.0, max(0.05, timeout)),
        )
        self.start_scan(body)

    @work(exclusive=True, group="scan-status")
    async def start_scan(self, body: scan_api.StartRequest) -> None:
        """``scan.start``, then follow it."""
        self._summary("… starting the scan")
        try:
            st = await self.call(scan_api.START, body)
        except Exception as exc:
            self._summary(f"✗ {self.explain(exc).removeprefix('Error: ')}", error=True)
            return
        self.ticked.clear()
        self._shown_rows = None
        self._show(st)
        self.query_one("#scan-devices", DataTable).focus()
        self.follow()

    def action_stop(self) -> None:
        """Stop the running scan (Ctrl+C); what was found is kept. With no scan running,
        Ctrl+C does what it does on every screen (Textual's hint how to quit)."""
        if not self._stop_if_running():
            self.app.action_help_quit()

    def _stop_if_running(self) -> bool:
        running = self.status_reply is not None and self.status_reply.running
        if running:
            self.stop_scan()
        return running

    @work(exclusive=True, group="scan-stop")
    async def stop_scan(self) -> None:
        """``scan.stop``; the status worker shows the outcome."""
        self._summary("… stopping the scan")
        try:
            st = await self.call(scan_api.STOP)
        except Exception as exc:
            self._summary(self.explain(exc), error=True)
            return
        self._show(st)

    def _current_key(self) -> str | None:
        table = self.query_one("#scan-devices", DataTable)
        if table.row_count == 0:
            return None
        return str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    def action_tick(self) -> None:
        """Tick or untick the highlighted device."""
        key = self._current_key()
        if key is None or self.inventory is None:
            return
        self.ticked ^= {key}
        table = self.query_one("#scan-devices", DataTable)
        table.update_cell(key, "use", Text("[x]", style="bold") if key in self.ticked else "[ ]")

    def ticked_numbers(self) -> list[int]:
        """Inventory numbers of the ticked devices (the highlighted one if none is ticked)."""
        if self.inventory is None:
            return []
        keys = [device_key(e, d) for e, d in self.inventory.devices()]
        chosen = self.ticked or ({k} if (k := self._current_key()) else set())
        return [i + 1 for i, k in enumerate(keys) if k in chosen]

    def action_suggest(self) -> None:
        """Suggest recipes for the ticked devices (after the scan)."""
        if self.status_reply is not None and self.status_reply.running:
            self._summary("… the scan is still running; Ctrl+C stops it")
            return
        numbers = self.ticked_numbers()
        if not numbers:
            self._summary("✗ no device to suggest recipes for: scan first", error=True)
            return
        from kit_tui.screens.scan_suggest import SuggestScreen

        assert self.inventory is not None
        self.app.push_screen(SuggestScreen(self.inventory, numbers))
