"""Dependency audit: pinned or bounded requirements, and a licence from the allow-list."""

from __future__ import annotations

import re
from importlib import metadata
from typing import Any

#: Licences a certified plugin may use (SPDX ids, as in Grafana's validator allow-list, plus MPL/ISC).
LICENCE_ALLOW = {
    "MIT",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "Apache-2.0",
    "LGPL-3.0-only",
    "LGPL-3.0-or-later",
    "GPL-3.0-only",
    "GPL-3.0-or-later",
    "AGPL-3.0-only",
    "AGPL-3.0-or-later",
    "MPL-2.0",
    "ISC",
    "LGPL-2.1-or-later",
    "EPL-2.0",
}
_CLASSIFIER_MAP = {
    "MIT License": "MIT",
    "BSD License": "BSD-3-Clause",
    "Apache Software License": "Apache-2.0",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "ISC License (ISCL)": "ISC",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
}
#: The kit itself: compatibility is the manifest's ``kit_api`` range, checked at every load.
KIT_DIST = "fast-track-kit"


def requirement_problems(requires: list[str]) -> list[str]:
    """Requirements that are neither pinned (``==``) nor upper-bounded (``<``/``<=``/``~=``)."""
    out = []
    for req in requires:
        spec = req.split(";")[0].strip()
        if "extra ==" in req:
            continue  # optional extras are the user's choice
        name = re.split(r"[\s\[<>=!~(]", spec, maxsplit=1)[0]
        if name.lower().replace("_", "-") == KIT_DIST:
            continue
        if not re.search(r"(==|<|~=)", spec):
            out.append(f"{spec} (no pin or upper bound)")
    return out


def licence_of(meta: metadata.PackageMetadata | dict[str, Any]) -> str | None:
    """SPDX licence of a distribution from ``License-Expression``, ``License`` or classifiers."""
    get = meta.get if hasattr(meta, "get") else (lambda k, d=None: d)
    expr = get("License-Expression") or None
    if expr:
        return str(expr).strip()
    lic = get("License") or None
    if lic and len(str(lic)) < 60:
        return str(lic).strip()
    classifiers = meta.get_all("Classifier") if hasattr(meta, "get_all") else []
    for c in classifiers or []:
        if c.startswith("License ::"):
            leaf = c.split("::")[-1].strip()
            if leaf in _CLASSIFIER_MAP:
                return _CLASSIFIER_MAP[leaf]
    return None


def licence_allowed(expr: str | None) -> bool:
    """Every licence in an SPDX expression (``A OR B``) is on the allow-list."""
    if not expr:
        return False
    ids = [t for t in re.split(r"\s+(?:OR|AND|WITH)\s+|[()]", expr) if t.strip()]
    return bool(ids) and all(i.strip() in LICENCE_ALLOW for i in ids)
