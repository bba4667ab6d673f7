"""The certification report: JSON (machine-readable, signed with the plugin) and Markdown."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kit import __version__
from kit.trust import KIT_API_VERSION
from kit.trust.certify.rules import TIERS, Result

FORMAT = "kit-certification/1"


@dataclass
class Report:
    """Outcome of ``kit certify`` for one plugin."""

    data: dict[str, Any] = field(default_factory=dict)

    @property
    def tier(self) -> str | None:
        """Highest tier reached (None if bronze is not met)."""
        return self.data.get("tier")

    @classmethod
    def build(
        cls,
        t: Any,
        man: Any,
        results: list[Result],
        tier: str | None,
        run: Any,
        quality: Path | None,
    ) -> Report:
        """Assemble the report from the rule results and the run's figures."""
        return cls(
            {
                "format": FORMAT,
                "plugin": {
                    "name": t.name,
                    "version": t.version,
                    "kinds": man.kinds if man else [],
                    "components": man.components if man else [],
                },
                "kit": {"version": __version__, "api": KIT_API_VERSION},
                "date": datetime.now(UTC).isoformat(timespec="seconds"),
                "tier": tier,
                "quality_file": quality.name if quality else None,
                "figures": {
                    "max_plugin_callback_ms": round(run.max_plugin_callback_s * 1000, 2),
                    "max_any_callback_ms": round(run.max_callback_s * 1000, 2),
                    "memory_growth_kib": round(run.memory_growth_bytes / 1024, 1),
                    "slowest_callbacks_ms": [round(d * 1000, 1) for d in run.durations[:10]],
                    "slowest_callbacks": run.slowest,
                    "observed_subjects": run.observed,
                    "violations": run.violations,
                    "faults": run.faults,
                    "coverage": next(
                        (r.data for r in results if r.rule.id == "plugin-coverage"), {}
                    ),
                },
                "results": [
                    {
                        "id": r.rule.id,
                        "tier": r.rule.tier,
                        "title": r.rule.title,
                        "outcome": r.outcome,
                        "detail": r.detail,
                    }
                    for r in results
                ],
                "note": "Automated self-assessment by `kit certify`; not a certification by a third-party body.",
            }
        )

    def failures(self, tier: str | None = None) -> list[dict[str, Any]]:
        """Failed rules (of ``tier`` and below if given)."""
        upto = TIERS[: TIERS.index(tier) + 1] if tier else TIERS
        return [r for r in self.data["results"] if r["outcome"] == "fail" and r["tier"] in upto]

    def to_json(self) -> str:
        """Stable JSON (sorted keys)."""
        return json.dumps(self.data, indent=2, sort_keys=True, default=str) + "\n"

    def to_markdown(self) -> str:
        """A human-readable report."""
        d = self.data
        p = d["plugin"]
        lines = [
            f"# Certification report: {p['name']} {p['version']}",
            "",
            f"- Tier reached: **{d['tier'] or 'none'}**",
            f"- Kit {d['kit']['version']} (plugin API {d['kit']['api']}), {d['date']}",
            f"- Max event-loop callback from plugin code: {d['figures']['max_plugin_callback_ms']} ms; "
            f"memory growth over the soak: {d['figures']['memory_growth_kib']} KiB",
            f"- Line coverage of the plugin by its own tests: "
            f"{d['figures'].get('coverage', {}).get('coverage_percent', 'not measured')} %",
            f"- {d['note']}",
            "",
            "| Rule | Tier | Outcome | Detail |",
            "|---|---|---|---|",
        ]
        icon = {"pass": "pass", "fail": "**FAIL**", "n/a": "n/a", "exempt": "exempt"}
        for r in d["results"]:
            detail = str(r["detail"]).replace("|", "\\|").replace("\n", " ")[:300]
            lines.append(f"| `{r['id']}` | {r['tier']} | {icon[r['outcome']]} | {detail} |")
        obs = d["figures"]["observed_subjects"]
        if obs:
            lines += [
                "",
                "Subjects observed on the bus during the run: "
                + ", ".join(f"`{k}` ({v})" for k, v in sorted(obs.items())),
            ]
        return "\n".join(lines) + "\n"

    def write(self, out_dir: Path, stem: str | None = None) -> tuple[Path, Path]:
        """Write ``<stem>.json`` and ``<stem>.md`` into ``out_dir``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = stem or self.data["plugin"]["name"]
        j, m = out_dir / f"{stem}.json", out_dir / f"{stem}.md"
        j.write_text(self.to_json())
        m.write_text(self.to_markdown())
        return j, m
