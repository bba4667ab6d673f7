"""First-party plugins are release-signed, so a strict site runs the demo (issue 19 item 14).

``scripts/sign_first_party.py`` signs every first-party package with a build-local release
key (private half outside the repository, public half git-ignored in
``kit/trust/release_keys/``); the kit then treats them as *Signed, certified first-party*.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kit.trust.release import FIRST_PARTY
from kit.trust.sign_plugin import sign_plugin
from kit.trust.signing import load_private_key, new_keypair
from kit.trust.truststore import TrustStore, trust_key
from kit.trust.verify import check_package, decide

from .test_trust_signatures import env, install_plugin  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parents[2]
KIT = [sys.executable, "-m", "kit"]


@pytest.fixture
def release_signed(tmp_path):
    script = [sys.executable, str(ROOT / "scripts" / "sign_first_party.py")]
    r = subprocess.run(
        [*script, "--key-dir", str(tmp_path / "keys")], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    try:
        yield tmp_path / "keys"
    finally:
        subprocess.run([*script, "--remove"], capture_output=True, text=True)


def _env(data: Path) -> dict:
    e = {k: v for k, v in os.environ.items() if not k.startswith("KIT_")}
    e.update(
        {
            "KIT_DATA_DIR": str(data),
            "KIT_PLUGIN_POLICY": "require-certified",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return e


def test_strict_site_runs_the_demo_with_every_first_party_plugin(release_signed, tmp_path):
    data = tmp_path / "data"
    # The private half is outside the repository, owner-only.
    assert (release_signed / "dev-build.key").stat().st_mode & 0o077 == 0
    assert not list(ROOT.rglob("dev-build.key"))
    v = subprocess.run(
        [*KIT, "plugin", "verify"], env=_env(data), capture_output=True, text=True, timeout=120
    )
    assert v.returncode == 0, v.stdout + v.stderr
    certified = {
        line.split()[0] for line in v.stdout.splitlines() if "certified first-party" in line
    }
    assert len(certified) == len(FIRST_PARTY), v.stdout
    assert "REFUSED" not in v.stdout
    r = subprocess.run(
        [*KIT, "demo", "--headless", "--duration", "12"],
        env=_env(data),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert r.returncode == 0, r.stderr
    assert "refused by plugin_policy" not in r.stderr, r.stderr
    for recipe in ("oee-machine", "energy-per-shift", "condition-motor"):
        assert f"installed {recipe}" in r.stdout
    kpis = {line.split()[3] for line in r.stdout.splitlines() if " KPI " in line}
    assert "oee" in kpis


def test_release_key_does_not_vouch_for_a_vendor_plugin(env, tmp_path):  # noqa: F811
    site, data, keys = env
    pkg = install_plugin(site, "1.0.0")
    new_keypair(tmp_path / "rk", "release")
    trust_key(data, tmp_path / "rk" / "release.pub", "release")
    sign_plugin(pkg, load_private_key(tmp_path / "rk" / "release.key"), "release")
    st = check_package(pkg, "kit-tinyplug", "1.0.0", TrustStore.load(data))
    assert st.status == "Signed" and not st.certified
    assert not decide(st, "require-certified")[0]
