"""The gate to scale: a lighthouse bundle carries the evidence pack of the pilot that earned
it, and ``kit bundle show`` summarises that evidence.

Kept apart from :mod:`kit.recipes.bundle` (which this only reads through its public
functions): the pack is one more file of the bundle, ``evidence/<pilot>.kitevidence``,
listed with its SHA-256 in the bundle's manifest like every other file. Attaching changes
the manifest, so a bundle is signed (``kit bundle sign``) after the evidence is attached;
a signature made before is dropped, and the caller is told.

Only evidence that is intact, signed by a key the exporting site trusts (or its own), and
meets its goal is attached; the receiving site re-checks it with ``kit evidence verify``
(which also recomputes the statistics).
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

from kit.evidence import EvidenceError, Pack, check_signature, read_pack
from kit.hashedzip import sha256_hex
from kit.recipes.bundle import MANIFEST, open_bundle

EVIDENCE_DIR = "evidence/"


def attach_evidence(
    bundle: bytes, pack: bytes, data_dir: Path, own_key: Any | None = None
) -> bytes:
    """``bundle`` with ``pack`` added as ``evidence/<pilot>.kitevidence``.

    Raises:
        EvidenceError: the pack is modified, untrusted, or its evidence does not meet its goal.
        BundleError: the bundle itself is not valid.
    """
    p = read_pack(pack, "evidence pack")
    check_signature(p, data_dir, own_key)
    s = p.manifest.get("summary") or {}
    if not s.get("goal_met"):
        goals = ", ".join(f"{g['goal']} {g['verdict']}, {g['status']}" for g in s.get("goals", []))
        raise EvidenceError(
            f"pilot {s.get('pilot')!r}: the evidence does not meet its goal ({goals}); only a "
            "pilot that met its goal goes to scale"
        )
    # Intact before we touch it; its old signature is dropped (signature status not needed).
    manifest, contents, _ = open_bundle(bundle, "bundle")
    name = f"{EVIDENCE_DIR}{s.get('pilot', 'pilot')}.kitevidence"
    contents[name] = pack
    manifest["files"][name] = sha256_hex(pack)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as w:
        w.writestr(MANIFEST, json.dumps(manifest, indent=2))
        for n, d in sorted(contents.items()):
            w.writestr(n, d)
    return buf.getvalue()


def attach_all(bundle: bytes, packs: list[Path], data_dir: Path) -> bytes:
    """Attach each pack file (``kit bundle export --evidence``); the site's own key
    (``<data_dir>/keys/site.key``, if there) counts as trusted for its own packs."""
    from kit.evidence import load_key

    own_path = Path(data_dir) / "keys" / "site.key"
    own = load_key(own_path) if own_path.exists() else None
    for p in packs:
        bundle = attach_evidence(bundle, p.read_bytes(), data_dir, own)
    return bundle


def evidence_packs(bundle: bytes) -> dict[str, bytes]:
    """The evidence packs a bundle carries, by file name (the bundle is not checked here)."""
    try:
        with zipfile.ZipFile(io.BytesIO(bundle)) as z:
            return {
                n: z.read(n)
                for n in z.namelist()
                if n.startswith(EVIDENCE_DIR) and n.endswith(".kitevidence")
            }
    except (zipfile.BadZipFile, OSError):  # not a bundle: open_bundle says so where it matters
        return {}


def _status(p: Pack, data_dir: Path) -> str:
    try:
        return check_signature(p, data_dir)
    except EvidenceError as exc:
        return f"NOT TRUSTED: {exc}"


def evidence_lines(bundle: bytes, data_dir: Path) -> list[str]:
    """Lines for ``kit bundle show``: per attached pack its goals, verdicts, money, signature."""
    out = []
    for name, data in evidence_packs(bundle).items():
        try:
            p = read_pack(data, name)
        except EvidenceError as exc:
            out.append(f"  evidence   {name}: REFUSED — {exc}")
            continue
        s = p.manifest.get("summary") or {}
        red = " (redacted)" if (p.manifest.get("redaction") or {}).get("redacted") else ""
        money = s.get("money_per_year")
        out.append(
            f"  evidence {s.get('pilot')}{red}: goal {'met' if s.get('goal_met') else 'NOT met'}"
            + (
                f", about {money:,.0f} {s.get('currency', '')} per year"
                if money is not None
                else ""
            )
            + f"; {_status(p, data_dir)}"
        )
        for g in s.get("goals", []):
            ci = f" [{g['ci_low']:.4g} … {g['ci_high']:.4g}]" if g.get("ci_low") is not None else ""
            change = "—" if g.get("change") is None else f"{g['change']:+.4g}"
            out.append(
                f"    {g['goal']}: change {change}{ci} {g.get('unit') or ''} over "
                f"{g['n_baseline']}+{g['n_pilot']} shifts → {g['verdict']}, {g['status']}"
                + (f" ({g['warnings']} warning(s))" if g.get("warnings") else "")
            )
        out.append("    recheck with: kit evidence verify (recomputes the statistics)")
    return out
