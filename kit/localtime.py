"""The machine's time zone by name, for files people open (CSV, Excel) and reports.

Shared by the historian's exporter (on the runtime's machine) and the TUI (on the person's
machine, which may be another one): a sheet saved from the TUI is in the reader's zone.
"""

from __future__ import annotations

import os
from pathlib import Path


def local_tz_name() -> str:
    """The machine's IANA time zone (``TZ``, ``/etc/timezone`` or the ``/etc/localtime`` link);
    ``UTC`` when none can be found."""
    tz = os.environ.get("TZ", "").lstrip(":")
    if tz and "/" in tz or tz == "UTC":
        return tz
    try:
        name = Path("/etc/timezone").read_text().strip()
        if name:
            return name
    except OSError:
        pass
    try:
        target = os.readlink("/etc/localtime")
    except OSError:
        return "UTC"
    return target.split("zoneinfo/", 1)[1] if "zoneinfo/" in target else "UTC"
