"""``kit plugin install WHEEL``: verify the signature *before* installing (CR 3.4 at install).

The wheel is unpacked into a temporary directory, every package with a manifest is checked
like an installed one (same trust store, same policy), and only then handed to the installer.
At every later load the runtime verifies again (kit.trust.verify).
"""

from __future__ import annotations

import email.parser
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from kit.errors import PluginError
from kit.trust.manifest import MANIFEST_FILE
from kit.trust.truststore import TrustStore
from kit.trust.verify import TrustStatus, check_package, decide


def check_wheel(wheel: Path, data_dir: Path, policy: str) -> TrustStatus:
    """Trust status of the plugin package inside ``wheel``.

    Raises:
        PluginError: not a plugin wheel, or refused by ``policy``.
    """
    with tempfile.TemporaryDirectory(prefix="kit-wheel-") as tmp:
        try:
            with zipfile.ZipFile(wheel) as z:
                z.extractall(tmp)
        except zipfile.BadZipFile:
            raise PluginError(f"{wheel}: not a wheel") from None
        root = Path(tmp)
        metas = list(root.glob("*.dist-info/METADATA"))
        pkgs = [p.parent for p in root.glob(f"*/{MANIFEST_FILE}")]
        if not metas or len(pkgs) != 1:
            raise PluginError(
                f"{wheel}: expected one package with a {MANIFEST_FILE} and a dist-info"
            )
        meta = email.parser.Parser().parsestr(metas[0].read_text())
        st = check_package(pkgs[0], meta["Name"], meta["Version"], TrustStore.load(data_dir))
    ok, msg = decide(st, policy)
    if not ok:
        raise PluginError(f"{wheel.name}: {msg}")
    return st


def install_wheel(wheel: Path, data_dir: Path, policy: str) -> TrustStatus:
    """Verify ``wheel`` and install it into this interpreter's environment (uv if present, else pip)."""
    st = check_wheel(wheel, data_dir, policy)
    uv = shutil.which("uv")
    cmd = (
        [uv, "pip", "install", "--python", sys.executable, str(wheel)]
        if uv
        else [sys.executable, "-m", "pip", "install", str(wheel)]
    )
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise PluginError(f"installing {wheel.name} failed:\n{proc.stderr.strip()[-2000:]}")
    return st
