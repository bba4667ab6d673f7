"""A fixed, deterministic data source: canned control API replies and bus messages.

Used by snapshot tests (the picture must not change between runs) and for documentation
screenshots. It implements the same :class:`kit_tui.data.link.DataSource` protocol as the
live link, with a frozen clock so ages and staleness are the same on every run.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kit_tui.data.link import LinkState, NotAvailable
from kit_tui.data.store import LiveStore, parse_ts


class FixedSource:
    """Serves ``replies`` (endpoint → result) and seeds the store with ``messages``.

    ``messages`` is a list of ``{"subject": …, "data": {…}}`` in bus order. ``now`` is the
    frozen wall clock (ISO text). An endpoint missing from ``replies`` is "not available";
    a reply of the form ``{"error": "…", "problems"?: […]}`` is raised as the runtime's
    :class:`kit.control.ControlError`. Called with a :class:`kit.api.Endpoint` spec, the
    canned result is parsed into its reply model — a fixture cannot drift from the real shape.
    """

    def __init__(
        self,
        replies: dict[str, Any],
        messages: list[dict[str, Any]],
        now: str,
        url: str = "nats://fixed.example:4222",
    ) -> None:
        self.url = url
        self.replies = replies
        self.calls: list[tuple[str, Any]] = []
        frozen = parse_ts(now) or 0.0
        self.store = LiveStore(clock=lambda: frozen)
        for m in messages:
            subject, data = m["subject"], m["data"]
            if subject.startswith("kit.data."):
                self.store.apply_batch(data)
            elif subject.startswith("kit.kpi."):
                self.store.apply_kpi(data)
            elif subject.startswith("kit.event."):
                self.store.apply_event(data)
            elif subject.startswith("kit.health."):
                self.store.apply_health(data)

    @classmethod
    def from_file(cls, path: str | Path) -> FixedSource:
        """Load ``{"now", "replies", "messages"}`` from a JSON file."""
        d = json.loads(Path(path).read_text())
        return cls(d.get("replies", {}), d.get("messages", []), d["now"])

    async def run(self, on_state: Callable[[LinkState], None]) -> None:
        """Report "connected" and idle until cancelled."""
        on_state(LinkState("connected", self.url))
        await asyncio.Event().wait()

    async def call(self, endpoint: Any, body: Any = None, timeout: float = 10.0) -> Any:
        """Return the canned reply of ``endpoint`` (a deep copy, so screens cannot mutate it)."""
        from kit.api import ErrorReply
        from kit.control import ControlError, parse_envelope

        name = getattr(endpoint, "name", endpoint)
        if isinstance(body, BaseModel):
            body = body.model_dump(mode="json", by_alias=True, exclude_unset=True)
        self.calls.append((name, body))
        if name not in self.replies:
            raise NotAvailable(f"'{name}' is not available on this runtime")
        reply = self.replies[name]
        if isinstance(reply, dict) and "error" in reply and set(reply) <= {"error", "problems"}:
            env = parse_envelope({"ok": False, "code": 1, **reply})
            if isinstance(env, ErrorReply):
                raise ControlError(env)
        result = copy.deepcopy(reply)
        return endpoint.parse_reply(result) if hasattr(endpoint, "parse_reply") else result
