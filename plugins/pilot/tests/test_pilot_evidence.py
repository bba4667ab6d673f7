"""Pilot report and evidence packs on a simulated machine with a fake clock (issue 15, "Done
when"): KPI rows are written straight into the historian's store as the OEE and energy
plugins publish them (a running figure per shift window every 10 minutes, the final one at
the shift's end, plus a rolling window), for 14 days of baseline and 14 of pilot — no waiting.

The simulated machine: stops arrive at random (Poisson, ``rate`` per hour, each lasting an
exponential time of mean 90 s); energy per part varies ±3 % from shift to shift around its
true level. The pilot lowers the stop rate from 2.0 to 1.2 per hour (true downtime change
−576 s per shift) and energy per part from 0.50 to 0.46 kWh (−0.04, −8 %).
"""

from __future__ import annotations

import io
import json
import random
import statistics
import subprocess
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from kit_historian.storage import RowBuffer, Store

from kit.cli import cli
from kit.payloads import KpiValue
from kit.testing_tools import chromium
from kit.trust.signing import new_keypair
from kit.trust.truststore import trust_key

ASSET = "acme/hall3/line2/press7"
START = datetime(2026, 11, 15, 6, 0, tzinfo=UTC)
SHIFT = timedelta(hours=8)
MEAN_STOP_S = 90.0
DAYS = 14


def simulate(
    root: Path,
    first: datetime,
    shifts: int,
    rate: float,
    kwh: float,
    *,
    seed: int,
    drop: float = 0.0,
) -> dict[str, list[float]]:
    """Write the machine's KPI rows; return each shift's final figures (the reference)."""
    rnd = random.Random(seed)
    store, buf = Store(root, "kpi"), RowBuffer()
    store.recover()  # the high-water mark: a second write must not reuse the part file names
    seq = store.hwm
    finals: dict[str, list[float]] = {"downtime_s": [], "energy_per_part_kwh": []}

    def put(kpi: str, v: float, unit: str | None, window: str, ts: datetime) -> None:
        nonlocal seq
        if drop and rnd.random() < drop:
            return
        seq += 1
        buf.add_kpi(
            KpiValue(kpi=kpi, asset=ASSET, value=v, unit=unit, window=window, ts=ts, source="sim"),
            seq,
        )

    for i in range(shifts):
        t0 = first + i * SHIFT
        window = f"shift:{t0:%Y-%m-%d-%H}"
        stops, t = [], rnd.expovariate(rate / 3600)
        while t < 8 * 3600:
            stops.append((t, rnd.expovariate(1 / MEAN_STOP_S)))
            t += rnd.expovariate(rate / 3600)
        e = kwh * (1 + rnd.gauss(0, 0.03))
        for k in range(1, 49):  # every 10 min; the 48th at the shift's end
            ts = t0 + timedelta(minutes=10 * k)
            down = sum(d for s, d in stops if s < k * 600)
            epp = e * (1 + rnd.gauss(0, 0.2) / k)  # running figure, settles as parts add up
            put("downtime_s", down, "s", window, ts)
            put("energy_per_part_kwh", epp, "kWh", window, ts)
            put("downtime_s", down * 0.5, "s", "rolling", ts)  # must not be mixed in
        finals["downtime_s"].append(sum(d for _, d in stops))
        finals["energy_per_part_kwh"].append(epp)
    store.write(buf.frame(), store.hwm + 1, seq)
    store.hwm = seq
    return finals


def kit(data: Path, *args: str) -> object:
    return CliRunner().invoke(cli, list(args), env={"KIT_DATA_DIR": str(data)})


def start_pilot(data: Path, name: str) -> None:
    r = kit(
        data,
        "pilot",
        "start",
        name,
        "--asset",
        ASSET,
        "--kpi",
        "downtime_s:-25%",
        "--kpi",
        "energy_per_part_kwh:-5%",
        "--baseline",
        f"{DAYS}d",
        "--period",
        f"{DAYS}d",
        "--tz",
        "UTC",
        "--owner",
        "maria.k",
        "--product-mix",
        "A-200 only",
        "--tariff",
        "0.20",
        "--parts-per-shift",
        "4000",
        "--downtime-cost",
        "600",
        "--now",
        START.isoformat(),
    )
    assert r.exit_code == 0, r.output


NOW = START + timedelta(days=DAYS, hours=1)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Site A: history with the known change, a pilot, a signing key, one report and pack."""
    tmp = tmp_path_factory.mktemp("site")
    data = tmp / "a"
    hist = data / "history"
    base = simulate(hist, START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=1)
    pil = simulate(hist, START, 3 * DAYS, 1.2, 0.46, seed=2)
    start_pilot(data, "press")
    new_keypair(data / "keys", "site", "Acme Hall 3")
    out = tmp / "report"
    r = kit(
        data,
        "pilot",
        "report",
        "press",
        "-o",
        str(out),
        "--product-mix",
        "A-200 only",
        "--now",
        NOW.isoformat(),
    )
    assert r.exit_code == 0, r.output
    pack = tmp / "press.kitevidence"
    r = kit(
        data,
        "pilot",
        "pack",
        "press",
        "-o",
        str(pack),
        "--product-mix",
        "A-200 only",
        "--now",
        NOW.isoformat(),
    )
    assert r.exit_code == 0, r.output
    return {
        "data": data,
        "tmp": tmp,
        "base": base,
        "pilot": pil,
        "out": out,
        "pack": pack,
        "report": json.loads((out / "report.json").read_text()),
    }


def _goal(report: dict, kpi: str) -> dict:
    return next(g for g in report["goals"] if g["kpi"] == kpi)


@pytest.mark.parametrize(
    ("kpi", "true_change"),
    [("downtime_s", 8 * (1.2 - 2.0) * MEAN_STOP_S), ("energy_per_part_kwh", -0.04)],
)
def test_report_finds_the_known_change_within_its_interval(site, kpi, true_change):
    g = _goal(site["report"], kpi)
    c = g["comparison"]
    ref = statistics.fmean(site["pilot"][kpi]) - statistics.fmean(site["base"][kpi])
    # Per shift: the final figure of each shift window (not the running ones, not rolling).
    assert c["n_baseline"] == 3 * DAYS and c["n_pilot"] == 3 * DAYS
    assert c["baseline_mean"] == pytest.approx(statistics.fmean(site["base"][kpi]), rel=1e-12)
    assert c["change"] == pytest.approx(ref, rel=1e-9)
    assert c["ci_low"] < true_change < c["ci_high"] < 0
    assert c["verdict"] == "decrease" and g["status"] == "target reached" and g["goal_met"]
    assert g["completeness"]["pilot"] > 0.99 and g["warnings"] == []
    assert site["report"]["goal_met"] and site["report"]["warnings"] == []


def test_value_in_money_follows_the_stated_rules(site):
    rep = site["report"]
    d = _goal(rep, "downtime_s")
    e = _goal(rep, "energy_per_part_kwh")
    per_d = -d["comparison"]["change"] / 3600 * 600
    per_e = -e["comparison"]["change"] * 4000 * 0.20
    assert d["value"]["per_shift"] == pytest.approx(per_d)
    assert e["value"]["per_year"] == pytest.approx(per_e * 3 * 250)
    lo, hi = sorted(
        -x / 3600 * 600 for x in (d["comparison"]["ci_low"], d["comparison"]["ci_high"])
    )
    assert d["value"]["per_shift_low"] == pytest.approx(lo) and d["value"][
        "per_shift_high"
    ] == pytest.approx(hi)
    assert rep["money"]["per_year"] == pytest.approx((per_d + per_e) * 750)
    assert any("0.2 GBP/kWh" in a for a in rep["money"]["assumptions"])


def test_no_change_case_and_missing_data_and_confounders(tmp_path):
    data = tmp_path / "d"
    simulate(data / "history", START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=3)
    simulate(data / "history", START, 3 * DAYS, 2.0, 0.50, seed=4, drop=0.4)
    start_pilot(data, "same")
    out = tmp_path / "r"
    r = kit(
        data,
        "pilot",
        "report",
        "same",
        "-o",
        str(out),
        "--product-mix",
        "B-40 mostly",
        "--now",
        NOW.isoformat(),
    )
    assert r.exit_code == 0, r.output
    rep = json.loads((out / "report.json").read_text())
    for g in rep["goals"]:
        assert g["comparison"]["verdict"] == "no significant change", g["goal"]
        assert not g["goal_met"]
        assert 0.55 < g["completeness"]["pilot"] < 0.65
        pct = round(100 * g["completeness"]["pilot"])
        assert any(f"pilot: data {pct}% complete ({100 - pct}% missing" in w for w in g["warnings"])
    assert any("product mix changed" in w for w in rep["warnings"])
    assert "no significant change" in r.output and "goal not (yet) met" in r.output
    html = (out / "report.html").read_text()
    assert "missing" in html and "Goal not (yet) met" in html


def test_clock_problems_are_flagged(tmp_path):
    data = tmp_path / "d"
    simulate(data / "history", START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=3)
    simulate(data / "history", START, 3 * DAYS, 1.2, 0.46, seed=4)
    # A gateway clock set back replays two shifts' stamps; another runs a week ahead.
    simulate(data / "history", START + timedelta(days=2), 2, 1.2, 0.46, seed=5)
    simulate(data / "history", NOW + timedelta(days=7), 1, 1.2, 0.46, seed=6)
    start_pilot(data, "clk")
    r = kit(
        data,
        "pilot",
        "report",
        "clk",
        "-o",
        str(tmp_path / "r"),
        "--json",
        "--now",
        NOW.isoformat(),
    )
    g = _goal(json.loads(r.output), "downtime_s")
    assert g["clock"]["duplicates_pilot"] == 2 * 48 and g["clock"]["future"] == 2 * 48
    text = " ".join(g["warnings"])
    assert "repeated time stamp" in text and "time-stamped after the report time" in text


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


def test_html_report_renders_in_headless_chromium(site):
    html = site["out"] / "report.html"
    text = html.read_text()
    assert "<script" not in text and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    dom = subprocess.run(
        [
            chromium(),  # Debian's, installed on first use when missing
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            f"--user-data-dir={site['tmp'] / 'chrome'}",
            "--dump-dom",
            html.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    assert "✔ Goal met" in dom and dom.count("<svg") == 4
    assert "downtime_s:-25%" in dom and "target reached" in dom
    from kit_pilot.html import screenshot

    png = screenshot(html, site["tmp"] / "report.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


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
