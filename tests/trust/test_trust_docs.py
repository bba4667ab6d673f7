"""docs/certification.md documents every rule under the tier the code uses."""

from __future__ import annotations

import re
from pathlib import Path

from kit.trust.certify.rules import RULES

DOC = Path(__file__).resolve().parents[2] / "docs" / "certification.md"


def test_every_rule_is_documented_in_its_tier():
    text = DOC.read_text()
    sections = re.split(r"^### ", text, flags=re.M)
    by_tier = {s.split(":")[0].strip().lower(): s for s in sections[1:]}
    for rule in RULES:
        assert f"`{rule.id}`" in by_tier[rule.tier], (
            f"{rule.id} is not documented under {rule.tier}"
        )
    documented = set(re.findall(r"^\| `([a-z-]+)` \|", text, flags=re.M))
    assert documented == {r.id for r in RULES}
