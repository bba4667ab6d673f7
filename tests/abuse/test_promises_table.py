"""docs/security/promises.md names real tests: every ``path::test`` and every path it cites
exists, so the table of promises and their attacking tests cannot silently rot."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "security" / "promises.md"
REF = re.compile(r"`((?:tests|plugins|adapters|tui)/[\w/.-]+\.py)(?:::(\w+))?`")
SHORT = re.compile(r"`::(\w+)`")


def test_every_cited_test_exists():
    text = TABLE.read_text()
    missing: list[str] = []
    cited = 0
    for line in text.splitlines():
        last: Path | None = None
        # A row may cite `file::a`, `::b` (same file as before it in the row).
        for m in re.finditer(REF.pattern + "|" + SHORT.pattern, line):
            path, name, short = m.group(1), m.group(2), m.group(3)
            if path:
                last = ROOT / path
                if not last.exists():
                    missing.append(path)
                    continue
            name = name or short
            if name:
                assert last is not None, f"{line[:80]}: `::{name}` without a file before it"
                cited += 1
                if not re.search(rf"^(async )?def {name}\b", last.read_text(), re.M):
                    missing.append(f"{last.relative_to(ROOT)}::{name}")
    assert not missing, f"docs/security/promises.md cites what does not exist: {missing}"
    assert cited >= 60, cited


def test_security_md_links_the_table():
    assert "docs/security/promises.md" in (ROOT / "SECURITY.md").read_text()
