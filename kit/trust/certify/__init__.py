"""``kit certify``: the automated conformance suite behind the bronze/silver/gold tiers.

:func:`certify` resolves the target (project directory or installed distribution), runs the
static checks (manifest, hook contract, config models, docs, ast policy, dependencies), then
the dynamic run on a real nats-server (truthful subjects, crashes, event-loop blocking,
memory soak, bad input for analytics, fault injection for adapters), applies the
exemptions of ``kit_quality.yaml`` and returns a :class:`kit.trust.certify.report.Report`.
"""

from __future__ import annotations

from kit.trust.certify.runner import certify

__all__ = ["certify"]
