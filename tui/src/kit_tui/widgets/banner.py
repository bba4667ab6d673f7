"""The connection banner: says plainly when the bus is down and that the TUI is retrying."""

from __future__ import annotations

from textual.widgets import Static

from kit_tui.data.link import LinkState


class ConnectionBanner(Static):
    """One line at the top of every screen; hidden while connected."""

    def __init__(self, **kw) -> None:
        super().__init__("", markup=False, **kw)

    DEFAULT_CSS = """
    ConnectionBanner { height: 1; width: 1fr; padding: 0 1; display: none; }
    ConnectionBanner.-down { display: block; background: $error; color: $text; text-style: bold; }
    ConnectionBanner.-connecting { display: block; background: $warning; color: $background; }
    """

    def show_state(self, link: LinkState) -> None:
        """Reflect ``link`` (called by the screen; attributes down)."""
        self.set_class(link.state == "disconnected", "-down")
        self.set_class(link.state == "connecting", "-connecting")
        if link.state == "disconnected":
            self.update(f"✗ DISCONNECTED, retrying — {link.detail}")
        elif link.state == "connecting":
            self.update(f"… connecting to {link.detail}")
        else:
            self.update("")


class Unavailable(Static):
    """Placeholder shown where a screen's endpoint is not served by this runtime."""

    DEFAULT_CSS = """
    Unavailable { padding: 1 2; color: $text-muted; display: none; }
    Unavailable.-shown { display: block; }
    """

    def __init__(self, **kw) -> None:
        super().__init__("", markup=False, **kw)

    def show(self, text: str | None) -> None:
        """Show ``text`` (e.g. "recipes.list is not available on this runtime"); hide on None."""
        self.set_class(text is not None, "-shown")
        self.update(text or "")
