"""Evidence packs from a pilot on a simulated machine (issue 15, "Done when"): a pack
verifies at a second site and recomputes the same statistics, tampering fails verify,
redaction hides the site's names and still verifies, the gate to scale attaches only
evidence that meets its goal, and a lighthouse bundle carries it end to end.

Site A (the ``site`` fixture, conftest.py) has the known change of test_pilot_report.py
written into its history (pilot_sim), a pilot, a signing key, one report and one pack.
"""

from __future__ import annotations

import io
import json
import random
import statistics
import zipfile
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from pilot_sim import ASSET, DAYS, NOW, SHIFT, START, kit, simulate, start_pilot

from kit.cli import cli
from kit.trust.signing import new_keypair
from kit.trust.truststore import trust_key


def test_pack_verifies_at_a_second_site_and_recomputes_the_same(site):
    r = kit(site["data"], "evidence", "verify", str(site["pack"]))  # at home: its own key
    assert r.exit_code == 0 and "(this site's own key)" in r.output, r.output
    b = site["tmp"] / "b"
    r = kit(b, "evidence", "verify", str(site["pack"]))
    assert r.exit_code == 1 and "not in the trust store" in r.output  # B does not trust A yet
    trust_key(b, site["data"] / "keys" / "site.pub", "vendor")
    r = kit(b, "evidence", "verify", str(site["pack"]), "--json")
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["ok"] and [c["check"] for c in out["checks"]] == [
        "integrity",
        "signature",
        "statistics",
    ]
    a = site["report"]
    for g_b, g_a in zip(out["recomputed"]["goals"], a["goals"]):
        for k in ("change", "ci_low", "ci_high", "baseline_mean", "pilot_mean"):
            assert g_b[k] == pytest.approx(g_a["comparison"][k], rel=1e-12)
    with zipfile.ZipFile(site["pack"]) as z:
        names = set(z.namelist())
    assert {
        "report.html",
        "report.json",
        "results.json",
        "pilot.json",
        "versions.json",
        "kpi/downtime_s-baseline.csv",
        "kpi/downtime_s-pilot.csv",
        "charts/downtime_s-trend.svg",
        "manifest.json",
        "manifest.sig",
    } <= names


def _rezip(src: Path, dst: Path, change) -> None:
    with zipfile.ZipFile(src) as z:
        files = {n: z.read(n) for n in z.namelist()}
    files = change(files)
    with zipfile.ZipFile(dst, "w") as w:
        for n, d in files.items():
            w.writestr(n, d)


def _bump_one_value(files: dict) -> dict:
    name = "kpi/downtime_s-pilot.csv"
    lines = files[name].decode().splitlines()
    # The final figure of the pilot's first shift (its window's last row; rows are in time order).
    i = max(n for n, line in enumerate(lines) if line.endswith(f",shift:{START:%Y-%m-%d-%H}"))
    cols = lines[i].split(",")
    cols[2] = str(float(cols[2]) + 1.0)  # one KPI value changed by 1 s
    lines[i] = ",".join(cols)
    files[name] = ("\n".join(lines) + "\n").encode()
    return files


def test_tampered_pack_fails_verify(site):
    b = site["tmp"] / "b2"
    trust_key(b, site["data"] / "keys" / "site.pub", "vendor")
    bad = site["tmp"] / "bad.kitevidence"
    _rezip(site["pack"], bad, _bump_one_value)
    r = kit(b, "evidence", "verify", str(bad))
    assert r.exit_code == 1 and "FAIL integrity" in r.output and "downtime_s-pilot.csv" in r.output

    # Manifest hashes updated to hide it: the signature no longer matches.
    import hashlib

    def rehash(files: dict) -> dict:
        files = _bump_one_value(files)
        man = json.loads(files["manifest.json"])
        man["files"]["kpi/downtime_s-pilot.csv"] = hashlib.sha256(
            files["kpi/downtime_s-pilot.csv"]
        ).hexdigest()
        files["manifest.json"] = json.dumps(man, indent=2, sort_keys=True).encode()
        return files

    _rezip(site["pack"], bad, rehash)
    r = kit(b, "evidence", "verify", str(bad))
    assert r.exit_code == 1 and "FAIL signature" in r.output

    # The site itself re-signs changed rows with stale results: the recomputation catches it.
    from kit.evidence import load_key, read_pack, write_pack

    pack = read_pack(site["pack"].read_bytes())
    files = _bump_one_value(dict(pack.files))
    info = {k: v for k, v in pack.manifest.items() if k not in ("format", "created", "files")}
    bad.write_bytes(write_pack(files, info, load_key(site["data"] / "keys" / "site.key")))
    r = kit(b, "evidence", "verify", str(bad))
    assert r.exit_code == 1 and "ok   signature" in r.output and "FAIL statistics" in r.output


def test_redacted_pack_hides_site_names_and_still_verifies(site):
    red = site["tmp"] / "red.kitevidence"
    r = kit(site["data"], "evidence", "redact", str(site["pack"]), "-o", str(red))
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(red) as z:
        blob = b"".join(z.read(n) for n in z.namelist())
        man = json.loads(z.read("manifest.json"))
    for secret in (b"acme", b"press7", b"maria.k", b"hall3"):
        assert secret not in blob
    assert man["redaction"]["redacted"] and man["redaction"]["signed_after_redaction"]
    b = site["tmp"] / "b3"
    trust_key(b, site["data"] / "keys" / "site.pub", "vendor")
    r = kit(b, "evidence", "verify", str(red))
    assert r.exit_code == 0, r.output
    # Stable pseudonyms: redacting again gives the same names.
    red2 = site["tmp"] / "red2.kitevidence"
    kit(site["data"], "evidence", "redact", str(site["pack"]), "-o", str(red2))
    with zipfile.ZipFile(red) as z1, zipfile.ZipFile(red2) as z2:
        assert z1.read("pilot.json") == z2.read("pilot.json")
        assert json.loads(z1.read("pilot.json"))["assets"][0].count("/") == 3


def test_gate_to_scale_attaches_only_evidence_that_meets_its_goal(site, tmp_path):
    from kit.evidence import EvidenceError, load_key
    from kit.recipes.bundle import open_bundle
    from kit.recipes.bundle_evidence import attach_evidence, evidence_lines

    bundle = _empty_bundle()
    keys_dir = site["data"]
    own = load_key(site["data"] / "keys" / "site.key")
    out = attach_evidence(bundle, site["pack"].read_bytes(), keys_dir, own)
    manifest, files, _ = open_bundle(out)  # still a valid bundle, the pack listed and hashed
    assert "evidence/press.kitevidence" in manifest["files"]
    b = site["tmp"] / "b4"
    trust_key(b, site["data"] / "keys" / "site.pub", "vendor")
    lines = evidence_lines(out, b)
    text = "\n".join(lines)
    assert "evidence press: goal met" in text and "downtime_s:-25%" in text
    assert "signed by" in text and "NOT TRUSTED" not in text
    # A pilot with no significant change is refused at the gate.
    data = tmp_path / "d"
    simulate(data / "history", START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=3)
    simulate(data / "history", START, 3 * DAYS, 2.0, 0.50, seed=4)
    start_pilot(data, "same")
    (data / "keys").mkdir()
    for f in ("site.key", "site.pub"):
        (data / "keys" / f).write_bytes((site["data"] / "keys" / f).read_bytes())
    pack = tmp_path / "same.kitevidence"
    assert (
        kit(data, "pilot", "pack", "same", "-o", str(pack), "--now", NOW.isoformat()).exit_code == 0
    )
    with pytest.raises(EvidenceError, match="does not meet its goal"):
        attach_evidence(bundle, pack.read_bytes(), keys_dir, own)


def _empty_bundle() -> bytes:
    import hashlib

    body = json.dumps(
        {"format": "kit-bundle/1", "deployments": [], "plugins": [], "profiles": []}
    ).encode()
    man = {
        "format": "kit-bundle/1",
        "created": START.isoformat(),
        "kit_version": "0",
        "site": "acme",
        "files": {"bundle.json": hashlib.sha256(body).hexdigest()},
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("manifest.json", json.dumps(man))
        z.writestr("bundle.json", body)
    return buf.getvalue()


async def _kit_proc(*args: str, env: dict[str, str]) -> tuple[int, str, str]:
    """The CLI in a worker thread (its own event loop), beside the runtime in this one."""
    import asyncio

    r = await asyncio.to_thread(CliRunner().invoke, cli, list(args), env=env)
    return r.exit_code, r.output, str(r.exception or "")


async def test_lighthouse_bundle_carries_the_evidence_end_to_end(
    kit_settings, make_runtime, tmp_path
):
    """A real runtime with a commissioned deployment: the pack fetches it (recipe, plugin
    versions, commissioning report), the bundle export attaches the pack, show summarises it."""
    rt = await make_runtime(kit_settings)
    data = tmp_path / "cli"
    env = {"KIT_NATS_URL": rt.url, "KIT_DATA_DIR": str(data), "KIT_SITE": "acme"}
    code, out, err = await _kit_proc(
        "install",
        "synthetic-machine-watch",
        "--set",
        "interval=0.1",
        "--set",
        "machine=Press 7",
        "--yes",
        "--check-duration",
        "1",
        env=env,
    )
    assert code == 0, err
    dep = "synthetic-machine-watch-press_7"
    simulate(data / "history", START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=1)
    simulate(data / "history", START, 3 * DAYS, 1.2, 0.46, seed=2)
    new_keypair(data / "keys", "site", "Acme")
    code, out, err = await _kit_proc(
        "pilot",
        "start",
        "press",
        "--asset",
        ASSET,
        "--deployments",
        dep,
        "--kpi",
        "downtime_s:-25%",
        "--baseline",
        f"{DAYS}d",
        "--period",
        f"{DAYS}d",
        "--tz",
        "UTC",
        "--now",
        START.isoformat(),
        env=env,
    )
    assert code == 0, err
    pack = tmp_path / "press.kitevidence"
    code, out, err = await _kit_proc(
        "pilot", "pack", "press", "-o", str(pack), "--now", NOW.isoformat(), env=env
    )
    assert code == 0 and "goal met" in out and "not included" not in out, (out, err)
    with zipfile.ZipFile(pack) as z:
        names = z.namelist()
    assert "bundle/deployments.kitbundle" in names and f"commissioning/{dep}.json" in names
    bundle = tmp_path / "lighthouse.kitbundle"
    code, out, err = await _kit_proc(
        "bundle", "export", dep, "-o", str(bundle), "--evidence", str(pack), env=env
    )
    assert code == 0, err
    code, out, err = await _kit_proc("bundle", "show", str(bundle), env=env)
    assert code == 0, err
    assert "evidence press: goal met" in out and "downtime_s:-25%" in out and "decrease" in out
    # Redacted for sharing: the site, asset and deployment names are gone from every file,
    # the nested bundle's included; it still verifies (signed again after redaction).
    red = tmp_path / "shared.kitevidence"
    code, out, err = await _kit_proc("evidence", "redact", str(pack), "-o", str(red), env=env)
    assert code == 0, (out, err)
    blob = _all_bytes(red.read_bytes())
    for secret in (b"acme", b"press7", b"press_7", b"Press 7"):
        assert secret not in blob, secret
    trust_key(data, data / "keys" / "site.pub", "vendor")
    code, out, err = await _kit_proc("evidence", "verify", str(red), env=env)
    assert code == 0 and "ok   statistics" in out, (out, err)


def _all_bytes(zipped: bytes) -> bytes:
    """Every file's bytes, nested zips (the bundle) unpacked too."""
    out = []
    with zipfile.ZipFile(io.BytesIO(zipped)) as z:
        for n in z.namelist():
            out.append(n.encode())
            d = z.read(n)
            out.append(_all_bytes(d) if d[:2] == b"PK" else d)
    return b"".join(out)


def test_pack_with_an_imported_baseline_verifies(tmp_path):
    data = tmp_path / "d"
    pil = simulate(data / "history", START, 3 * DAYS, 1.2, 0.46, seed=2)
    rnd = random.Random(8)
    rows = [
        (START - timedelta(days=20) + i * SHIFT, 0.50 * (1 + rnd.gauss(0, 0.03))) for i in range(40)
    ]
    csv_file = tmp_path / "before.csv"
    csv_file.write_text(
        "shift_start,kpi,value\n"
        + "".join(f"{t.isoformat()},energy_per_part_kwh,{v!r}\n" for t, v in rows)
    )
    r = kit(
        data,
        "pilot",
        "start",
        "imp",
        "--asset",
        ASSET,
        "--kpi",
        "energy_per_part_kwh:-5%",
        "--baseline",
        f"import:{csv_file}",
        "--period",
        f"{DAYS}d",
        "--tz",
        "UTC",
        "--now",
        START.isoformat(),
    )
    assert r.exit_code == 0, r.output
    new_keypair(data / "keys", "site")
    pack = tmp_path / "imp.kitevidence"
    assert (
        kit(data, "pilot", "pack", "imp", "-o", str(pack), "--now", NOW.isoformat()).exit_code == 0
    )
    r = kit(data, "evidence", "verify", str(pack), "--json")
    assert r.exit_code == 0, r.output
    g = json.loads(r.output)["recomputed"]["goals"][0]
    ref = statistics.fmean(pil["energy_per_part_kwh"]) - statistics.fmean(v for _, v in rows)
    assert g["change"] == pytest.approx(ref, rel=1e-9) and g["verdict"] == "decrease"
