"""Trust status of installed plugins and the site policy that decides what loads.

Status (as Grafana shows it): **Core** (part of fast-track-kit itself), **Signed** (every
signature verifies with a trusted key and no file changed), **Untrusted** (a valid
signature, but by a key this site has not trusted yet: ``kit keys trust``), **Unsigned** (no
signature), **Invalid** (a signature that does not verify, or a statement for another
name/version/kit API — a replayed signature), **Modified** (signed, but a file changed,
appeared or vanished since). A Signed plugin is also *certified* when a certifier key
signed a statement with a certification tier.

Policy (``plugin_policy`` in the site settings):

* ``allow-unsigned`` — load everything (development).
* ``warn`` — load Signed, Untrusted and Unsigned (the latter two with a warning naming the
  command that trusts the key); refuse Invalid and Modified.
* ``require-certified`` — load only certified plugins (and Core).

Verification runs at install (``kit plugin install``) and on *every* plugin-host build,
i.e. at every load, through the callback :func:`make_verifier` gives ``get_plugin_manager``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from kit.trust import KIT_API_VERSION
from kit.trust.manifest import version_in_range
from kit.trust.release import FIRST_PARTY, RELEASE_TIER
from kit.trust.signing import (
    SIGNATURE_FILE,
    SignatureError,
    UntrustedSigner,
    embedded_key,
    verify_tree,
)
from kit.trust.truststore import TrustStore

log = logging.getLogger(__name__)
CORE_DISTS = {"fast-track-kit"}
TIERS = ("bronze", "silver", "gold")


@dataclass
class TrustStatus:
    """Verification result of one plugin package."""

    status: str  # Core | Signed | Untrusted | Unsigned | Invalid | Modified
    certified: bool = False
    tier: str | None = None
    signers: list[str] = field(default_factory=list)
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-able form for the control API and the CLI."""
        return asdict(self)


def package_dir(module: str) -> Path | None:
    """Directory of the top-level package of ``module`` (found without importing it)."""
    import importlib.util

    try:
        spec = importlib.util.find_spec(module.split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def read_signatures(pkg: Path) -> list[dict[str, Any]] | None:
    """Signature documents in ``pkg/kit_signature.json`` (None if the file is absent).

    Raises:
        SignatureError: the file exists but is not readable JSON of the right shape.
    """
    p = pkg / SIGNATURE_FILE
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text())
    except (OSError, ValueError) as exc:
        raise SignatureError(f"{p}: unreadable: {exc}") from None
    docs = data.get("signatures") if isinstance(data, dict) else None
    if not isinstance(docs, list) or not docs:
        raise SignatureError(f"{p}: no signatures in it")
    return docs


def check_package(
    pkg: Path, name: str, version: str, store: TrustStore, api_version: str = KIT_API_VERSION
) -> TrustStatus:
    """Verify the plugin package directory ``pkg`` of distribution ``name`` ``version``."""
    try:
        docs = read_signatures(pkg)
    except SignatureError as exc:
        return TrustStatus("Invalid", detail=str(exc))
    if docs is None:
        return TrustStatus("Unsigned", detail=f"no {SIGNATURE_FILE} in {pkg}")
    good: list[tuple[dict[str, Any], Any]] = []
    untrusted: list[tuple[dict[str, Any], Any]] = []
    unknown: list[str] = []  # untrusted keys whose signature carries no public key (old format)
    errors: list[str] = []
    for doc in docs:
        try:
            # The statement must be for *this* name and version: a 1.0 signature cannot vouch for 1.1.
            check = verify_tree(pkg, doc, store.keys, expect={"name": name, "version": version})
            _check_api(check.statement, api_version)
            good.append((check.statement, check))
        except UntrustedSigner as exc:
            # Not trusted here is not the same as broken: verify with the key the signature
            # carries, so a vendor's valid release is told apart from a forged or damaged one.
            k = embedded_key(doc)
            if k is None:
                unknown.append(exc.key_id)
                continue
            try:
                check = verify_tree(
                    pkg, doc, {exc.key_id: k}, expect={"name": name, "version": version}
                )
                _check_api(check.statement, api_version)
                untrusted.append((check.statement, check))
            except SignatureError as exc2:
                errors.append(str(exc2))
        except SignatureError as exc:
            errors.append(str(exc))
    if errors:
        return TrustStatus("Invalid", detail="; ".join(errors))
    if not good:
        if any(c.modified for _, c in untrusted):
            return _modified(untrusted)
        kids = [st["key_id"] for st, _ in untrusted] + unknown
        return TrustStatus(
            "Untrusted",
            signers=kids,
            detail=f"signed by key {', '.join(kids)}, which this site does not trust yet"
            + ("" if untrusted else " (the signature carries no public key to check it with)"),
        )
    if any(c.modified for _, c in good):
        return _modified(good)
    tier = None
    for st, _ in good:
        t = st.get("tier")
        if (
            store.roles.get(st["key_id"]) == "certifier"
            and st.get("role") == "certifier"
            and t in TIERS
        ):
            if tier is None or TIERS.index(t) > TIERS.index(tier):
                tier = t
    if tier is None and name in FIRST_PARTY:
        # A release key vouches for the kit's own distributions (and only those): the
        # project's release process, not `kit certify`, is what stands behind them.
        for st, _ in good:
            if store.roles.get(st["key_id"]) == "release" and st.get("role") == "release":
                tier = RELEASE_TIER
    extra = [st["key_id"] for st, _ in untrusted] + unknown
    return TrustStatus(
        "Signed",
        certified=tier is not None,
        tier=tier,
        signers=[st["key_id"] for st, _ in good],
        detail=f"also signed by untrusted key {', '.join(extra)} ({TRUST_HINT})" if extra else "",
    )


#: How an operator trusts a key (named in every message about an untrusted signer).
TRUST_HINT = "trust the signer with: kit keys trust <signer>.pub --role vendor|certifier"


def _check_api(st: dict[str, Any], api_version: str) -> None:
    if not version_in_range(api_version, str(st.get("kit_api", ""))):
        raise SignatureError(
            f"signed for kit API {st.get('kit_api')!r}, this kit offers {api_version}"
        )


def _modified(checks: list[tuple[dict[str, Any], Any]]) -> TrustStatus:
    c = next(c for _, c in checks if c.modified)
    parts = [
        f"changed: {', '.join(c.changed)}" if c.changed else "",
        f"added: {', '.join(c.added)}" if c.added else "",
        f"removed: {', '.join(c.removed)}" if c.removed else "",
    ]
    return TrustStatus(
        "Modified",
        signers=[st["key_id"] for st, _ in checks],
        detail="; ".join(p for p in parts if p),
    )


def check_entry_point(ep: metadata.EntryPoint, store: TrustStore) -> TrustStatus:
    """Verify the package an entry point loads from."""
    dist = ep.dist.name if ep.dist else "?"
    if dist in CORE_DISTS:
        return TrustStatus("Core")
    pkg = package_dir(ep.value.split(":")[0])
    if pkg is None:
        return TrustStatus("Invalid", detail=f"cannot locate package of {ep.value}")
    return check_package(pkg, dist, ep.dist.version if ep.dist else "?", store)


def decide(status: TrustStatus, policy: str) -> tuple[bool, str]:
    """Whether the site ``policy`` lets a plugin with ``status`` load, and the message to log."""
    s = status.status
    if s == "Core" or policy == "allow-unsigned":
        return True, ""
    if policy == "require-certified":
        if s == "Signed" and status.certified:
            return True, ""
        return False, f"refused by plugin_policy require-certified: status {s}" + (
            "" if s != "Signed" else " but not certified"
        ) + (f" ({status.detail})" if status.detail else "") + (
            f"; {TRUST_HINT}" if s == "Untrusted" else ""
        )
    # warn: a valid signature by a key the site has not trusted yet is at least as good as
    # no signature, so it loads (with the command that trusts the key); only a signature
    # that does not verify, or changed files, is refused.
    if s in ("Invalid", "Modified"):
        return False, f"refused by plugin_policy warn: status {s} ({status.detail})"
    if s == "Unsigned":
        return True, "unsigned plugin loaded (plugin_policy warn)"
    if s == "Untrusted":
        return True, f"loaded (plugin_policy warn): {status.detail}; {TRUST_HINT}"
    return True, ""


class _LazyStore:
    """The site's :class:`TrustStore`, read when the first signature is checked: parsing keys
    imports ``cryptography`` (~7 MiB resident), which a site of unsigned plugins never needs."""

    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._store: TrustStore | None = None

    def _get(self) -> TrustStore:
        if self._store is None:
            self._store = TrustStore.load(self._data_dir)
        return self._store

    @property
    def keys(self) -> Any:
        """:attr:`TrustStore.keys`."""
        return self._get().keys

    @property
    def roles(self) -> Any:
        """:attr:`TrustStore.roles`."""
        return self._get().roles


Verifier = Callable[[metadata.EntryPoint], tuple[bool, TrustStatus, str]]


def make_verifier(data_dir: Path, policy: str) -> Verifier:
    """The callback ``get_plugin_manager(verify=…)`` calls for every entry point before loading it."""
    store = _LazyStore(data_dir)

    def _verify(ep: metadata.EntryPoint) -> tuple[bool, TrustStatus, str]:
        st = check_entry_point(ep, store)  # type: ignore[arg-type]
        ok, msg = decide(st, policy)
        return ok, st, msg

    return _verify


def default_verifier() -> Verifier:
    """Verifier from the site settings of the environment (``KIT_CONFIG``, ``KIT_…``).

    Broken settings fall back to the defaults (policy ``warn``) so that listing plugins still
    works while the operator fixes the file; ``kit up`` reports the settings error itself.
    """
    from kit.settings import Settings, load_settings

    try:
        s = load_settings()
    except Exception:
        s = Settings()
    return make_verifier(s.data_dir, s.plugin_policy)
