"""A pilot's evidence pack: the report, the KPI rows it was computed from, versions,
deployments and commissioning reports — signed (:mod:`kit.evidence`), optionally with
site-identifying values replaced by stable pseudonyms before signing.

Files in the pack::

    pilot.json                 the pilot record (goal, windows, context, money inputs)
    report.json, report.html   the report; charts/<kpi>-{trend,distribution}.svg
    results.json               the figures the report states (what a verifier reproduces)
    kpi/<kpi>-<window>.csv     every KPI row used: ts, asset, value, quality, unit, window
    versions.json              kit distributions installed here (version, RECORD hash)
    bundle/deployments.kitbundle   the pilot's deployments (recipes, values, plugin
                               versions) when given or fetched from the running runtime
    commissioning/<id>.{json,md}   their commissioning reports (copied out of the bundle)
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from kit.evidence import (
    installed_versions,
    key_id_of,
    pseudonym,
    pseudonym_secret,
    write_pack,
)
from kit_pilot.charts import distribution_svg, trend_svg
from kit_pilot.html import render_html
from kit_pilot.progress import KpiProgress, progress
from kit_pilot.report import build_report, stated, summary
from kit_pilot.store import Pilot

KIND = "pilot-evidence"
_TEXT = (".json", ".csv", ".html", ".svg", ".md", ".yaml", ".yml", ".txt")
_IP = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")


def make_report(
    pilot: Pilot, history: Path, now: datetime, *, product_mix: str | None = None
) -> dict[str, Any]:
    """The report of ``pilot`` from the historian at ``history`` up to ``now``."""
    return build_report(pilot, progress(pilot, history, now), now, product_mix=product_mix)


def _csv(df: pl.DataFrame) -> bytes:
    # Floats written at full precision (shortest round trip): the verifier reads the same values.
    return df.sort("ts", "asset").write_csv(float_precision=None).encode()


def pack_files(
    pilot: Pilot,
    results: list[KpiProgress],
    report: dict[str, Any],
    bundle: bytes | None = None,
) -> dict[str, bytes]:
    """Every file of the pack (unsigned, unredacted)."""
    files: dict[str, bytes] = {
        "pilot.json": pilot.model_dump_json(by_alias=True, indent=2).encode(),
        "report.json": json.dumps(report, indent=1, default=str).encode(),
        "report.html": render_html(report).encode(),
        "results.json": json.dumps(stated(report), indent=1, default=str).encode(),
        "versions.json": json.dumps(installed_versions(), indent=1).encode(),
    }
    for g in report["goals"]:
        files[f"charts/{g['kpi']}-trend.svg"] = trend_svg(g).encode()
        files[f"charts/{g['kpi']}-distribution.svg"] = distribution_svg(g).encode()
    for r in results:
        for name, s in (("baseline", r.baseline), ("pilot", r.pilot)):
            if s is not None and s.rows is not None:
                files[f"kpi/{r.kpi}-{name}.csv"] = _csv(s.rows)
    if bundle is not None:
        files["bundle/deployments.kitbundle"] = bundle
        with zipfile.ZipFile(io.BytesIO(bundle)) as z:
            for n in z.namelist():
                if n.startswith("reports/"):
                    files["commissioning/" + n.removeprefix("reports/")] = z.read(n)
    return files


def identifying(pilot: Pilot, files: dict[str, bytes]) -> dict[str, str]:
    """Site-identifying strings of a pack → their kind (asset, site, owner, deployment, host)."""
    found: dict[str, str] = {}
    params: list[str] = []
    for a in pilot.assets:
        found[a] = "asset"
        found[a.replace("/", ".")] = "asset"
    found[pilot.owner] = "person"
    for d in pilot.deployments:
        found[d] = "deployment"
    b = files.get("bundle/deployments.kitbundle")
    if b is not None:
        with zipfile.ZipFile(io.BytesIO(b)) as z:
            man = json.loads(z.read("manifest.json"))
            if man.get("site"):
                found[str(man["site"])] = "site"
            if "bundle.json" in z.namelist():
                for d in json.loads(z.read("bundle.json")).get("deployments", []):
                    found[str(d.get("id"))] = "deployment"
                    for k, v in (d.get("params") or {}).items():
                        if isinstance(v, str) and v and _HOST_KEY.search(k):
                            found[v] = "host"
                        elif isinstance(v, str) and v:
                            params.append(v)
            for n in z.namelist():
                if n.endswith(".json") and n != "manifest.json":
                    _hosts(json.loads(z.read(n)), found)
    for name, data in files.items():
        if name.endswith(".json") and name not in ("report.json", "results.json"):
            _hosts(json.loads(data), found)
        for ip in _IP.findall(data.decode("utf-8", "replace")):
            found[ip] = "host"
    # A parameter whose value names an asset ("Press 7" → …/press_7) is a name too.
    tokens = {t for k, kind in found.items() if kind == "asset" for t in re.split(r"[/.]", k)}
    for v in params:
        if re.sub(r"[^a-z0-9]+", "_", v.lower()).strip("_") in tokens:
            found[v] = "asset"
    # Never a word the pack's own structure uses (a person called "pilot" must not rename
    # the JSON keys).
    reserved: set[str] = set()
    for n in ("report.json", "pilot.json"):
        if n in files:
            _keys(json.loads(files[n]), reserved)
    return {k: v for k, v in found.items() if k and len(k) >= 2 and k not in reserved}


_HOST_KEY = re.compile(r"host|addr|ip$|url|endpoint|server", re.IGNORECASE)
#: The kit's asset paths: site/area/line/machine.
_ASSET = re.compile(r"^[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+){3}$")


def _hosts(obj: Any, found: dict[str, str]) -> None:
    """String values under host-like keys, and asset paths (as keys or values), anywhere in
    a JSON document (commissioning reports name the devices and assets they reached)."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if _ASSET.match(str(k)):
                found[str(k)] = "asset"
            if isinstance(v, str) and v and _HOST_KEY.search(str(k)):
                found[v] = "host"
            else:
                _hosts(v, found)
    elif isinstance(obj, list):
        for v in obj:
            _hosts(v, found)
    elif isinstance(obj, str) and _ASSET.match(obj):
        found[obj] = "asset"


def _keys(obj: Any, out: set[str]) -> None:
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.add(str(k))
            _keys(v, out)
    elif isinstance(obj, list):
        for v in obj:
            _keys(v, out)


def _mapping(secret: bytes, found: dict[str, str]) -> dict[str, str]:
    """Pseudonyms; asset paths map token by token so they stay valid, comparable paths."""
    out: dict[str, str] = {}
    for value, kind in found.items():
        if kind == "asset":
            sep = "/" if "/" in value else "."
            names = ("site", "area", "line", "asset")
            toks = value.split(sep)
            out[value] = sep.join(
                pseudonym(secret, names[min(i, 3)], "/".join(toks[: i + 1]))
                for i in range(len(toks))
            )
        else:
            out[value] = pseudonym(secret, kind, value)
    return out


def _replace_all(text: str, mapping: dict[str, str]) -> str:
    if not mapping:
        return text
    # Longest first, whole "words" only (an asset "l1" must not change "l10" or "file1").
    pat = re.compile(
        "|".join(
            rf"(?<![A-Za-z0-9_]){re.escape(k)}(?![A-Za-z0-9_])"
            for k in sorted(mapping, key=len, reverse=True)
        )
    )
    return pat.sub(lambda m: mapping[m.group(0)], text)


def redact_files(
    pilot: Pilot, files: dict[str, bytes], key: Any
) -> tuple[dict[str, bytes], dict[str, Any], dict[str, str]]:
    """``files`` with site-identifying values replaced; returns them, the redaction note
    and the mapping (original → pseudonym; never written anywhere)."""
    secret = pseudonym_secret(key)
    found = identifying(pilot, files)
    mapping = _mapping(secret, found)
    out: dict[str, bytes] = {}
    for name, data in files.items():
        if name.endswith(".kitbundle"):
            out[name] = _redact_bundle(data, mapping)
        elif name.endswith(_TEXT):
            out[_replace_all(name, mapping)] = _replace_all(data.decode("utf-8"), mapping).encode()
        else:
            out[name] = data
    kinds = sorted(set(found.values()))
    note = {
        "redacted": True,
        "kinds": kinds,
        "count": len(mapping),
        "method": "stable pseudonyms (HMAC-SHA-256 keyed by the site's signing key); "
        "asset paths pseudonymised level by level",
        "signed_after_redaction": True,
    }
    return out, note, mapping


def _redact_bundle(data: bytes, mapping: dict[str, str]) -> bytes:
    """The bundle's text files redacted and its manifest re-hashed; its own signature (if
    any) is dropped — it covered the unredacted files; the pack's signature covers these."""
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        contents = {n: z.read(n) for n in z.namelist() if n not in ("manifest.sig",)}
    man = json.loads(contents.pop("manifest.json"))
    new = {
        _replace_all(n, mapping): _replace_all(d.decode("utf-8"), mapping).encode()
        for n, d in contents.items()
    }
    man = json.loads(_replace_all(json.dumps(man), mapping))
    man["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in sorted(new.items())}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as w:
        w.writestr("manifest.json", json.dumps(man, indent=2))
        for n, d in sorted(new.items()):
            w.writestr(n, d)
    return buf.getvalue()


def build_pack(
    pilot: Pilot,
    history: Path,
    now: datetime,
    key: Any,
    *,
    product_mix: str | None = None,
    bundle: bytes | None = None,
    redact: bool = False,
    signer: str = "",
) -> tuple[bytes, dict[str, Any]]:
    """The signed pack of ``pilot`` and its report (redacted before signing if ``redact``)."""
    results = progress(pilot, history, now)
    report = build_report(pilot, results, now, product_mix=product_mix)
    files = pack_files(pilot, results, report, bundle)
    info: dict[str, Any] = {
        "kind": KIND,
        "summary": summary(report),
        "signer_key": key_id_of(key),
        "redaction": {"redacted": False},
        "proves": "the stated statistics follow from the included KPI rows, and this site "
        "signed them; not that the rows are true measurements, nor what caused the change",
    }
    if redact:
        files, info = _redacted(pilot, files, info, key)
    return write_pack(files, info, key, signer), report


def _redacted(
    pilot: Pilot, files: dict[str, bytes], info: dict[str, Any], key: Any
) -> tuple[dict[str, bytes], dict[str, Any]]:
    files, note, mapping = redact_files(pilot, files, key)
    info = json.loads(_replace_all(json.dumps(info), mapping))
    info["redaction"] = note
    return files, info


def redact_pack(data: bytes, key: Any, data_dir: Path, name: str = "pack") -> bytes:
    """A redacted copy of a signed pack, signed again with ``key`` after redaction.

    The source must be intact and signed by a key this site trusts or by ``key`` itself.

    Raises:
        EvidenceError: a modified or untrusted source, or one already redacted.
    """
    from kit.evidence import EvidenceError, check_signature, read_pack

    pack = read_pack(data, name)
    check_signature(pack, data_dir, own_key=key)
    if pack.manifest.get("redaction", {}).get("redacted"):
        raise EvidenceError(f"{name}: already redacted")
    pilot = Pilot.model_validate(pack.json("pilot.json"))
    info = {k: v for k, v in pack.manifest.items() if k not in ("format", "created", "files")}
    info["redacted_from"] = {"manifest_sha256": hashlib.sha256(pack.raw_manifest).hexdigest()}
    files, info = _redacted(pilot, pack.files, info, key)
    info["signer_key"] = key_id_of(key)
    return write_pack(files, info, key)
