"""Site settings: one YAML file plus ``KIT_…`` environment overrides, validated.

Precedence (highest first): environment (``KIT_NATS_URL``, ``KIT_RETENTION__DATA_MAX_AGE_HOURS``
with ``__`` for nesting), the file given by ``--config`` or ``KIT_CONFIG``, defaults.
Errors name the file, line and field (or the environment variable).

Only variables whose first name is a field of :class:`Settings` are settings (an allow-list
derived from the model). Every other ``KIT_…`` variable belongs to someone else — an
operator switch (:data:`OPERATOR_VARIABLES`) or the TUI — and is left alone, so setting
``KIT_OPERATOR`` for the TUI never stops ``kit up``. An unknown name that looks like a
misspelt setting is logged with a suggestion instead of being silently dropped.
"""

from __future__ import annotations

import difflib
import logging
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from kit.errors import ConfigError
from kit.yamlfiles import load_yaml, validation_problems

log = logging.getLogger(__name__)

#: Environment variables the kit reads that are not settings (docs/configuration.md lists
#: each). They are never fed to the settings model.
OPERATOR_VARIABLES: dict[str, str] = {
    "KIT_CONFIG": "site settings file (same as --config)",
    "KIT_LOAD_PLUGINS": "load only these plugins (comma-separated entry-point names)",
    "KIT_DISABLE_PLUGINS": "block these plugins (comma-separated entry-point names)",
    "KIT_TRACE_PLUGINS": "log every hook call",
    "KIT_ROLE": "bus role of CLI and TUI with the local credentials",
    "KIT_OPERATOR": "name the TUI records for acknowledgements and downtime reasons",
    "KIT_TUI_THEME": "Textual theme of the TUI",
    "KIT_RELEASE_KEY": "project release key file for scripts/sign_first_party.py (releases only)",
    "KIT_WEB_CERT": "PEM certificate chain kit web serves HTTPS with (same as --cert)",
    "KIT_WEB_KEY": "PEM private key of KIT_WEB_CERT (same as --key)",
    "KIT_WEB_SCREENSHOTS": "directory where the browser test saves its screenshots (docs)",
    "KIT_CHROMIUM": "Chromium binary for PNG reports and the browser tests",
}


def default_data_dir() -> Path:
    """``$XDG_DATA_HOME/fast-track-kit`` (``~/.local/share/fast-track-kit``)."""
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fast-track-kit"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RetentionSettings(_Strict):
    """Limits of the JetStream streams, sized for an SD card or small SSD by default."""

    data_max_age_hours: float = Field(72, gt=0)
    """How long raw sample batches are kept (KIT_DATA)."""
    data_max_bytes: int = Field(2 * 1024**3, gt=0)
    """Maximum size of KIT_DATA on disk; oldest data is discarded first."""
    kpi_max_age_hours: float = Field(24 * 90, gt=0)
    """How long KPI values are kept (KIT_KPI)."""
    kpi_max_bytes: int = Field(512 * 1024**2, gt=0)
    events_max_age_hours: float = Field(24 * 365, gt=0)
    """How long alarms, state changes and audit events are kept (KIT_EVENTS)."""
    events_max_bytes: int = Field(256 * 1024**2, gt=0)
    compression: Literal["s2", "none"] = "s2"
    """On-disk compression of the three streams (S2, nats-server ≥ 2.10). Saves disk space;
    ``*_max_bytes`` still count uncompressed bytes (docs/sizing.md)."""
    data_storage: Literal["file", "memory"] = "file"
    """Where raw sample batches (KIT_DATA) live: ``file`` (kept for ``data_max_age_hours``) or
    ``memory`` (a RAM ring of ``data_memory_max_bytes``: no SD-card writes for raw data; the
    historian, if configured, still keeps it in Parquet). KPIs and events are always on disk."""
    data_memory_max_bytes: int = Field(32 * 1024**2, gt=0)
    """Size of KIT_DATA when ``data_storage`` is ``memory`` (oldest batches dropped first)."""
    data_persistence: Literal["kept", "sampled", "historian", "none"] = "kept"
    """Which raw sample batches KIT_DATA keeps (KPIs and events are always kept): every batch
    (``kept``); one batch per producer every ``data_sample_s`` (``sampled``); raw data only in
    the historian's Parquet, KIT_DATA being a RAM ring of ``data_memory_max_bytes`` it reads
    from (``historian``, same as ``data_storage: memory``); none (``none``: live on the bus
    only). Analytics always see every batch live (docs/sizing.md)."""
    data_sample_s: float = Field(60.0, gt=0)
    """With ``data_persistence: sampled``: seconds between the stored batches of a producer."""
    data_encoding: Literal["json", "compact"] = "json"
    """How KIT_DATA stores batches: the bus's JSON (``json``) or the compact binary form of
    :mod:`kit.compact` (``compact``, ~4 bytes per point). Live subscribers of ``kit.data.>``
    get JSON either way (docs/bus.md)."""

    @property
    def split_data(self) -> bool:
        """True when what KIT_DATA stores differs from the live JSON on ``kit.data.>``: the
        stream then captures ``kit.store.data.>`` and producers publish both (docs/bus.md)."""
        return self.data_encoding != "json" or self.data_persistence in ("sampled", "none")

    @property
    def data_in_memory(self) -> bool:
        """KIT_DATA is a RAM ring (``data_storage: memory`` or ``data_persistence: historian``)."""
        return self.data_storage == "memory" or self.data_persistence == "historian"


class NatsSettings(_Strict):
    """The embedded NATS server (used when ``nats_url`` is not set)."""

    host: str = "127.0.0.1"
    """Listen address. Loopback by default: nothing is exposed to the plant network."""
    port: int = Field(4222, ge=0, le=65535)
    """Client port; 0 picks a free one."""
    mqtt_port: int | None = Field(None, ge=0, le=65535)
    """Open NATS's MQTT listener on this port (e.g. 1883) so MQTT tools read ``kit/data/#``."""
    max_store_bytes: int = Field(8 * 1024**3, gt=0)
    """JetStream file-store ceiling for the whole server."""
    memory_limit_mib: int | None = Field(48, ge=8)
    """Soft memory limit of the embedded server in MiB (Go's ``GOMEMLIMIT``): its garbage
    collector works harder near it instead of growing; ``null`` leaves Go's default (docs/sizing.md).
    An explicit ``GOMEMLIMIT`` in the environment wins."""
    gc_percent: int | None = Field(50, ge=10)
    """Go's ``GOGC`` for the embedded server: collect when the heap grew by this percentage
    (Go's default 100). 50 keeps its RSS a few MiB lower for a little more GC CPU, which a
    server at edge rates has to spare (docs/sizing.md); ``null`` leaves Go's default. An
    explicit ``GOGC`` in the environment wins."""


class NatsClientSettings(_Strict):
    """How to authenticate to an external NATS server given by ``nats_url`` (TLS, user or creds).

    The embedded server needs none of this: it generates its users in the data directory.
    """

    tls_ca: Path | None = None
    """CA bundle that signed the server certificate (enables TLS)."""
    tls_cert: Path | None = None
    """Client certificate for mutual TLS (with ``tls_key``)."""
    tls_key: Path | None = None
    tls_hostname: str | None = None
    """Expected server name if it differs from the URL's host."""
    user: str | None = None
    password: str | None = None
    creds_file: Path | None = None
    """NATS ``.creds`` file (JWT + nkey seed) for servers using decentralised auth."""


class HubLinkSettings(_Strict):
    """The site's leaf link to a hub (docs/fleet.md). Outbound only; the site works without it."""

    credentials: Path
    """Credentials file from ``kit hub add-site SITE`` (hub URLs, the site's user, password)."""
    url: str | None = None
    """Leaf URL(s) of the hub, comma-separated; default: the URLs in the credentials file."""
    tls_ca: Path | None = None
    """CA bundle that signed the hub's certificate (enables TLS on the link)."""
    tls_cert: Path | None = None
    """Client certificate for mutual TLS (with ``tls_key``)."""
    tls_key: Path | None = None
    raw_sample_s: float | None = Field(None, gt=0)
    """Keep a sampled copy of the raw data (one batch per asset per this many seconds) in
    ``KIT_DATA_SAMPLED`` for a hub that takes raw data ``sampled`` (docs/fleet.md)."""
    rollouts: Literal["signed", "unsigned", "never"] = "signed"
    """Bundle rollouts offered by the hub: ``signed`` takes only bundles signed by a key in
    this site's trust store, ``unsigned`` also unsigned ones (trials), ``never`` refuses all."""


class SupervisorSettings(_Strict):
    """How failed components are restarted."""

    backoff_initial_s: float = Field(1.0, gt=0)
    backoff_max_s: float = Field(60.0, gt=0)
    backoff_factor: float = Field(2.0, ge=1)
    jitter: float = Field(0.2, ge=0, le=1)
    """Random spread of each delay (0.2 = ±20 %), so restarts do not synchronise."""
    crash_loop_failures: int = Field(5, ge=1)
    """This many failures within ``crash_loop_window_s`` mark a component failed."""
    crash_loop_window_s: float = Field(300.0, gt=0)
    stop_timeout_s: float = Field(3.0, gt=0)
    """How long a component may take to stop before it is cancelled."""
    heartbeat_s: float = Field(5.0, gt=0)


class ReportSettings(_Strict):
    """Report by exception for one component's sample batches (kit.exception, docs/sizing.md)."""

    deadband: float = Field(0.0, ge=0)
    """A numeric point is published when it moved by more than this (absolute, in the point's
    unit) since it was last published; 0 means on any change."""
    deadbands: dict[str, float] = Field(default_factory=dict)
    """Per point name, overriding ``deadband`` (e.g. ``{power_active_total_w: 50}``)."""
    max_interval_s: float = Field(60.0, gt=0)
    """A full batch at least this often: the heartbeat that proves the device is alive."""


class ComponentSpec(_Strict):
    """A component instance named directly in the site config (recipes create these too)."""

    name: str = Field(min_length=1)
    """Instance id, unique in the site (used in health subjects and logs)."""
    type: str = Field(min_length=1)
    """Registered component type, e.g. ``synthetic``, ``modbus``, ``oee``."""
    asset: str | None = None
    """Asset path ``site/area/line/asset`` the component reads or writes."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Checked against the component type's own config model before anything starts."""
    report: ReportSettings | None = None
    """Report by exception: publish only points that changed (docs/sizing.md). Off by default."""


class Settings(_Strict):
    """Everything a site configures in one file (``kit.yaml``)."""

    site: str = "site"
    """Site name, the first token of every asset path."""
    data_dir: Path = Field(default_factory=default_data_dir)
    """Where JetStream data, certificates and state live."""
    nats_url: str | None = None
    """Use this NATS server or cluster (comma-separated URLs) instead of the embedded one."""
    nats: NatsSettings = Field(default_factory=NatsSettings)
    nats_client: NatsClientSettings = Field(default_factory=NatsClientSettings)
    """TLS and credentials for an external server (``nats_url``)."""
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    hub: HubLinkSettings | None = None
    """Join a hub as a leaf node (JetStream domain = ``site``); see docs/fleet.md."""
    supervisor: SupervisorSettings = Field(default_factory=SupervisorSettings)
    plugin_policy: Literal["allow-unsigned", "warn", "require-certified"] = "warn"
    """What loads: anything, anything with a warning for unsigned, or only certified plugins."""
    components: list[ComponentSpec] = Field(default_factory=list)
    history: bool = True
    """Run a site-wide historian (component ``history``, type ``historian``: KPIs and events,
    size- and age-limited) when none is configured and the historian plugin is installed.
    Raw samples are kept per recipe (``record-device``) or by configuring one explicitly."""

    _file: str = PrivateAttr("site config")
    _root: Any = PrivateAttr(None)

    def origin(self) -> tuple[str, Any]:
        """``(filename, parsed YAML root)`` the settings came from, for file:line messages."""
        return self._file, self._root


def setting_variables() -> list[str]:
    """Top-level ``KIT_<FIELD>`` names derived from :class:`Settings` (the allow-list)."""
    return [f"KIT_{name.upper()}" for name in Settings.model_fields]


def _env_overrides(env: dict[str, str]) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    data: dict[str, Any] = {}
    origin: dict[tuple[str, ...], str] = {}
    fields = set(Settings.model_fields)
    for key, value in env.items():
        if not key.startswith("KIT_") or key in OPERATOR_VARIABLES:
            continue
        path = tuple(p.lower() for p in key[4:].split("__"))
        if path[0] not in fields:
            # Not a setting: another tool's variable (or a typo worth a hint). Nested names
            # under a known group (KIT_NATS__PROT) still reach the model and fail loudly.
            close = difflib.get_close_matches(path[0], fields, n=1, cutoff=0.7)
            if close:
                log.warning(
                    "environment %s is not a setting and is ignored (did you mean KIT_%s?)",
                    key,
                    close[0].upper(),
                )
            continue
        node = data
        for p in path[:-1]:
            node = node.setdefault(p, {})
        node[path[-1]] = value
        origin[path] = key
    return data, origin


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_settings(path: Path | str | None = None, env: dict[str, str] | None = None) -> Settings:
    """Load site settings from ``path`` (or ``$KIT_CONFIG``), then apply ``KIT_…`` overrides.

    Raises:
        ConfigError: listing every problem as ``file:line: field: message``.
    """
    env = dict(os.environ if env is None else env)
    path = path or env.get("KIT_CONFIG")
    root: Any = {}
    filename = "(defaults)"
    if path:
        filename = str(path)
        root = load_yaml(path) or {}
        if not isinstance(root, dict):
            raise ConfigError(f"{filename}:1: (top level): expected a mapping of settings")
    overrides, origin = _env_overrides(env)
    try:
        settings = Settings.model_validate(_merge(dict(root), overrides))
        settings._file, settings._root = filename, root
        return settings
    except ValidationError as exc:
        problems = []
        for line in validation_problems(filename, root, exc, model=Settings):
            problems.append(line)
        # Re-attribute errors on overridden fields to the variable that set them.
        for i, err in enumerate(exc.errors()):
            key = tuple(str(p) for p in err["loc"])
            if key in origin:
                problems[i] = f"environment {origin[key]}: {'.'.join(key)}: {err['msg']}"
        raise ConfigError(
            f"{filename}: {len(problems)} problem(s) in site settings", problems
        ) from None
