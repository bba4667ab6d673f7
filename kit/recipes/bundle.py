"""Lighthouse bundles: one file that re-creates a site's deployments elsewhere.

A bundle is a zip file (``*.kitbundle``) holding::

    manifest.json            format, creation time, kit version, SHA-256 of every other file
    bundle.json              deployments (recipe, values, blanked values), plugins, profiles
    recipes/<id>-<ver>.yaml  the exact recipe texts that were installed
    profiles/<id>.yaml       the hardware profiles they use
    reports/<deployment>.{json,md}   the commissioning reports
    manifest.sig             (reserved) detached signature of manifest.json — see below

Site-specific values (hosts, ports, unit ids, asset/area/line names, secrets: see
:mod:`kit.recipes.bundle_site`) are blanked and listed, so the receiving site is asked for
exactly those; the commissioning reports have them scrubbed. A file whose hash does not match the manifest, a missing file or an unlisted extra
file makes the whole bundle refused.

Signatures: ``manifest.json`` is the signed content. :data:`SIGNATURE_FILE` is the only
file allowed outside the manifest; :func:`verify_signature` is where the trust module
plugs its verifier in. Until then a signature file is reported as "present, not verified".
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import zipfile
from importlib import metadata
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from kit import __version__
from kit.errors import ConfigError, KitError
from kit.hashedzip import MANIFEST as MANIFEST
from kit.hashedzip import ZipKind, file_hashes, open_zip, sha256_hex
from kit.payloads import utcnow
from kit.recipes.bundle_site import blank_entry, scrub, scrub_values, site_parameters
from kit.recipes.checks import report_markdown
from kit.recipes.loader import LoadedRecipe, parse_recipe

FORMAT = "kit-bundle/1"
SIGNATURE_FILE = "manifest.sig"
BLANK = None
"""Value written in place of a blanked site-specific parameter."""
MAX_UNPACKED_BYTES = 64 * 1024 * 1024
"""Largest total size of a bundle's files once unpacked (a bundle is recipes, profiles and
reports: kilobytes; the bound refuses zip bombs)."""


class BundleError(ConfigError):
    """The bundle is not a valid kit bundle, or was changed after export."""


def dist_fingerprint(distribution: str) -> str | None:
    """SHA-256 of an installed distribution's RECORD (which lists the hash of every file).

    Two installs with the same fingerprint have byte-identical files.
    """
    try:
        text = metadata.distribution(distribution).read_text("RECORD")
    except (metadata.PackageNotFoundError, ValueError):
        return None
    return hashlib.sha256(text.encode()).hexdigest() if text else None


_KIND = ZipKind(
    what="a kit bundle",
    noun="bundle",
    format=FORMAT,
    signature=SIGNATURE_FILE,
    max_unpacked=MAX_UNPACKED_BYTES,
    sealed_by="export",
    error=BundleError,
    format_word="bundle ",
    limit_hint=" (kit.recipes.bundle.MAX_UNPACKED_BYTES)",
)


def verify_signature(
    manifest: bytes, signature: bytes | None, keys: dict[str, Any] | None = None
) -> str:
    """Signature status of a bundle's ``manifest.json`` bytes.

    Args:
        keys: the site's trusted public keys (``TrustStore.keys``); none trusted if omitted.

    Returns:
        ``unsigned``, or ``signed by <key id> (<role>)`` for a valid signature by a key in
        the site's trust store (``kit keys trust``).

    Raises:
        BundleError: a signature that does not verify, or by a key this site does not trust —
            a signed bundle is only worth something if its signature is checked.
    """
    if signature is None:
        return "unsigned"
    from kit.trust.signing import SignatureError, verify_bytes

    keys = keys or {}
    try:
        doc = json.loads(signature)
        st = verify_bytes(manifest, doc, keys, expect={"purpose": "kit-bundle"})
    except (ValueError, SignatureError) as exc:
        raise BundleError(f"bundle signature refused: {exc}") from None
    return f"signed by {st['key_id']}"


def sign_bundle(data: bytes, key: Any, signer: str = "") -> bytes:
    """Return the bundle with ``manifest.sig``: an Ed25519 signature of its manifest.

    Every file's SHA-256 is in the manifest, so the signature covers the whole bundle.
    """
    from kit.trust.signing import sign_bytes

    z = zipfile.ZipFile(io.BytesIO(data))
    contents = {
        i.filename: z.read(i)
        for i in z.infolist()
        if not i.is_dir() and i.filename != SIGNATURE_FILE
    }
    if MANIFEST not in contents:
        raise BundleError("not a kit bundle (no manifest.json)")
    doc = sign_bytes(contents[MANIFEST], key, {"purpose": "kit-bundle", "signer": signer})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as w:
        for fname, blob in contents.items():
            w.writestr(fname, blob)
        w.writestr(SIGNATURE_FILE, json.dumps(doc, indent=2))
    return out.getvalue()


async def export_bundle(engine: Any, deployments: list[str]) -> bytes:
    """Build a bundle of the given deployments of ``engine``'s runtime.

    Raises:
        KitError: an unknown deployment.
    """
    files: dict[str, bytes] = {}
    deps: list[dict[str, Any]] = []
    plugins: dict[str, Any] = {}
    profiles: dict[str, Any] = {}
    library = engine.runtime.library.profiles()
    for dep_id in deployments:
        rec = await engine.store.get(dep_id)
        if rec is None:
            raise KitError(f"no deployment {dep_id!r}; `kit deployments` lists them")
        lr = parse_recipe(rec["recipe_text"], rec["recipe_filename"])
        recipe_file = f"recipes/{lr.recipe.id}-{lr.recipe.version}.yaml"
        files[recipe_file] = lr.text.encode()
        params: dict[str, Any] = {}
        blanked: list[dict[str, Any]] = []
        site_specific = site_parameters(lr.recipe)
        for name, value in rec["params"].items():
            if name in site_specific:
                params[name] = BLANK
                blanked.append(blank_entry(lr.recipe, name, site_specific[name]))
            else:
                params[name] = value
        if rec.get("report"):
            # The reports name the lighthouse's devices and assets: its values are scrubbed.
            texts = scrub_values([rec["params"].get(b["name"]) for b in blanked])
            files[f"reports/{rec['id']}.json"] = json.dumps(
                scrub(rec["report"], texts), indent=2
            ).encode()
            files[f"reports/{rec['id']}.md"] = scrub(report_markdown(rec), texts).encode()
        deps.append(
            {
                "id": rec["id"],
                "recipe": lr.recipe.id,
                "version": lr.recipe.version,
                "recipe_file": recipe_file,
                "digest": rec["digest"],
                "params": params,
                "blanked": blanked,
                "components": [c["name"] for c in rec["components"]],
                "report": f"reports/{rec['id']}.json" if rec.get("report") else None,
            }
        )
        for p in rec.get("plugins", []):
            plugins[p["distribution"]] = {
                k: p[k] for k in ("distribution", "version", "sha256")
            } | {
                "types": sorted(
                    set(plugins.get(p["distribution"], {}).get("types", [])) | {p["type"]}
                )
            }
        for a in rec["assets"].values():
            pid = a.get("profile")
            if pid and pid in library.files:
                files[f"profiles/{pid}.yaml"] = library.files[pid].read_bytes()
                profiles[pid] = {"file": f"profiles/{pid}.yaml", "origin": library.origins[pid]}
    body = {
        "format": FORMAT,
        "deployments": deps,
        "plugins": sorted(plugins.values(), key=lambda p: p["distribution"]),
        "profiles": [{"id": k, **v} for k, v in sorted(profiles.items())],
    }
    files["bundle.json"] = json.dumps(body, indent=2).encode()
    manifest = {
        "format": FORMAT,
        "created": utcnow().isoformat(),
        "kit_version": __version__,
        "site": engine.runtime.settings.site,
        "files": file_hashes(files),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(MANIFEST, json.dumps(manifest, indent=2))
        for name, data in sorted(files.items()):
            z.writestr(name, data)
    return buf.getvalue()


def open_bundle(
    data: bytes, name: str = "bundle", keys: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, bytes], str]:
    """Read and verify a bundle (``keys``: the site's trusted keys, for the signature).

    Returns:
        ``(manifest, files, signature status)``.

    Raises:
        BundleError: not a bundle, or any file added, missing or changed since export.
    """
    opened = open_zip(data, name, _KIND)
    status = verify_signature(opened.raw_manifest, opened.signature, keys)
    return opened.manifest, opened.files, status


class _Blanked(BaseModel):
    model_config = ConfigDict(extra="allow")
    name: str
    prompt: str = ""


class _Deployment(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    recipe_file: str
    version: str = ""
    digest: str = ""
    params: dict[str, Any] = {}
    blanked: list[_Blanked] = []


class _Plugin(BaseModel):
    model_config = ConfigDict(extra="allow")
    distribution: str
    version: str
    sha256: str | None = None
    types: list[str] = []


class _ProfileRef(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    file: str


class _Body(BaseModel):
    """The shape of ``bundle.json`` this module reads (more keys are allowed)."""

    model_config = ConfigDict(extra="allow")

    deployments: list[_Deployment]
    plugins: list[_Plugin] = []
    profiles: list[_ProfileRef] = []


def bundle_body(files: dict[str, bytes], name: str = "bundle") -> dict[str, Any]:
    """``bundle.json`` of an opened bundle, checked for the shape and files it refers to.

    Raises:
        BundleError: missing, not JSON, a field of the wrong type, or a referenced file
            that is not in the bundle — each as ``name/bundle.json:1: field: message``.
    """
    where = f"{name}/bundle.json"
    try:
        body = json.loads(files["bundle.json"])
    except KeyError:
        raise BundleError(f"{name}: not a kit bundle (no bundle.json)") from None
    except (ValueError, RecursionError) as exc:
        raise BundleError(f"{where}:1: (top level): not JSON ({exc})") from None
    try:
        # The validated copy, defaults filled, so readers below index it without guarding.
        body = _Body.model_validate(body).model_dump()
    except ValidationError as exc:
        problems = [f"{where}:1: {_dotted(e['loc'])}: {e['msg']}" for e in exc.errors()]
        raise BundleError(f"{where}: {len(problems)} problem(s)", problems) from None
    missing = [
        f"{where}:1: {field}: {f!r} is not in the bundle"
        for field, f in [
            *(
                (f"deployments[{i}].recipe_file", d["recipe_file"])
                for i, d in enumerate(body["deployments"])
            ),
            *((f"profiles[{i}].file", p["file"]) for i, p in enumerate(body["profiles"])),
        ]
        if f not in files
    ]
    if missing:
        raise BundleError(f"{where}: {len(missing)} problem(s)", missing)
    return body


def _dotted(loc: tuple[Any, ...]) -> str:
    from kit.yamlfiles import dotted

    return dotted([p for p in loc])


def _text(files: dict[str, bytes], name: str) -> str:
    from kit.yamlfiles import decode_text

    return decode_text(files[name], name)


def bundle_recipes(
    data: bytes, name: str = "bundle", keys: dict[str, Any] | None = None
) -> list[LoadedRecipe]:
    """Every deployment's recipe of a bundle, shape-checked (pass 1), in bundle order.

    Raises:
        BundleError / ConfigError: a tampered or malformed bundle, or a recipe text that is
            not valid (``file:line: field: message``, the file named as in the bundle).
    """
    from kit.yamlfiles import decode_text

    _, files, _ = open_bundle(data, name, keys)
    body = bundle_body(files, name)
    return [
        parse_recipe(decode_text(files[d["recipe_file"]], d["recipe_file"]), d["recipe_file"])
        for d in body["deployments"]
    ]


def inspect_bundle(
    data: bytes,
    library: Any,
    site_records: list[dict[str, Any]] | None = None,
    name: str = "bundle",
    keys: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What a bundle contains, what this site lacks, and how it differs from what runs here.

    Args:
        library: this site's :class:`kit.library.Library`.
        keys: this site's trusted keys (signature check).
    """
    manifest, files, sig = open_bundle(data, name, keys)
    body = bundle_body(files, name)
    installed: dict[str, str | None] = {}
    for dist in {p["distribution"] for p in body["plugins"]}:
        try:
            installed[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            installed[dist] = None
    plugin_rows, missing = [], []
    for p in body["plugins"]:
        have = installed.get(p["distribution"])
        fp = dist_fingerprint(p["distribution"]) if have else None
        if p["distribution"].startswith("("):  # registered in-process: cannot be checked
            state = "not a distribution"
        elif have is None:
            state = "missing"
        elif have != p["version"]:
            state = f"version {have} installed"
        elif p.get("sha256") and fp and fp != p["sha256"]:
            state = "same version, different files"
        else:
            state = "ok"
        if state == "missing" or state.startswith("version"):
            missing.append(
                f"{p['distribution']}=={p['version']} ({state}; provides {', '.join(p['types'])})"
            )
        plugin_rows.append({**p, "installed": have, "state": state})
    profiles = library.profiles()
    profile_rows = []
    for prof in body["profiles"]:
        here = profiles.files.get(prof["id"])
        # A profile this site lacks (typically the exporting site's own) is not missing:
        # install puts the bundle's copy into this site's library (<data dir>/profiles).
        state = (
            "added to the site library on install"
            if here is None
            else (
                "ok"
                if sha256_hex(here.read_bytes()) == sha256_hex(files[prof["file"]])
                else "differs from this site's copy"
            )
        )
        profile_rows.append({**prof, "state": state})
    records = {r["id"]: r for r in site_records or []}
    diff = []
    for d in body["deployments"]:
        rec = records.get(d["id"])
        if rec is None:
            diff.append({"deployment": d["id"], "state": "not installed here"})
            continue
        # Site values never count, also those an older bundle did not blank yet.
        blanked = {b["name"] for b in d["blanked"]} | set(
            site_parameters(parse_recipe(_text(files, d["recipe_file"]), d["recipe_file"]).recipe)
        )
        changes = []
        if rec["version"] != d["version"]:
            changes.append(f"recipe version {rec['version']} here, {d['version']} in bundle")
        elif rec["digest"] != d["digest"]:
            changes.append("recipe text differs (same version)")
        for k in sorted(set(d["params"]) | set(rec["params"])):
            if k in blanked:
                continue
            if d["params"].get(k) != rec["params"].get(k):
                changes.append(
                    f"{k}: {rec['params'].get(k)!r} here, {d['params'].get(k)!r} in bundle"
                )
        diff.append(
            {"deployment": d["id"], "state": "differs" if changes else "same", "changes": changes}
        )
    return {
        "manifest": {k: v for k, v in manifest.items() if k != "files"},
        "files": sorted(manifest["files"]),
        "signature": sig,
        "deployments": body["deployments"],
        "plugins": plugin_rows,
        "profiles": profile_rows,
        "missing": missing,
        "diff": diff,
    }


async def install_bundle(
    engine: Any,
    data: bytes,
    values: dict[str, dict[str, Any]] | None = None,
    **options: Any,
) -> dict[str, Any]:
    """Install every deployment of a bundle, all or nothing (:func:`kit.recipes.bundle_install.install`)."""
    from kit.recipes.bundle_install import install

    return await install(engine, data, values, **options)


def encode(data: bytes) -> str:
    """Bundle bytes → text for the JSON control API."""
    return base64.b64encode(data).decode()


def decode(text: str) -> bytes:
    """Text from the control API → bundle bytes."""
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise BundleError("bundle data is not valid base64") from None
