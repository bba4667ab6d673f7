"""``kit plugin new NAME --kind adapter|analytics|sink``: a vendor project that works at once.

The project installs (hatchling, entry point in group ``kit``), passes its own tests (which
use ``kit.testing`` against a real nats-server) and certifies bronze with ``kit certify``.
"""

from __future__ import annotations

import re
from pathlib import Path

from kit.errors import KitError
from kit.trust import scaffold_templates as T

_KINDS = {
    "adapter": {
        "code": T.ADAPTER,
        "test": T.ADAPTER_TEST,
        "publishes": '["kit.data.>"]',
        "subscribes": "[]",
        "summary": "Reads a line-protocol device",
        "config": "{host: 192.168.0.10, port: 5020, poll_s: 1.0}",
    },
    "analytics": {
        "code": T.ANALYTICS,
        "test": T.ANALYTICS_TEST,
        "publishes": '["kit.kpi.>"]',
        "subscribes": '["kit.data.>"]',
        "summary": "Counts good parts from a bound counter",
        "config": "{inputs: {parts: count_good}, kpi: parts_seen}",
    },
    "sink": {
        "code": T.SINK,
        "test": T.SINK_TEST,
        "publishes": "[]",
        "subscribes": '["kit.data.>"]',
        "summary": "Keeps the last value of every point",
        "config": '{subject: "kit.data.>"}',
    },
}


def scaffold(
    name: str,
    kind: str,
    parent: Path,
    vendor: str = "Example Vendor",
    contact: str = "support@example.com",
) -> Path:
    """Create ``parent/kit-<name>/`` for a plugin of ``kind``; return its path.

    Raises:
        KitError: bad name, unknown kind, or the directory exists.
    """
    if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", name):
        raise KitError(
            f"plugin name {name!r}: use lower-case letters, digits and single dashes (e.g. acme-meter)"
        )
    if kind not in _KINDS:
        raise KitError(f"kind must be one of {', '.join(_KINDS)}")
    k = _KINDS[kind]
    mod = "kit_" + name.replace("-", "_")
    cls = "".join(p.capitalize() for p in name.split("-"))
    root = Path(parent) / f"kit-{name}"
    if root.exists():
        raise KitError(f"{root} exists already")
    v = {
        "name": name,
        "dist": f"kit-{name}",
        "mod": mod,
        "Class": cls,
        "kind": kind,
        "vendor": vendor,
        "contact": contact,
        "summary": f"{k['summary']} ({vendor}).",
        "Title": f"{cls} {kind} (kit-{name})",
        "publishes": k["publishes"],
        "subscribes": k["subscribes"],
        "config_example": k["config"],
    }
    files = {
        "pyproject.toml": T.PYPROJECT,
        "README.md": T.README,
        f"docs/{name}.md": T.DOCS,
        f"src/{mod}/__init__.py": T.INIT,
        f"src/{mod}/plugin.py": k["code"],
        f"src/{mod}/kit_manifest.yaml": T.MANIFEST,
        f"src/{mod}/kit_quality.yaml": T.QUALITY_ADAPTER if kind == "adapter" else T.QUALITY_COMMON,
        f"tests/test_{mod}_plugin.py": k["test"],
    }
    if kind == "adapter":
        files[f"src/{mod}/sim.py"] = T.SIM
    for rel, tpl in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(tpl.format(**v))
    return root
