"""Messages that flow *up* the DOM (widgets → screens → app). Dataclasses with docstrings.

Telemetry never travels as one message per bus message: the link writes into the store
and :class:`LiveDataChanged` announces "something changed"; a pending one replaces the
next (``can_replace``), so a flood of 10,000 points/s costs one redraw per refresh tick.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from kit_tui.data.link import LinkState


@dataclass
class LinkStateChanged(Message):
    """The bus connection changed state (connecting, connected, disconnected)."""

    link: LinkState


@dataclass
class LiveDataChanged(Message):
    """The live store has new data (version ``version``); screens redraw what they show."""

    version: int

    def can_replace(self, message: Message) -> bool:
        """A newer change notice makes an older, still-queued one redundant."""
        return isinstance(message, LiveDataChanged)


@dataclass
class OpenAsset(Message):
    """The user asked to look at one asset (path ``site/area/line/asset``)."""

    asset: str


@dataclass
class OpenRecipe(Message):
    """The user chose a recipe in the catalog to install it."""

    recipe_id: str
