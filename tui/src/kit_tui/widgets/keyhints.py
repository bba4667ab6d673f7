"""Key hints at the bottom of every screen: one line of text, cheap to redraw.

Textual's ``Footer`` builds one widget per binding and rebuilds them on every screen
switch and focus change; that cost about 80 ms of CPU per switch here, which a Raspberry
Pi over SSH feels. This widget renders the same information as a single ``Text``.
"""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget


class KeyHints(Widget):
    """The active, visible bindings of the screen (focused widget first), then ``^p palette``."""

    DEFAULT_CSS = """
    KeyHints { height: 1; width: 1fr; background: $panel; color: $text; }
    """

    def on_mount(self) -> None:
        self.watch(self.screen, "focused", lambda _f: self.refresh(), init=False)

    def render(self) -> Text:
        out = Text(no_wrap=True, overflow="ellipsis")
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            b = active.binding
            if not b.show or not b.description or b.action in seen:
                continue
            seen.add(b.action)
            out.append(
                self.app.get_key_display(b), style="bold reverse" if active.enabled else "dim"
            )
            out.append(f" {b.description}  ", style="" if active.enabled else "dim")
        palette = Text(" ^p palette ", style="dim")
        room = self.size.width - palette.cell_len
        if room > 0 and out.cell_len > room:
            out.truncate(room, overflow="ellipsis")
        out.append(" " * max(0, room - out.cell_len))
        out.append_text(palette)
        return out
