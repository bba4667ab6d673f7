"""Subject names of the bus contract (docs/bus.md) and the token sanitiser.

NATS subjects are dot-separated tokens. Users name sites, lines and assets freely
("Line 3 / Presse-Ü"), so every user-supplied name is folded to ``[a-z0-9_-]`` before it
becomes a token. Publishing never uses wildcards; subscribing may.
"""

from __future__ import annotations

import re
import unicodedata
from typing import NamedTuple

DATA_PREFIX = "kit.data"
STORE_DATA_PREFIX = "kit.store.data"
"""Stored form of sample batches when it differs from the live JSON (docs/bus.md)."""
KPI_PREFIX = "kit.kpi"
EVENT_PREFIX = "kit.event"
HEALTH_PREFIX = "kit.health"
CMD_PREFIX = "kit.cmd"

STREAM_DATA = "KIT_DATA"
STREAM_KPI = "KIT_KPI"
STREAM_EVENTS = "KIT_EVENTS"

_TOKEN_OK = re.compile(r"^[a-z0-9_-]+$")
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")


def sanitize_token(name: str) -> str:
    """Fold a user-supplied name into one subject token of ``[a-z0-9_-]``.

    Accents are stripped ("Presse-Ü" → "presse-u"), runs of anything else become one ``_``,
    and leading/trailing ``_`` are trimmed. An empty result is an error because it would
    produce an empty token, which NATS rejects.

    Raises:
        ValueError: if nothing usable remains of ``name``.
    """
    folded = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    token = _NOT_ALLOWED.sub("_", folded.lower()).strip("_")
    if not token:
        raise ValueError(f"name {name!r} leaves no usable subject token; use letters or digits")
    return token


def is_token(token: str) -> bool:
    """True if ``token`` is already a valid subject token (no sanitising needed)."""
    return bool(_TOKEN_OK.match(token))


class AssetPath(NamedTuple):
    """ISA-95-style location of an asset: site / area / line / asset, all sanitised tokens."""

    site: str
    area: str
    line: str
    asset: str

    @classmethod
    def of(cls, site: str, area: str, line: str, asset: str) -> AssetPath:
        """Build a path from free-form names, sanitising each."""
        return cls(*(sanitize_token(p) for p in (site, area, line, asset)))

    @classmethod
    def parse(cls, text: str) -> AssetPath:
        """Parse ``site/area/line/asset`` or ``site.area.line.asset`` (each part sanitised).

        Raises:
            ValueError: if there are not exactly four parts.
        """
        parts = re.split(r"[./]", text.strip())
        if len(parts) != 4:
            raise ValueError(f"asset path {text!r} must have 4 parts: site/area/line/asset")
        return cls.of(*parts)

    def __str__(self) -> str:
        return "/".join(self)

    @property
    def tokens(self) -> str:
        """The four tokens joined by dots, as they appear inside subjects."""
        return ".".join(self)


def data_subject(path: AssetPath) -> str:
    """``kit.data.<site>.<area>.<line>.<asset>`` — sample batches from adapters."""
    return f"{DATA_PREFIX}.{path.tokens}"


def store_subject(path: AssetPath) -> str:
    """``kit.store.data.<site>.<area>.<line>.<asset>`` — what KIT_DATA keeps of the asset's
    batches when ``retention.data_encoding`` is ``compact`` or raw data is sampled."""
    return f"{STORE_DATA_PREFIX}.{path.tokens}"


def kpi_subject(path: AssetPath, kpi: str) -> str:
    """``kit.kpi.<site>.<area>.<line>.<asset>.<kpi>`` — analytics outputs."""
    return f"{KPI_PREFIX}.{path.tokens}.{sanitize_token(kpi)}"


def event_subject(kind: str, path: AssetPath) -> str:
    """``kit.event.<kind>.<site>.<area>.<line>.<asset>`` — alarms, state changes, audit."""
    return f"{EVENT_PREFIX}.{sanitize_token(kind)}.{path.tokens}"


def health_subject(component: str) -> str:
    """``kit.health.<component>`` — component and device health and heartbeat."""
    return f"{HEALTH_PREFIX}.{sanitize_token(component)}"


def cmd_subject(path: AssetPath) -> str:
    """``kit.cmd.<site>.<area>.<line>.<asset>`` — guarded write requests (request/reply)."""
    return f"{CMD_PREFIX}.{path.tokens}"


def path_from_subject(subject: str) -> AssetPath:
    """Recover the asset path from a data, kpi or cmd subject.

    Raises:
        ValueError: if the subject is not one of those.
    """
    tokens = subject.split(".")
    if len(tokens) >= 6 and tokens[0] == "kit" and tokens[1] in ("data", "kpi", "cmd"):
        return AssetPath(*tokens[2:6])
    if len(tokens) >= 7 and tokens[:2] == ["kit", "event"]:
        return AssetPath(*tokens[3:7])
    raise ValueError(f"{subject!r} carries no asset path")
