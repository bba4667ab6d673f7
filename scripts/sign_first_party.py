"""Sign the kit's own plugin packages with a release key (issue 19 item 14).

Usage::

    uv run python scripts/sign_first_party.py            # dev/CI: build-local key
    KIT_RELEASE_KEY=/secure/kit-release.key uv run python scripts/sign_first_party.py
    uv run python scripts/sign_first_party.py --remove   # drop the signatures again

* With ``KIT_RELEASE_KEY`` (official release, run from a clean checkout before ``uv build``)
  the project key signs; its public half must already be committed in
  ``kit/trust/release_keys/``. No dev key is created or trusted.
* Without it, a build-local key is created once in ``--key-dir`` (outside the repository,
  default ``$XDG_DATA_HOME/fast-track-kit/release-dev``, private half mode 0600) and its
  public half is written to ``kit/trust/release_keys/dev-build.pub`` (git-ignored), so
  this checkout — and only this checkout — trusts what it signed.

Signatures go into each first-party package directory (``kit_signature.json``,
git-ignored); an editable install sees them at once. Editing a signed file afterwards makes
the package *Modified*: sign again after changes (or ``--remove``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kit.trust.release import DEV_KEY_NAME, FIRST_PARTY, release_keys_dir  # noqa: E402
from kit.trust.sign_plugin import find_package_dir, sign_plugin  # noqa: E402
from kit.trust.signing import (  # noqa: E402
    SIGNATURE_FILE,
    key_id,
    load_private_key,
    new_keypair,
)


def first_party_dirs() -> list[Path]:
    """Package directories (with a kit_manifest.yaml) of the first-party distributions."""
    import tomllib

    out = []
    for pp in sorted(ROOT.glob("*/*/pyproject.toml")) + [ROOT / "tui" / "pyproject.toml"]:
        try:
            name = tomllib.loads(pp.read_text())["project"]["name"]
        except (OSError, KeyError, ValueError):
            continue
        if name in FIRST_PARTY:
            out.append(find_package_dir(pp.parent))
    return out


def default_key_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "fast-track-kit" / "release-dev"


def main(argv: list[str] | None = None) -> int:
    """Sign (or ``--remove`` the signatures of) every first-party package."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--key-dir", type=Path, default=None, help="where the dev key lives")
    ap.add_argument("--remove", action="store_true", help="remove signatures and the dev key")
    args = ap.parse_args(argv)
    dev_pub = release_keys_dir() / f"{DEV_KEY_NAME}.pub"
    pkgs = first_party_dirs()
    if args.remove:
        for pkg in pkgs:
            (pkg / SIGNATURE_FILE).unlink(missing_ok=True)
        dev_pub.unlink(missing_ok=True)
        print(f"removed signatures of {len(pkgs)} packages and {dev_pub.name}")
        return 0
    release = os.environ.get("KIT_RELEASE_KEY")
    if release:
        key = load_private_key(release)
        kid = key_id(key.public_key())
        dev_pub.unlink(missing_ok=True)  # an official build never trusts a dev key
        from kit.trust.release import builtin_release_keys

        if kid not in builtin_release_keys():
            print(
                f"the public half of KIT_RELEASE_KEY ({kid}) is not in kit/trust/release_keys/",
                file=sys.stderr,
            )
            return 2
    else:
        kd = args.key_dir or default_key_dir()
        if not (kd / f"{DEV_KEY_NAME}.key").exists():
            new_keypair(kd, DEV_KEY_NAME, "build-local release key (not the project key)")
        key = load_private_key(kd / f"{DEV_KEY_NAME}.key")
        shutil.copyfile(kd / f"{DEV_KEY_NAME}.pub", dev_pub)
        kid = key_id(key.public_key())
    for pkg in pkgs:
        (pkg / SIGNATURE_FILE).unlink(missing_ok=True)  # one release signature, fresh
        sign_plugin(pkg, key, "release")
    print(f"signed {len(pkgs)} first-party packages with release key {kid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
