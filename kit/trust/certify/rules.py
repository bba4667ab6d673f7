"""The certification rules, their tiers, exemptions and the tier a plugin reaches.

Tiers are cumulative (like Home Assistant's quality scale): silver needs every bronze rule,
gold every silver one. A rule a plugin cannot meet may be *exempted* in the plugin's
``kit_quality.yaml`` with a written reason; the reason is printed in the report.
``docs/certification.md`` documents every rule (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from kit.yamlfiles import load_model

TIERS = ("bronze", "silver", "gold")
Outcome = Literal["pass", "fail", "n/a", "exempt"]
QUALITY_FILE = "kit_quality.yaml"


@dataclass(frozen=True)
class Rule:
    """One automated check."""

    id: str
    tier: str
    title: str


RULES: list[Rule] = [
    # bronze — safe to load, honest about itself
    Rule("manifest-valid", "bronze", "kit_manifest.yaml is present and valid against the schema"),
    Rule(
        "manifest-matches-dist",
        "bronze",
        "manifest name and version equal the distribution's metadata",
    ),
    Rule(
        "manifest-components",
        "bronze",
        "components and kinds registered equal the ones the manifest declares",
    ),
    Rule(
        "hook-contract",
        "bronze",
        "the module registers with pluggy (check_pending) and every component class is valid",
    ),
    Rule(
        "config-model",
        "bronze",
        "every component has a pydantic Config model (extra=forbid) with a JSON schema",
    ),
    Rule("docs-present", "bronze", "the manifest names a docs page that exists (or a URL)"),
    Rule(
        "runs-cleanly",
        "bronze",
        "every component runs on a real nats-server for the whole run without crashing",
    ),
    Rule(
        "subjects-truthful",
        "bronze",
        "no publish/subscribe outside the manifest's subjects (server-enforced, observed)",
    ),
    Rule(
        "loop-blocking",
        "bronze",
        "no callback from plugin code blocks the event loop longer than 100 ms",
    ),
    Rule("static-no-eval", "bronze", "no eval, exec or compile calls"),
    Rule(
        "static-no-subprocess",
        "bronze",
        "no subprocess, os.system, os.popen, os.exec*, os.spawn*, pty",
    ),
    Rule("deps-bounded", "bronze", "every dependency is pinned (==) or has an upper bound (<)"),
    # silver — behaves under faults, no hidden network, sustainable
    Rule(
        "static-no-sockets",
        "silver",
        "no direct socket use outside adapters (undeclared network access)",
    ),
    Rule("licence-allowed", "silver", "a licence in the metadata, from the allow-list"),
    Rule(
        "memory-flat",
        "silver",
        "memory allocated by plugin code grows less than 512 KiB over the soak",
    ),
    Rule(
        "analytics-bad-input",
        "silver",
        "analytics: malformed and out-of-order input is skipped and counted, no crash",
    ),
    Rule(
        "adapter-faults",
        "silver",
        "adapters: disconnect, slow responses, exception codes and restart mark quality "
        "bad and recover without operator action, without a reconnect storm",
    ),
    Rule("standards-evidence", "silver", "every claimed standard names evidence that exists"),
    # gold — polished
    Rule(
        "loop-blocking-strict",
        "gold",
        "no callback from plugin code blocks the event loop longer than 20 ms",
    ),
    Rule(
        "config-documented",
        "gold",
        "every Config field has a description (docstring or Field description)",
    ),
    Rule(
        "docs-complete",
        "gold",
        "the docs page covers installation, configuration, troubleshooting and limitations",
    ),
    Rule("tests-present", "gold", "the project ships tests that use kit.testing"),
    Rule(
        "plugin-coverage",
        "gold",
        "the project's own tests pass and cover at least 80 % of the plugin package's lines "
        "(coverage.py; the figure is in the report)",
    ),
]
RULE_IDS = {r.id for r in RULES}


class ComponentExample(BaseModel):
    """A component instance the certification run starts."""

    model_config = ConfigDict(extra="forbid")

    type: str
    asset: str = "cert/area/line/asset"
    config: dict[str, Any] = Field(default_factory=dict)
    """May use ``{sim_host}``, ``{sim_port}``, ``{sim_url}`` for adapters under test."""


class SimulatorSpec(BaseModel):
    """How to start the adapter's simulator for the fault-injection run."""

    model_config = ConfigDict(extra="forbid")

    profile: str | None = None
    options: dict[str, Any] = Field(default_factory=dict)
    exception: dict[str, Any] | None = None
    """``{method: "set_exception", args: [...], clear: "clear_exception"}`` on the simulator."""


class CertifySettings(BaseModel):
    """The ``certify:`` section of ``kit_quality.yaml``."""

    model_config = ConfigDict(extra="forbid")

    run_s: float = Field(4.0, gt=0, le=120)
    soak_s: float = Field(6.0, gt=0, le=600)
    components: list[ComponentExample] = Field(default_factory=list)
    simulator: SimulatorSpec | None = None


class QualityFile(BaseModel):
    """``kit_quality.yaml``: exemptions with reasons and certification-run settings."""

    model_config = ConfigDict(extra="forbid")

    exempt: dict[str, str] = Field(default_factory=dict)
    """Rule id → written reason (at least 15 characters)."""
    certify: CertifySettings = Field(default_factory=CertifySettings)

    @field_validator("exempt")
    @classmethod
    def _reasons(cls, v: dict[str, str]) -> dict[str, str]:
        for rule, reason in v.items():
            if rule not in RULE_IDS:
                raise ValueError(f"unknown rule {rule!r}")
            if len((reason or "").strip()) < 15:
                raise ValueError(
                    f"exemption of {rule} needs a written reason (15 characters or more)"
                )
        return v


def load_quality(*dirs: Path) -> tuple[QualityFile, Path | None]:
    """The first ``kit_quality.yaml`` found in ``dirs`` (defaults if none)."""
    for d in dirs:
        p = Path(d) / QUALITY_FILE
        if p.is_file():
            return load_model(QualityFile, p), p
    return QualityFile(), None


@dataclass
class Result:
    """Outcome of one rule with the evidence behind it."""

    rule: Rule
    outcome: Outcome
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def reached_tier(results: list[Result]) -> str | None:
    """Highest tier whose rules (and all lower tiers' rules) pass, are n/a or exempt."""
    reached = None
    for t in TIERS:
        upto = TIERS[: TIERS.index(t) + 1]
        if all(r.outcome != "fail" for r in results if r.rule.tier in upto):
            reached = t
        else:
            break
    return reached
