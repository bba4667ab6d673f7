"""Runs every rule of :mod:`kit.trust.certify.rules` against one plugin."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from kit.errors import ConfigError, KitError
from kit.settings import ComponentSpec
from kit.trust.certify import deps, static
from kit.trust.certify.dynamic import RunResult, run_components
from kit.trust.certify.report import Report
from kit.trust.certify.rules import (
    RULES,
    Outcome,
    QualityFile,
    Result,
    load_quality,
    reached_tier,
)
from kit.trust.certify.target import Target, resolve
from kit.trust.manifest import MANIFEST_FILE, PluginManifest, load_manifest, version_in_range

BUDGET_BRONZE_S = 0.100
BUDGET_GOLD_S = 0.020
MEMORY_BUDGET = 512 * 1024
_RULE = {r.id: r for r in RULES}
_TEST_MARKERS = (
    "kit.testing",
    "make_runtime",
    "nats_server",
    "kit_settings",
    "wait_for",
    "temp_plugin",
)


class _Results:
    def __init__(self) -> None:
        self.items: dict[str, Result] = {}

    def set(self, rule_id: str, ok: bool | None, detail: str = "", **data: Any) -> None:
        outcome: Outcome = "n/a" if ok is None else ("pass" if ok else "fail")
        self.items[rule_id] = Result(_RULE[rule_id], outcome, detail, data)


def _find_upwards(start: Path | None, rel: str) -> Path | None:
    if start is None:
        return None
    for base in [start, *start.parents][:5]:
        if (base / rel).exists():
            return base / rel
    return None


def _field_docs(cls: type[BaseModel]) -> list[str]:
    """Config fields with neither a Field description nor an attribute docstring."""
    documented: set[str] = set()
    for klass in cls.__mro__:
        if klass is BaseModel or not (isinstance(klass, type) and issubclass(klass, BaseModel)):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for a, b in zip(body, body[1:]):
            if (
                isinstance(a, ast.AnnAssign)
                and isinstance(a.target, ast.Name)
                and isinstance(b, ast.Expr)
                and isinstance(b.value, ast.Constant)
                and isinstance(b.value.value, str)
            ):
                documented.add(a.target.id)
    return [n for n, f in cls.model_fields.items() if not f.description and n not in documented]


def _static_rules(t: Target, man: PluginManifest | None, r: _Results) -> None:
    findings = static.scan_tree(t.pkg_dir)
    by = {c: [str(f) for f in findings if f.check == c] for c in ("eval", "subprocess", "socket")}
    r.set("static-no-eval", not by["eval"], "; ".join(by["eval"][:5]), findings=by["eval"])
    r.set(
        "static-no-subprocess",
        not by["subprocess"],
        "; ".join(by["subprocess"][:5]),
        findings=by["subprocess"],
    )
    is_adapter = bool(man and "adapter" in man.kinds)
    if is_adapter:
        r.set(
            "static-no-sockets",
            True,
            f"adapter: device sockets allowed ({len(by['socket'])} use(s))",
            findings=by["socket"],
        )
    else:
        r.set(
            "static-no-sockets",
            not by["socket"],
            "; ".join(by["socket"][:5]),
            findings=by["socket"],
        )
    bad = deps.requirement_problems(t.requires)
    r.set(
        "deps-bounded",
        not bad,
        "; ".join(bad) or f"{len(t.requires)} requirement(s) pinned or bounded",
        requires=t.requires,
    )
    r.set(
        "licence-allowed",
        deps.licence_allowed(t.licence),
        f"licence {t.licence!r}"
        + ("" if deps.licence_allowed(t.licence) else " (missing or not on the allow-list)"),
    )


def _docs_rules(t: Target, man: PluginManifest | None, r: _Results) -> None:
    if man is None or not man.docs:
        r.set("docs-present", False, "the manifest names no docs page")
        r.set("docs-complete", False, "no docs page")
        return
    if re.match(r"https?://", man.docs):
        r.set("docs-present", True, man.docs)
        r.set("docs-complete", None, "external page: not checked automatically")
        return
    p = _find_upwards(t.project_dir or t.pkg_dir, man.docs)
    r.set("docs-present", p is not None, f"{man.docs} {'found' if p else 'not found'}")
    if p is None:
        r.set("docs-complete", False, "no docs page")
        return
    text = p.read_text(encoding="utf-8", errors="replace").lower()
    heads = " ".join(line for line in text.splitlines() if line.startswith("#"))
    missing = [w for w in ("install", "config", "troubleshoot", "limitation") if w not in heads]
    r.set(
        "docs-complete",
        not missing,
        "missing sections: " + ", ".join(missing) if missing else "all sections",
    )


def _specs(quality: QualityFile, comps: dict[str, Any]) -> tuple[list[ComponentSpec], list[str]]:
    problems: list[str] = []
    if quality.certify.components:
        specs = [
            ComponentSpec(name=f"cert-{i}-{c.type}", type=c.type, asset=c.asset, config=c.config)
            for i, c in enumerate(quality.certify.components)
        ]
    else:
        specs = [
            ComponentSpec(name=f"cert-{n}", type=n, asset=f"cert/area/line/{n}")
            for n in sorted(comps)
        ]
    ok_specs = []
    for spec in specs:
        reg = comps.get(spec.type)
        if reg is None:
            problems.append(f"{spec.type}: not registered by this plugin")
            continue
        if "{sim_" in repr(spec.config):
            ok_specs.append(spec)  # filled in by the fault runner
            continue
        try:
            reg.cls.Config.model_validate(spec.config)
            ok_specs.append(spec)
        except ValidationError as exc:
            problems.append(
                f"{spec.type}: its Config needs values; add an example under certify.components in "
                f"kit_quality.yaml ({exc.errors()[0]['loc']}: {exc.errors()[0]['msg']})"
            )
    return ok_specs, problems


async def certify(
    target: str, *, run_s: float | None = None, soak_s: float | None = None
) -> Report:
    """Certify ``target`` (directory or distribution name) and return the report.

    Raises:
        PluginError: nothing certifiable at ``target``.
    """
    from kit.plugins import get_plugin_manager
    from kit.trust.certify.faults import make_fault_runner

    t = resolve(target)
    r = _Results()
    quality, qpath = load_quality(t.pkg_dir, *([t.project_dir] if t.project_dir else []))
    if run_s is not None:
        quality.certify.run_s = run_s
    if soak_s is not None:
        quality.certify.soak_s = soak_s
    man: PluginManifest | None = None
    try:
        man = load_manifest(t.pkg_dir / MANIFEST_FILE)
        shown = t.pkg_dir / MANIFEST_FILE
        if t.project_dir is not None and shown.is_relative_to(t.project_dir):
            shown = shown.relative_to(t.project_dir)  # reports are committed: no machine paths
        r.set("manifest-valid", True, str(shown))
    except ConfigError as exc:
        r.set(
            "manifest-valid",
            False,
            "; ".join(exc.problems) if getattr(exc, "problems", None) else str(exc),
        )
    if man is not None:
        same = (man.name, man.version) == (t.name, t.version)
        r.set(
            "manifest-matches-dist",
            same,
            f"manifest {man.name} {man.version}, distribution {t.name} {t.version}",
        )
        from kit.trust import KIT_API_VERSION

        if not version_in_range(KIT_API_VERSION, man.kit_api):
            r.set(
                "manifest-matches-dist",
                False,
                f"kit_api {man.kit_api} excludes this kit's API {KIT_API_VERSION}",
            )
    else:
        r.set("manifest-matches-dist", False, "no valid manifest")
    _static_rules(t, man, r)
    _docs_rules(t, man, r)

    host = None
    comps: dict[str, Any] = {}
    try:
        modules = t.load_modules()
        host = get_plugin_manager(load_entrypoints=False, extra=modules)
        names = {n for n, _ in modules}
        comps = {k: v for k, v in host.components.items.items() if v.plugin in names}
        broken = [b.error for b in host.broken]
        r.set(
            "hook-contract",
            not broken,
            "; ".join(broken) or f"hooks ok, {len(comps)} component type(s)",
        )
    except (KitError, ImportError, Exception) as exc:  # a broken plugin is a finding, not a crash
        r.set("hook-contract", False, f"{type(exc).__name__}: {exc}")
    if man is not None and host is not None:
        kinds = {c.cls.kind for c in comps.values()}
        writes = any(getattr(c.cls, "can_write", False) for c in comps.values())
        ok = (
            set(comps) == set(man.components)
            and kinds <= set(man.kinds)
            and writes == man.device_writes
        )
        r.set(
            "manifest-components",
            ok,
            f"registered {sorted(comps)} kinds {sorted(kinds)} can_write {writes}; "
            f"declared {man.components} kinds {man.kinds} device_writes {man.device_writes}",
        )
    else:
        r.set("manifest-components", False, "no manifest or plugin did not load")
    cfg_bad, undoc = [], []
    for n, c in comps.items():
        cfg = c.cls.Config
        try:
            cfg.model_json_schema()
            if cfg.model_config.get("extra") != "forbid":
                cfg_bad.append(f"{n}: Config should forbid unknown keys (extra='forbid')")
        except Exception as exc:
            cfg_bad.append(f"{n}: {exc}")
        undoc += [f"{n}.{f}" for f in _field_docs(cfg)]
    if comps:
        r.set("config-model", not cfg_bad, "; ".join(cfg_bad) or "ok")
        r.set(
            "config-documented", not undoc, ("undocumented: " + ", ".join(undoc)) if undoc else "ok"
        )
    else:
        r.set("config-model", None if host is not None else False, "no components")
        r.set("config-documented", None if host is not None else False, "no components")
    if man is not None:
        missing = [
            s.evidence
            for s in man.standards
            if not re.match(r"https?://", s.evidence)
            and _find_upwards(t.project_dir or t.pkg_dir, s.evidence) is None
        ]
        r.set(
            "standards-evidence",
            not missing,
            ("missing evidence: " + ", ".join(missing))
            if missing
            else f"{len(man.standards)} claim(s)",
        )
    else:
        r.set("standards-evidence", False, "no manifest")
    tests_dir = (t.project_dir / "tests") if t.project_dir else None
    uses = (
        tests_dir is not None
        and tests_dir.is_dir()
        and any(
            any(m in p.read_text(errors="replace") for m in _TEST_MARKERS)
            for p in tests_dir.rglob("*.py")
        )
    )
    r.set(
        "tests-present",
        uses,
        "tests/ uses kit.testing" if uses else "no tests using kit.testing found",
    )

    from kit.trust.certify.coverage_rule import measure

    cov_ok, cov_detail, cov_data = await measure(t.project_dir, t.pkg_dir)
    r.set("plugin-coverage", cov_ok, cov_detail, **cov_data)

    run = RunResult()
    if host is not None and comps:
        specs, problems = _specs(quality, comps)
        fault_runner = make_fault_runner(quality, comps, specs)
        if fault_runner is not None:
            specs = [s for s in specs if "{sim_" not in repr(s.config)]
        markers = [str(t.pkg_dir)]
        run = await run_components(host, specs, quality.certify, markers, t.pkg_dir, fault_runner)
        _dynamic_rules(run, problems, comps, r)
    else:
        loaded = (
            host is not None
        )  # a plugin without components (commands, endpoints): nothing to run
        for rid in (
            "runs-cleanly",
            "subjects-truthful",
            "loop-blocking",
            "loop-blocking-strict",
            "memory-flat",
            "analytics-bad-input",
            "adapter-faults",
        ):
            r.set(
                rid,
                None if loaded else False,
                "no components to run" if loaded else "the plugin did not load",
            )
    results = []
    for rule in RULES:
        res = r.items.get(rule.id) or Result(rule, "fail", "not evaluated")
        if res.outcome == "fail" and rule.id in quality.exempt:
            res = Result(
                rule,
                "exempt",
                f"exempt: {quality.exempt[rule.id]} (finding: {res.detail})",
                res.data,
            )
        results.append(res)
    return Report.build(t, man, results, reached_tier(results), run, qpath)


def _dynamic_rules(run: RunResult, problems: list[str], comps: dict[str, Any], r: _Results) -> None:
    if not run.started:
        for rid in (
            "runs-cleanly",
            "subjects-truthful",
            "loop-blocking",
            "loop-blocking-strict",
            "memory-flat",
            "analytics-bad-input",
            "adapter-faults",
        ):
            r.set(rid, False, f"runtime did not start: {run.error}")
        return
    crashed = [
        f"{n}: {i['last_error']}"
        for n, i in run.instances.items()
        if i["restarts"] or i["status"] == "failed"
    ]
    r.set(
        "runs-cleanly",
        not crashed and not problems,
        "; ".join(problems + crashed) or f"{len(run.instances)} instance(s) ran without a crash",
        instances=run.instances,
    )
    viol = [f"{n}: {', '.join(s)}" for n, s in run.violations.items()]
    r.set(
        "subjects-truthful",
        not viol,
        ("denied by the server: " + "; ".join(viol)) if viol else "no permission violation",
        observed=run.observed,
        violations=run.violations,
    )
    # Component tasks are attributed directly; message handlers run inside the NATS client's
    # tasks, so the budget applies to every callback after start-up (only this plugin runs).
    # On a loaded machine one callback can be pre-empted by the OS; a plugin that blocks does
    # so repeatedly. Fail on two or more callbacks over budget, or on one over 4x the budget.
    mx = run.max_plugin_callback_s
    for rid, budget in (
        ("loop-blocking", BUDGET_BRONZE_S),
        ("loop-blocking-strict", BUDGET_GOLD_S),
    ):
        over = [d for d in run.durations if d > budget]
        ok = len(over) <= 1 and mx <= 4 * budget
        r.set(
            rid,
            ok,
            f"max plugin callback {mx * 1000:.1f} ms, {len(over)} over the {budget * 1000:.0f} ms budget "
            f"(any callback incl. harness: {run.max_callback_s * 1000:.1f} ms)",
            slowest=run.slowest,
        )
    r.set(
        "memory-flat",
        run.memory_growth_bytes <= MEMORY_BUDGET,
        f"growth {run.memory_growth_bytes / 1024:.1f} KiB over the soak (budget 512 KiB)",
        top=run.memory_top,
    )
    kinds = {c.cls.kind for c in comps.values()}
    if "analytics" in kinds:
        bad = [
            f"{n}: {v}"
            for n, v in run.bad_input.items()
            if not v["still_running"] or v["malformed_counted"] < 2
        ]
        r.set(
            "analytics-bad-input",
            not bad and bool(run.bad_input),
            "; ".join(bad)
            or f"{len(run.bad_input)} analytics instance(s) skipped and counted bad input",
            bad_input=run.bad_input,
        )
    else:
        r.set("analytics-bad-input", None, "no analytics components")
    if "adapter" in kinds:
        f = run.faults
        if not f:
            r.set(
                "adapter-faults",
                False,
                "no fault run: the adapter needs simulator() and kit_quality.yaml "
                "certify.components with {sim_host}/{sim_port} or {sim_url}",
            )
        else:
            r.set("adapter-faults", bool(f.get("passed")), f.get("summary", ""), **f)
    else:
        r.set("adapter-faults", None, "no adapter components")
