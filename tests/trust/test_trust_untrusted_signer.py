"""Issue 19 item 15: a valid signature by a not-yet-trusted key is told apart from a broken one.

Under ``warn`` an unsigned plugin loads; a *validly signed* plugin by a key the site has not
trusted yet must not be treated worse. It reports ``Untrusted`` with the command that trusts
the key; a signature that does not verify stays ``Invalid``.
"""

from __future__ import annotations

import json

from click.testing import CliRunner

from kit.cli import cli
from kit.plugins import get_plugin_manager
from kit.trust.install import check_wheel
from kit.trust.sign_plugin import sign_plugin
from kit.trust.signing import SIGNATURE_FILE, load_private_key, new_keypair
from kit.trust.truststore import TrustStore, trust_key
from kit.trust.verify import check_package, decide, make_verifier

from .test_trust_install import build_wheel
from .test_trust_signatures import env, install_plugin  # noqa: F401  (fixture)


def test_untrusted_signer_loads_under_warn_with_the_trust_command(env, tmp_path):  # noqa: F811
    site, data, keys = env
    pkg = install_plugin(site, "1.0.0")
    new_keypair(tmp_path / "other", "newvendor")
    sign_plugin(pkg, load_private_key(tmp_path / "other" / "newvendor.key"), "vendor")

    st = check_package(pkg, "kit-tinyplug", "1.0.0", TrustStore.load(data))
    assert st.status == "Untrusted", st
    ok, msg = decide(st, "warn")
    assert ok and "kit keys trust" in msg and st.signers[0] in st.detail
    host = get_plugin_manager(verify=make_verifier(data, "warn"))
    assert not host.broken and "tiny-kit_tinyplug" in host.components.items
    refused, why = decide(st, "require-certified")
    assert not refused and "kit keys trust" in why

    # The wheel installs under warn and the CLI names the command.
    whl = build_wheel(site, tmp_path / "kit_tinyplug-1.0.0-py3-none-any.whl")
    assert check_wheel(whl, data, "warn").status == "Untrusted"

    # After trusting the key it is Signed.
    trust_key(data, tmp_path / "other" / "newvendor.pub", "vendor")
    assert check_package(pkg, "kit-tinyplug", "1.0.0", TrustStore.load(data)).status == "Signed"


def test_broken_signature_by_untrusted_key_is_invalid(env, tmp_path):  # noqa: F811
    site, data, keys = env
    pkg = install_plugin(site, "1.0.0")
    new_keypair(tmp_path / "other", "newvendor")
    sign_plugin(pkg, load_private_key(tmp_path / "other" / "newvendor.key"), "vendor")
    doc = json.loads((pkg / SIGNATURE_FILE).read_text())
    doc["signatures"][0]["statement"]["signed_at"] = "2020-01-01T00:00:00+00:00"  # forged
    (pkg / SIGNATURE_FILE).write_text(json.dumps(doc))
    st = check_package(pkg, "kit-tinyplug", "1.0.0", TrustStore.load(data))
    assert st.status == "Invalid" and "does not verify" in st.detail
    assert not decide(st, "warn")[0]


def test_plugin_verify_cli_prints_the_trust_command(env, tmp_path, monkeypatch):  # noqa: F811
    site, data, keys = env
    pkg = install_plugin(site, "1.0.0")
    new_keypair(tmp_path / "other", "newvendor")
    sign_plugin(pkg, load_private_key(tmp_path / "other" / "newvendor.key"), "vendor")
    monkeypatch.setenv("KIT_DATA_DIR", str(data))
    monkeypatch.setenv("KIT_PLUGIN_POLICY", "warn")
    res = CliRunner().invoke(cli, ["plugin", "verify", "tinyplug"])
    assert res.exit_code == 0, res.output
    assert "Untrusted" in res.output and "kit keys trust" in res.output
