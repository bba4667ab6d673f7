"""Endpoint specs of plugins' control API endpoints, for the screens that show them.

A plugin publishes its endpoints' request/reply models in its own ``api`` module (e.g.
``kit_alarms.api``). The TUI reads those endpoints with the same models, so it needs the
plugin's package on this machine too; without it the screen says so (as it does when the
runtime lacks the plugin) instead of guessing the reply's shape. The import is by name here,
in one place, because the TUI must still start without any plugin installed.
"""

from __future__ import annotations

import importlib
from typing import Any

from kit_tui.data.link import NotAvailable

#: endpoint name -> (module, attribute, distribution that provides it)
PLUGIN_ENDPOINTS: dict[str, tuple[str, str, str]] = {
    "alarms.list": ("kit_alarms.api", "LIST", "kit-alarms"),
    "alarms.ack": ("kit_alarms.api", "ACK", "kit-alarms"),
    "alarms.shelve": ("kit_alarms.api", "SHELVE", "kit-alarms"),
    "alarms.unshelve": ("kit_alarms.api", "UNSHELVE", "kit-alarms"),
    "oee.downtimes": ("kit_oee.api", "DOWNTIMES", "kit-oee"),
    "oee.assign_reason": ("kit_oee.api", "ASSIGN_REASON", "kit-oee"),
    "opcua.certs.list": ("kit_opcua.api", "LIST", "kit-opcua"),
    "opcua.certs.trust": ("kit_opcua.api", "TRUST", "kit-opcua"),
    "opcua.certs.reject": ("kit_opcua.api", "REJECT", "kit-opcua"),
    "history.query": ("kit_historian.api", "QUERY", "kit-historian"),
    "history.export": ("kit_historian.api", "EXPORT", "kit-historian"),
    "models.alerts": ("kit_models.api", "ALERTS", "kit-models"),
    "models.label": ("kit_models.api", "LABEL", "kit-models"),
    "workorders.list": ("kit_models.api", "WORK_ORDERS", "kit-models"),
    "workorders.approve": ("kit_models.api", "APPROVE", "kit-models"),
    "workorders.reject": ("kit_models.api", "REJECT", "kit-models"),
    "workorders.close": ("kit_models.api", "CLOSE", "kit-models"),
    "pilots.progress": ("kit_pilot.api", "PROGRESS", "kit-pilot"),
}


def spec(name: str) -> Any:
    """The :class:`kit.api.Endpoint` of plugin endpoint ``name``.

    Raises:
        NotAvailable: the plugin's package (its models) is not installed here.
    """
    module, attr, dist = PLUGIN_ENDPOINTS[name]
    try:
        return getattr(importlib.import_module(module), attr)
    except ImportError:
        raise NotAvailable(
            f"'{name}' needs the {dist} package on this machine too (the TUI reads its replies "
            "with the plugin's models)"
        ) from None
