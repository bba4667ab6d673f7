"""``kit plugin install WHEEL``: verify the signature *before* installing (CR 3.4 at install).

The wheel is unpacked into a temporary directory, every package with a manifest is checked
like an installed one (same trust store, same policy), and only then handed to the installer.
At every later load the runtime verifies again (kit.trust.verify).

The signature covers the plugin package; everything *else* the wheel would install is
checked too (issue 19 item 13): every file must be listed in the wheel's ``RECORD`` with
its hash, and the only top-level entries allowed are the signed package and its
``.dist-info``. A ``.pth`` file (run by Python at every start), a second package, a
``.data`` directory (scripts, headers) or a stray module is refused.
"""

from __future__ import annotations

import base64
import csv
import email.parser
import hashlib
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
        if len(metas) != 1 or len(pkgs) != 1:
            raise PluginError(
                f"{wheel}: expected one package with a {MANIFEST_FILE} and a dist-info"
            )
        check_wheel_files(wheel, root, pkgs[0].name, metas[0].parent.name)
        meta = email.parser.Parser().parsestr(metas[0].read_text())
        st = check_package(pkgs[0], meta["Name"], meta["Version"], TrustStore.load(data_dir))
    ok, msg = decide(st, policy)
    if not ok:
        raise PluginError(f"{wheel.name}: {msg}")
    return st


def check_wheel_files(wheel: Path, root: Path, package: str, dist_info: str) -> None:
    """Every file in the unpacked wheel at ``root`` is in RECORD with a matching hash, and
    nothing but ``package`` and ``dist_info`` sits at the top level.

    Raises:
        PluginError: a missing or mismatching RECORD entry, an unknown top-level entry or a
            ``.pth`` file.
    """
    record_path = root / dist_info / "RECORD"
    if not record_path.is_file():
        raise PluginError(f"{wheel.name}: no {dist_info}/RECORD (not a wheel)")
    record: dict[str, str] = {}
    for row in csv.reader(record_path.read_text().splitlines()):
        if row:
            record[row[0]] = row[1] if len(row) > 1 else ""
    problems: list[str] = []
    for p in sorted(root.rglob("*")):
        if not p.is_file():
            continue
        rel = p.relative_to(root).as_posix()
        top = rel.split("/", 1)[0]
        if p.suffix == ".pth":
            problems.append(f"{rel}: .pth file (Python runs it at every start)")
        elif top not in (package, dist_info):
            problems.append(f"{rel}: outside the signed package {package}/")
        if rel == f"{dist_info}/RECORD":
            continue
        want = record.get(rel)
        if want is None:
            problems.append(f"{rel}: not listed in RECORD")
            continue
        algo, _, digest = want.partition("=")
        if algo != "sha256" or not digest:
            problems.append(f"{rel}: RECORD has no sha256 hash")
            continue
        got = base64.urlsafe_b64encode(hashlib.sha256(p.read_bytes()).digest()).rstrip(b"=")
        if got.decode() != digest:
            problems.append(f"{rel}: hash differs from RECORD")
    for rel in record:
        if rel != f"{dist_info}/RECORD" and not (root / rel).is_file():
            problems.append(f"{rel}: in RECORD but not in the wheel")
    if problems:
        raise PluginError(
            f"{wheel.name}: refused — files outside the signature:\n  " + "\n  ".join(problems)
        )


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
