"""Second validation pass and the install plan: a recipe + parameter values → components.

:func:`build_plan` checks each section against the config model of the adapter or plugin it
names (``host.component(type).cls.Config``), checks bound points against the hardware
profiles (or what a source declares it ``provides``), and produces the exact
:class:`~kit.settings.ComponentSpec` list the engine will create. Every problem is
collected — never just the first — as ``file:line: path.to.field: message``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from kit import subjects
from kit.errors import PluginError
from kit.profiles import ProfileLibrary
from kit.recipes.loader import LoadedRecipe
from kit.recipes.model import InputRef, KpiCheck, ProfileParam, RangeCheck, UpdatesCheck
from kit.recipes.params import BUILTINS, placeholders, resolve, sample_values, substitute
from kit.recipes.reporting import plan_report
from kit.settings import ComponentSpec
from kit.yamlfiles import problem, suggest

ALARMS = "alarms"
#: Fields of an alarm rule that bind a point (``"temperature_c"`` or ``{point, asset}``).
BINDING_KEYS = ("input", "point", "suppress_when", "setpoint")


@dataclass
class AssetPlan:
    """One asset of a deployment: its reader component and the points it provides."""

    role: str
    adapter: str
    path: str
    component: str
    profile: str | None
    config: dict[str, Any]
    points: set[str] | None
    """Semantic points the asset provides; None when the reader does not say."""


@dataclass
class Plan:
    """What installing a recipe with given values will create."""

    recipe: LoadedRecipe
    deployment: str
    params: dict[str, Any]
    assets: dict[str, AssetPlan] = field(default_factory=dict)
    components: list[ComponentSpec] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    writes: list[dict[str, Any]] = field(default_factory=list)
    """Guarded-write rules (kit.trust.writes.WriteRule) with asset paths resolved."""
    problems: list[str] = field(default_factory=list)

    def subjects(self) -> dict[str, list[str]]:
        """Subjects the deployment publishes on, by kind."""
        data = [
            subjects.data_subject(subjects.AssetPath.parse(a.path)) for a in self.assets.values()
        ]
        readers = {a.component for a in self.assets.values()}
        kpi_assets = {c.asset for c in self.components if c.asset and c.name not in readers}
        kpi = sorted(
            f"{subjects.KPI_PREFIX}.{subjects.AssetPath.parse(a).tokens}.>" for a in kpi_assets
        )
        health = [subjects.health_subject(c.name) for c in self.components]
        return {"data": data, "kpi": kpi, "health": health}

    def hide(self, text: str) -> str:
        """``text`` with every secret parameter's value replaced by ``***`` (for error
        messages that quote a setting, e.g. an endpoint URL with a password in it)."""
        secret = {n for n, p in self.recipe.recipe.parameters.items() if p.type == "secret"}
        hidden: str = _mask(text, secret, self.params)
        return hidden

    def describe(self) -> dict[str, Any]:
        """JSON-able plan for ``recipes.plan`` and ``kit install`` (secrets masked)."""
        secret = {n for n, p in self.recipe.recipe.parameters.items() if p.type == "secret"}
        return {
            "recipe": self.recipe.recipe.id,
            "version": self.recipe.recipe.version,
            "deployment": self.deployment,
            "params": {k: ("***" if k in secret else v) for k, v in self.params.items()},
            "components": [_mask(c.model_dump(), secret, self.params) for c in self.components],
            "connections": [
                {
                    "asset": a.role,
                    "path": a.path,
                    "adapter": a.adapter,
                    "profile": a.profile,
                    "settings": _mask(a.config, secret, self.params),
                }
                for a in self.assets.values()
            ],
            "subjects": self.subjects(),
            "checks": self.checks,
        }


def _mask(value: Any, secret: set[str], params: dict[str, Any]) -> Any:
    hidden = {str(params[s]) for s in secret if s in params}
    if isinstance(value, dict):
        return {k: _mask(v, secret, params) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, secret, params) for v in value]
    if isinstance(value, str):
        # Also inside longer text: a recipe may put the secret into a URL (user:password@host).
        for h in sorted((h for h in hidden if h), key=len, reverse=True):
            value = value.replace(h, "***")
    return value


def component_name(deployment: str, *parts: str) -> str:
    """Instance name of a deployment's component, e.g. ``oee-press1-oee-machine``."""
    return "-".join(subjects.sanitize_token(p) for p in (deployment, *parts) if p)


def default_deployment(lr: LoadedRecipe, values: dict[str, Any]) -> str:
    """Default deployment id: recipe id plus the first asset's name (one per machine)."""
    role, spec = next(iter(lr.recipe.assets.items()))
    try:
        last = subjects.AssetPath.parse(str(substitute(spec.path, values))).asset
    except (KeyError, ValueError):
        last = role
    return f"{lr.recipe.id}-{last}"


class _Ctx:
    """Problem collector that knows which values were made up (validate without values)."""

    def __init__(self, lr: LoadedRecipe, undecided: set[str]) -> None:
        self.lr = lr
        self.undecided = set(undecided)
        self.unknown: set[str] = set()
        self.problems: list[str] = []

    def add(self, loc: list[Any], message: str, *, always: bool = False) -> None:
        if not always and self._made_up(loc):
            return
        line = problem(self.lr.filename, self.lr.root, loc, message)
        if line not in self.problems:
            self.problems.append(line)

    def _made_up(self, loc: list[Any]) -> bool:
        """True if the value at ``loc`` (or what it contains) came from a made-up value."""
        node = self.lr.root
        for part in loc:
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return False
            if isinstance(node, str) and set(placeholders(node)) & self.undecided:
                return True
        return bool(set(placeholders(node)) & self.undecided)


def build_plan(
    lr: LoadedRecipe,
    host: Any,
    given: dict[str, Any] | None = None,
    *,
    site: str = "site",
    deployment: str | None = None,
    profiles: ProfileLibrary | None = None,
    sample: bool = False,
) -> Plan:
    """Check ``lr`` against the installed plugins and profiles and compile its components.

    Args:
        lr: a shape-checked recipe.
        host: the plugin host (component registry).
        given: parameter values (text or typed); missing ones fall back to defaults.
        site: the site name (``${site}``).
        deployment: deployment id; defaults to :func:`default_deployment`.
        profiles: the site's loaded profile library (``Library.profiles()``); when omitted,
            the installed plugins' profiles without site files.
        sample: validate without real values (``kit recipe validate``): parameters without
            a default get a typical value and are not blamed for what follows from it.

    Returns:
        The plan; ``plan.problems`` lists every problem (empty when installable).
    """
    r = lr.recipe
    if profiles is None:  # no site library given: installed plugins' profiles only
        from kit.library import Library

        profiles = Library(host).profiles()
    if sample:
        values = sample_values(r, site)
        undecided = {n for n, p in r.parameters.items() if getattr(p, "default", None) is None}
        param_problems: dict[str, str] = {}
    else:
        values, param_problems = resolve(r, dict(given or {}), site)
        undecided = set(param_problems)
    ctx = _Ctx(lr, undecided)
    for name, msg in param_problems.items():
        ctx.add(["parameters", name] if name in r.parameters else ["parameters"], msg)
    known = set(r.parameters) | set(BUILTINS)
    for section in ("assets", "analytics", "alarms", "checks", "writes"):
        _check_placeholders(ctx, [section], lr.root.get(section), known)
    # A misspelt ${name} is reported once, at its placeholder, not again by every model.
    ctx.undecided |= set(ctx.unknown)
    dep = deployment or default_deployment(lr, _safe_values(values, known))
    plan = Plan(lr, dep, {k: v for k, v in values.items() if k in r.parameters})
    safe = _safe_values(values, known)
    for role, spec in r.assets.items():
        _plan_asset(ctx, plan, host, profiles, role, spec, safe, sample)
    for i, a in enumerate(r.analytics):
        _plan_analytics(ctx, plan, host, i, a, safe)
    _plan_alarms(ctx, plan, host, safe)
    _plan_checks(ctx, plan, safe)
    _plan_writes(ctx, plan, safe)
    plan.problems = sorted(ctx.problems, key=_line_key)
    return plan


def _line_key(text: str) -> int:
    try:
        return int(text.split(":")[1])
    except (IndexError, ValueError):
        return 0


def _safe_values(values: dict[str, Any], known: set[str]) -> dict[str, Any]:
    # Unknown or unresolved names substitute as their own text so one mistake is reported
    # once (at its placeholder), not again by every model that sees the broken value.
    class _D(dict[str, Any]):
        def __missing__(self, key: str) -> str:
            return "${" + key + "}"

    return _D(values)


def _check_placeholders(ctx: _Ctx, loc: list[Any], node: Any, known: set[str]) -> None:
    if isinstance(node, str):
        for name in placeholders(node):
            if name not in known:
                ctx.add(
                    loc,
                    f"unknown parameter ${{{name}}}{suggest(name, known)} "
                    "(only ${parameter} substitution is supported; no expressions)",
                )
                ctx.unknown.add(name)
    elif isinstance(node, dict):
        for k, v in node.items():
            _check_placeholders(ctx, [*loc, k], v, known)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_placeholders(ctx, [*loc, i], v, known)


def _component(ctx: _Ctx, host: Any, loc: list[Any], type_name: str, what: str) -> Any:
    try:
        return host.component(type_name).cls
    except PluginError:
        installed = sorted(
            n
            for n, c in host.components.items.items()
            if (c.cls.kind in ("adapter", "source")) == (what == "adapter")
        )
        ctx.add(
            loc,
            f"unknown {what} {type_name!r}{suggest(type_name, host.components.items)}; "
            f"installed: {', '.join(installed) or 'none'} (is its plugin installed?)",
            always=True,
        )
        return None


def _validate_config(ctx: _Ctx, cls: Any, config: dict[str, Any], locate: Any) -> Any:
    try:
        return cls.Config.model_validate(config)
    except ValidationError as exc:
        for err in exc.errors():
            loc = [
                p
                for p in err["loc"]
                if not (isinstance(p, str) and ("[" in p or p.startswith("function-")))
            ]
            msg = err["msg"].removeprefix("Value error, ")
            # An unknown key is wrong whatever the values are: never blamed on a made-up value.
            always = err["type"] == "extra_forbidden"
            if always:
                allowed = list(getattr(cls.Config, "model_fields", {}))
                hint = suggest(str(loc[-1]), allowed) or f" (allowed: {', '.join(allowed)})"
                msg = (
                    f"unknown setting {loc[-1]!r}{hint}"
                    if len(loc) == 1
                    else f"unknown setting {loc[-1]!r}"
                )
            ctx.add(locate(loc), msg, always=always)
        return None


def _plan_asset(
    ctx: _Ctx,
    plan: Plan,
    host: Any,
    profiles: ProfileLibrary,
    role: str,
    spec: Any,
    values: dict[str, Any],
    sample: bool,
) -> None:
    base = ["assets", role]
    path = str(substitute(spec.path, values))
    try:
        path = str(subjects.AssetPath.parse(path))
    except ValueError as exc:
        ctx.add([*base, "path"], str(exc))
    cls = _component(ctx, host, [*base, "adapter"], spec.adapter, "adapter")
    points: set[str] | None = None
    unknown_profile = False
    config = substitute(dict(spec.connection), values)
    profile_id = substitute(spec.profile, values) if spec.profile else config.get("profile")
    uses_profiles = (
        cls is not None and getattr(cls, "protocol", None) and getattr(cls, "Profile", None)
    )
    if profile_id is not None and cls is not None and not uses_profiles:
        ctx.add([*base, "profile"], f"adapter {spec.adapter!r} does not use hardware profiles")
    if uses_profiles:
        if profile_id is None:
            ctx.add(
                base,
                f"adapter {spec.adapter!r} needs a `profile` (an id, or ${{param}} of type profile)",
            )
        elif profile_id not in profiles.profiles:
            unknown_profile = True  # bound points cannot be checked; no cascade of errors
            if not ctx._made_up([*base, "profile"]):
                same = [p for p, prof in profiles.profiles.items() if prof.protocol == cls.protocol]
                ctx.add(
                    [*base, "profile"],
                    f"unknown profile {profile_id!r}{suggest(str(profile_id), same)}; "
                    "`kit profiles` lists them",
                )
        else:
            prof = profiles.profiles[profile_id]
            if prof.protocol != cls.protocol:
                ctx.add(
                    [*base, "profile"],
                    f"profile {profile_id!r} is for {prof.protocol}, "
                    f"not for adapter {spec.adapter!r}",
                )
            points = prof.semantic_points()
            for i, pt in enumerate(spec.requires):
                if pt not in points:
                    ctx.add(
                        [*base, "requires", i],
                        f"profile {profile_id!r} does not provide point {pt!r}"
                        f"{suggest(pt, points)}; `kit recipe match "
                        f"{plan.recipe.recipe.id}` lists profiles that do",
                    )
        if profile_id is not None:
            config["profile"] = profile_id
        # Validating without values, a profile chosen by a parameter may be any that fits:
        # only `requires` is certain (nothing, if the recipe requires nothing).
        if sample and spec.profile and _is_param(spec.profile, plan.recipe.recipe.parameters):
            points = set(spec.requires) or None
    elif cls is not None:
        provided = getattr(cls, "provides", None)
        if provided:
            points = set(provided)
            for i, pt in enumerate(spec.requires):
                if pt not in points:
                    ctx.add(
                        [*base, "requires", i],
                        f"{spec.adapter!r} does not provide point {pt!r}{suggest(pt, points)}",
                    )
    if points is None and spec.requires and not unknown_profile:
        points = set(spec.requires)
    if ctx._made_up([*base, "profile"]):
        profile_id = None  # a made-up id must not appear in messages
    name = component_name(plan.deployment, role)
    if cls is not None:

        def locate(loc: list[Any]) -> list[Any]:
            if loc and loc[0] == "profile" and spec.profile:
                return [*base, "profile"]
            return [*base, "connection", *loc]

        _validate_config(ctx, cls, config, locate)
    plan.assets[role] = AssetPlan(role, spec.adapter, path, name, profile_id, config, points)
    report = plan_report(ctx, _validate_config, base, spec.report, values, points)
    plan.components.append(
        ComponentSpec(name=name, type=spec.adapter, asset=path, config=config, report=report)
    )


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_param(text: str, params: dict[str, Any]) -> bool:
    names = placeholders(text)
    return bool(names) and any(
        isinstance(params.get(n), ProfileParam) or n in params for n in names
    )


def _check_point(ctx: _Ctx, plan: Plan, loc: list[Any], role: str, point: str) -> None:
    a = plan.assets.get(role)
    if a is None or a.points is None:
        return
    if point not in a.points:
        where = f"profile {a.profile!r} of asset {role!r}" if a.profile else f"asset {role!r}"
        ctx.add(loc, f"{where} does not provide point {point!r}{suggest(point, a.points)}")


def _role(ctx: _Ctx, plan: Plan, loc: list[Any], role: str) -> bool:
    if role not in plan.recipe.recipe.assets:
        ctx.add(
            loc,
            f"unknown asset {role!r}{suggest(role, plan.recipe.recipe.assets)}; "
            f"the recipe's assets are: {', '.join(plan.recipe.recipe.assets)}",
        )
        return False
    return True


def _plan_analytics(
    ctx: _Ctx, plan: Plan, host: Any, i: int, a: Any, values: dict[str, Any]
) -> None:
    base = ["analytics", i]
    cls = _component(ctx, host, [*base, "plugin"], a.plugin, "plugin")
    if not _role(ctx, plan, [*base, "asset"], a.asset):
        return
    asset = plan.assets[a.asset]
    inputs: dict[str, Any] = {}
    for key, ref in a.inputs.items():
        if isinstance(ref, InputRef):
            loc = [*base, "inputs", key]
            if _role(ctx, plan, [*loc, "asset"], ref.asset):
                _check_point(ctx, plan, [*loc, "point"], ref.asset, ref.point)
                inputs[key] = {"point": ref.point, "asset": plan.assets[ref.asset].path}
        else:
            _check_point(ctx, plan, [*base, "inputs", key], a.asset, ref)
            inputs[key] = ref
    config = substitute(dict(a.params), values)
    if a.inputs:
        config["inputs"] = inputs
    name = component_name(plan.deployment, a.plugin, a.asset, a.name or "")
    if cls is not None:

        def locate(loc: list[Any]) -> list[Any]:
            if loc and loc[0] == "inputs":
                return [*base, "inputs", *loc[1:]]
            return [*base, "params", *loc]

        _validate_config(ctx, cls, config, locate)
    plan.components.append(ComponentSpec(name=name, type=a.plugin, asset=asset.path, config=config))


def _plan_writes(ctx: _Ctx, plan: Plan, values: dict[str, Any]) -> None:
    from pydantic import ValidationError

    from kit.trust.writes import WriteRule

    for i, spec in enumerate(plan.recipe.recipe.writes):
        if (
            not _role(ctx, plan, ["writes", i, "asset"], spec.asset)
            or spec.asset not in plan.assets
        ):
            continue
        _check_point(ctx, plan, ["writes", i, "point"], spec.asset, spec.point)
        raw = substitute(spec.model_dump(exclude_none=True), values)
        raw["asset"] = plan.assets[spec.asset].path
        try:
            rule = WriteRule.model_validate(raw)
        except ValidationError as exc:
            for err in exc.errors():
                ctx.add(["writes", i, *err["loc"]], err["msg"])
            continue
        reason = (
            None
            if (rule.values or rule.min is not None or rule.max is not None)
            else "declare min/max or values: unbounded writes are not allowed"
        )
        if reason:
            ctx.add(["writes", i], reason)
            continue
        plan.writes.append(rule.model_dump(exclude_none=True))


def _plan_alarms(ctx: _Ctx, plan: Plan, host: Any, values: dict[str, Any]) -> None:
    by_asset: dict[str, list[tuple[list[Any], dict[str, Any]]]] = {}
    for i, spec in enumerate(plan.recipe.recipe.alarms):
        if not _role(ctx, plan, ["alarms", i, "asset"], spec.asset):
            continue
        for j, rule in enumerate(spec.rules):
            by_asset.setdefault(spec.asset, []).append((["alarms", i, "rules", j], rule))
    if not by_asset:
        return
    cls = _component(ctx, host, ["alarms", 0], ALARMS, "plugin")
    for role, rules in by_asset.items():
        compiled = []
        for loc, rule in rules:
            rule = substitute(dict(rule), values)
            for key in BINDING_KEYS:
                ref = rule.get(key)
                if isinstance(ref, str) and not _is_number(ref):
                    _check_point(ctx, plan, [*loc, key], role, ref)
                elif isinstance(ref, dict) and isinstance(ref.get("point"), str):
                    other = ref.get("asset", role)
                    if _role(ctx, plan, [*loc, key, "asset"], other):
                        _check_point(ctx, plan, [*loc, key, "point"], other, ref["point"])
                        # Recipes name assets by role; the plugin wants the asset path.
                        rule[key] = {**ref, "asset": plan.assets[other].path}
            compiled.append(rule)
        config = {"rules": compiled}
        if cls is not None:

            def locate(loc: list[Any], rules: list[Any] = rules) -> list[Any]:
                if (
                    len(loc) >= 2
                    and loc[0] == "rules"
                    and isinstance(loc[1], int)
                    and loc[1] < len(rules)
                ):
                    return [*rules[loc[1]][0], *loc[2:]]
                return ["alarms"]

            _validate_config(ctx, cls, config, locate)
        plan.components.append(
            ComponentSpec(
                name=component_name(plan.deployment, ALARMS, role),
                type=ALARMS,
                asset=plan.assets[role].path,
                config=config,
            )
        )


def _plan_checks(ctx: _Ctx, plan: Plan, values: dict[str, Any]) -> None:
    for i, c in enumerate(plan.recipe.recipe.checks):
        base = ["checks", i]
        if not _role(ctx, plan, [*base, "asset"], c.asset):
            continue
        item = substitute(c.model_dump(exclude_none=True), values)
        for key in ("point", "while_point"):
            if item.get(key):
                _check_point(ctx, plan, [*base, key], c.asset, item[key])
        for j, pt in enumerate(item.get("points") or []):
            _check_point(ctx, plan, [*base, "points", j], c.asset, pt)
        for key in ("min", "max", "every_s"):
            if (
                isinstance(c, (RangeCheck, UpdatesCheck, KpiCheck))
                and getattr(c, key, None) is not None
            ):
                v = item[key]
                try:
                    item[key] = float(v)
                except (TypeError, ValueError):
                    ctx.add([*base, key], f"{v!r} is not a number")
        item["asset_path"] = plan.assets[c.asset].path
        item["title"] = c.title or _title(item)
        plan.checks.append(item)


def _title(c: dict[str, Any]) -> str:
    unit = f" {c['unit']}" if c.get("unit") else ""
    if c["check"] == "range":
        lo, hi = c.get("min"), c.get("max")
        return (
            f"{c['asset']}.{c['point']} between {lo if lo is not None else '-∞'} and "
            f"{hi if hi is not None else '∞'}{unit}"
        )
    if c["check"] == "updates":
        # every_s is text when its ${…} value was not a number (already reported as such).
        every = c["every_s"]
        every = f"{every:g}" if isinstance(every, (int, float)) else str(every)
        return f"{c['asset']}{'.' + c['point'] if c.get('point') else ''} updates at least every {every} s"
    if c["check"] == "kpi":
        lo, hi = c.get("min"), c.get("max")
        bounds = (
            f" between {lo if lo is not None else '-∞'} and {hi if hi is not None else '∞'}{unit}"
            if lo is not None or hi is not None
            else ""
        )
        return f"{c['asset']}: KPI {c['kpi']} arrives{bounds}"
    if c["check"] == "increases":
        cond = f" while {c['while_point']}" if c.get("while_point") else ""
        return f"{c['asset']}.{c['point']} increases{cond}"
    pts = ", ".join(c.get("points") or []) or "all points"
    return f"{c['asset']}: quality good ({pts})"
