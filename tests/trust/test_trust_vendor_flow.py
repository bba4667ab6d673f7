"""docs/vendors.md, verbatim: from an empty directory to a signed, certified, installed wheel.

Every ```bash block of the page is concatenated in order and run with ``bash -e`` in a
temporary directory with a fresh HOME. The kit comes from this workspace as a wheel built
into ``FASTTRACK_WHEELS`` (the page's only precondition); its dependencies come from uv's cache or
configured index. The result is checked independently of the scripts' own output: the
installed plugin verifies as Signed and certified, and the report carries the coverage figure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def doc_script() -> str:
    """The ```bash blocks of docs/vendors.md, in order."""
    text = (ROOT / "docs" / "vendors.md").read_text()
    blocks = re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
    assert len(blocks) >= 5, "docs/vendors.md lost its runnable blocks"
    return "\n".join(blocks)


def test_vendor_flow_from_the_docs_reaches_a_certified_installed_wheel(tmp_path):
    uv = shutil.which("uv")
    assert uv
    wheels = tmp_path / "wheels"
    subprocess.run(
        [uv, "build", "--wheel", "-q", "--out-dir", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    home.mkdir()
    # A clean shell: no workspace venv on PATH, no KIT_ settings, the uv cache kept (offline).
    path = os.pathsep.join(
        p for p in os.environ["PATH"].split(os.pathsep) if ".venv" not in p and p
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KIT_", "VIRTUAL_ENV"))}
    env.update(
        {
            "HOME": str(home),
            "PATH": f"{Path(uv).parent}{os.pathsep}{path}",
            "FASTTRACK_WHEELS": str(wheels),
            "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path.home() / ".cache" / "uv"),
            "XDG_DATA_HOME": str(tmp_path / "xdg"),
        }
    )
    script = "set -euo pipefail\n" + doc_script()
    proc = subprocess.run(
        ["bash", "-c", script], cwd=work, env=env, capture_output=True, text=True, timeout=1200
    )
    assert proc.returncode == 0, f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    project = work / "acme-plugins" / "kit-acme-meter"
    wheel = project / "dist" / "kit_acme_meter-0.1.0-py3-none-any.whl"
    assert wheel.is_file()
    report = json.loads((project / "certification" / "kit-acme-meter.json").read_text())
    cov = report["figures"]["coverage"]
    assert cov["tests_passed"] and 0 < cov["coverage_percent"] <= 100
    # The installed plugin, checked by a separate call with the vendor's interpreter.
    py = work / "acme-plugins" / ".venv" / "bin" / "python"
    check = subprocess.run(
        [
            str(py),
            "-c",
            "import json; from importlib import metadata; "
            "from kit.trust.verify import default_verifier; "
            "ep = next(e for e in metadata.entry_points(group='kit') if e.name == 'acme-meter'); "
            "ok, st, _ = default_verifier()(ep); "
            "print(json.dumps([ok, st.status, st.certified, st.tier, str(ep.dist.locate_file(''))]))",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 0, check.stderr
    ok, status, certified, tier, where = json.loads(check.stdout)
    assert ok and status == "Signed" and certified and tier == report["tier"]
    assert "site-packages" in where  # the wheel, not the editable project, is installed
