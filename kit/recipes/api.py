"""Control API endpoints of the recipe engine (``kit.control.recipes.*``, ``deployments.*``,
``bundles.*``). The CLI and the TUI drive installs only through these."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from kit.api import Problem, problem_from_text, run_cpu
from kit.api import deployments as dep_api
from kit.api import recipes as rec_api
from kit.errors import ConfigError, KitError
from kit.recipes import bundle as bundles
from kit.recipes.checks import report_markdown
from kit.recipes.loader import parse_recipe, resolve_recipe
from kit.recipes.match import match_recipe
from kit.recipes.plan import build_plan

if TYPE_CHECKING:
    from kit.recipes.engine import RecipeEngine


def recipe_summary(lr: Any) -> dict[str, Any]:
    """One line of ``kit recipes`` (plus what each asset needs, for catalogues)."""
    from kit.recipes.match import needed_points

    r = lr.recipe
    return {
        "id": r.id,
        "version": r.version,
        "title": r.title,
        "summary": r.summary,
        "kpi": r.kpi.name,
        "plugins": sorted({a.plugin for a in r.analytics} | ({"alarms"} if r.alarms else set())),
        "adapters": sorted({a.adapter for a in r.assets.values()}),
        "file": lr.filename,
        "needs": [
            {"name": role, "adapter": spec.adapter, "points": sorted(needed_points(lr, role))}
            for role, spec in r.assets.items()
        ],
    }


def profile_choices(lr: Any, host: Any, library: Any, params: list[dict[str, Any]]) -> None:
    """Give each ``profile`` parameter ``choices``: the site library's profiles (site, shipped,
    plugin) that fit every asset using it — right protocol, all required points — so the
    TUI wizard offers a list that includes the site's own profiles."""
    from kit.recipes.match import needed_points

    lib = library.profiles()
    for p in params:
        if p.get("type") != "profile":
            continue
        ref = "${" + p["name"] + "}"
        fitting: set[str] | None = None
        for role, spec in lr.recipe.assets.items():
            if spec.profile != ref:
                continue
            try:
                proto = getattr(host.component(spec.adapter).cls, "protocol", None)
            except Exception:  # unknown adapter: the plan names it; offer nothing here
                proto = None
            ids = {
                x.id
                for x in lib.providing(needed_points(lr, role))
                if proto is None or x.protocol == proto
            }
            fitting = ids if fitting is None else fitting & ids
        p["choices"] = [
            {
                "value": pid,
                "label": f"{pid} — {lib.profiles[pid].vendor} {lib.profiles[pid].model}"
                f" ({lib.origins[pid]})",
            }
            for pid in sorted(fitting or ())
        ]


def _public(rec: dict[str, Any]) -> dict[str, Any]:
    secret = {
        n
        for n, p in parse_recipe(
            rec["recipe_text"], rec["recipe_filename"]
        ).recipe.parameters.items()
        if p.type == "secret"
    }
    # The record also holds the resolved component configurations (the runtime needs the
    # password there): every occurrence of a secret value is hidden, not only the parameter.
    hidden = sorted(
        {str(v) for k, v in rec["params"].items() if k in secret and str(v)}, key=len, reverse=True
    )
    out: dict[str, Any] = _hide({k: v for k, v in rec.items() if k != "recipe_text"}, hidden)
    out["params"] = {k: ("***" if k in secret else v) for k, v in rec["params"].items()}
    return out


def _hide(value: Any, hidden: list[str]) -> Any:
    """``value`` with every secret string in it replaced by ``***`` (also inside longer text,
    e.g. a URL with the password in it)."""
    if isinstance(value, dict):
        return {k: _hide(v, hidden) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide(v, hidden) for v in value]
    if isinstance(value, str):
        for h in hidden:
            value = value.replace(h, "***")
    return value


def _ref(recipe: Any) -> Any:
    """A request's recipe reference as the engine takes it (an id or ``{text, filename}``)."""
    return recipe if isinstance(recipe, str) else recipe.model_dump()


async def _resolved(recipe: Any, host: Any) -> Any:
    """Inline recipe text is parsed off the event loop (it may be large or hostile YAML)."""
    if isinstance(recipe, str):
        return recipe
    return await run_cpu(parse_recipe, recipe.text, recipe.filename)


def add_endpoints(api: Any, runtime: Any) -> None:
    """Serve the runtime's recipe engine (``runtime.recipe_engine``) and library
    (``runtime.library``) as ``recipes.*``, ``deployments.*`` and ``bundles.*``."""
    engine: RecipeEngine = runtime.recipe_engine
    host = runtime.host
    library = runtime.library

    async def recipes_list(_b: Any) -> dict[str, Any]:
        lib = library.recipes()
        return {
            "recipes": [recipe_summary(lr) for lr in lib.recipes.values()],
            "problems": [problem_from_text(p) for p in lib.problems],
        }

    async def recipes_show(b: rec_api.ByIdRequest) -> dict[str, Any]:
        lr = library.recipe(b.id)
        dumped = lr.recipe.model_dump(mode="json")
        params = [{"name": n, **p} for n, p in dumped["parameters"].items()]
        profile_choices(lr, host, library, params)
        return {**recipe_summary(lr), "text": lr.text, "recipe": dumped, "parameters": params}

    async def recipes_match(b: rec_api.ByIdRequest) -> dict[str, Any]:
        lr = resolve_recipe(b.id, library)
        return await match_recipe(lr, host, runtime)

    def _validate(b: rec_api.ValidateRequest) -> dict[str, Any]:
        # Runs in a worker thread: parsing and planning are CPU work on user-sent YAML.
        try:
            lr = parse_recipe(b.text, b.filename or "recipe.yaml")
        except ConfigError as exc:
            problems = [problem_from_text(p) for p in exc.problems] or [Problem(message=str(exc))]
            return {"ok": False, "problems": problems, "pass": "shape"}
        plan = build_plan(
            lr,
            host,
            b.params or {},
            site=runtime.settings.site,
            profiles=library.profiles(),
            sample=not b.params,
        )
        return {
            "ok": not plan.problems,
            "problems": [problem_from_text(p) for p in plan.problems],
            "pass": "plugins",
            "id": lr.recipe.id,
        }

    async def recipes_validate(b: rec_api.ValidateRequest) -> dict[str, Any]:
        return await run_cpu(_validate, b)

    async def recipes_plan(b: rec_api.PlanRequest) -> dict[str, Any]:
        return engine.plan(await _resolved(b.recipe, host), b.params, b.deployment).describe()

    async def recipes_test_connection(b: rec_api.PlanRequest) -> dict[str, Any]:
        plan = engine.plan(await _resolved(b.recipe, host), b.params, b.deployment)
        ident = await engine.test_connections(plan)
        return {
            "identification": ident,
            "devices": [{"name": k, "detail": v} for k, v in ident.items()],
        }

    async def recipes_install(b: rec_api.InstallRequest) -> dict[str, Any]:
        return await engine.install(
            await _resolved(b.recipe, host),
            b.params,
            b.deployment,
            wait_report=b.wait_report,
            check_duration_s=b.check_duration_s,
        )

    async def recipes_uninstall(b: rec_api.UninstallRequest) -> dict[str, Any]:
        return await engine.uninstall(b.deployment)

    async def recipes_upgrade(b: rec_api.UpgradeRequest) -> dict[str, Any]:
        return await engine.upgrade(
            b.deployment,
            await _resolved(b.recipe, host),
            b.params,
            wait_report=b.wait_report,
            check_duration_s=b.check_duration_s,
        )

    async def deployments_list(_b: Any) -> dict[str, Any]:
        out = []
        for rec in await engine.store.all():
            comps = [runtime.supervisor.instances.get(c["name"]) for c in rec["components"]]
            out.append(
                {
                    "id": rec["id"],
                    "deployment": rec["id"],
                    "recipe": rec["recipe_id"],
                    "version": rec["version"],
                    "assets": sorted({a["path"] for a in rec["assets"].values()}),
                    "title": rec.get("title"),
                    "status": rec["status"],
                    "installed_at": rec["installed_at"],
                    "result": (rec.get("report") or {}).get("result"),
                    "components": {
                        c["name"]: (i.status.value if i else "absent")
                        for c, i in zip(rec["components"], comps)
                    },
                }
            )
        return {"deployments": out}

    async def deployments_show(b: dep_api.DeploymentRequest) -> dict[str, Any]:
        rec = await engine.store.get(b.deployment)
        if rec is None:
            raise KitError(f"no deployment {b.deployment!r}; `kit deployments` lists them")
        public = _public(rec)
        return {**public, "deployment": rec["id"], "markdown": report_markdown(public)}

    async def bundles_export(b: dep_api.ExportRequest) -> dict[str, Any]:
        return {"bundle": bundles.encode(await bundles.export_bundle(engine, b.deployments))}

    async def bundles_inspect(b: dep_api.InspectRequest) -> dict[str, Any]:
        data = bundles.decode(b.bundle)
        records = await engine.store.all()
        # Signatures are checked against this site's keys; the YAML work runs off the loop.
        return await run_cpu(
            bundles.inspect_bundle,
            data,
            library,
            records,
            b.name or "bundle",
            runtime.trust_store().keys,
        )

    async def bundles_install(b: dep_api.BundleInstallRequest) -> dict[str, Any]:
        progress = None
        if b.progress:
            subject = b.progress
            nc = runtime.bus.nc

            sent: set[asyncio.Task[None]] = set()

            def progress(line: str) -> None:
                # Fire and forget (in order): a caller that went away must not stop the install.
                t = asyncio.get_running_loop().create_task(nc.publish(subject, line.encode()))
                sent.add(t)
                t.add_done_callback(sent.discard)

        return await bundles.install_bundle(
            engine,
            bundles.decode(b.bundle),
            b.values,
            check_duration_s=b.check_duration_s,
            wait_report=b.wait_report,
            name=b.name or "bundle",
            progress=progress,
        )

    for spec, fn in (
        (rec_api.LIST, recipes_list),
        (rec_api.SHOW, recipes_show),
        (rec_api.MATCH, recipes_match),
        (rec_api.VALIDATE, recipes_validate),
        (rec_api.PLAN, recipes_plan),
        (rec_api.TEST_CONNECTION, recipes_test_connection),
        (rec_api.INSTALL, recipes_install),
        (rec_api.UNINSTALL, recipes_uninstall),
        (rec_api.UPGRADE, recipes_upgrade),
        (dep_api.LIST, deployments_list),
        (dep_api.SHOW, deployments_show),
        (dep_api.EXPORT, bundles_export),
        (dep_api.INSPECT, bundles_inspect),
        (dep_api.INSTALL, bundles_install),
    ):
        api.add(spec, fn)
