"""Control API endpoints of the recipe engine (``kit.control.recipes.*``, ``deployments.*``,
``bundles.*``). The CLI and the TUI drive installs only through these."""

from __future__ import annotations

from typing import Any

from kit.errors import ConfigError, KitError
from kit.recipes import bundle as bundles
from kit.recipes.checks import report_markdown
from kit.recipes.loader import parse_recipe, resolve_recipe
from kit.recipes.match import match_recipe
from kit.recipes.plan import build_plan


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
    out = {k: v for k, v in rec.items() if k != "recipe_text"}
    out["params"] = {k: ("***" if k in secret else v) for k, v in rec["params"].items()}
    return out


def _body(body: Any, *required: str) -> dict[str, Any]:
    body = body or {}
    if not isinstance(body, dict):
        raise KitError("request body must be a JSON object")
    missing = [k for k in required if k not in body]
    if missing:
        raise KitError(f"missing field(s): {', '.join(missing)}")
    return body


def add_endpoints(api: Any, runtime: Any) -> None:
    """Serve the runtime's recipe engine (``runtime.recipe_engine``) and library
    (``runtime.library``) as ``recipes.*``, ``deployments.*`` and ``bundles.*``."""
    engine = runtime.recipe_engine
    host = runtime.host
    library = runtime.library

    async def recipes_list(_b: Any) -> dict[str, Any]:
        lib = library.recipes()
        return {
            "recipes": [recipe_summary(lr) for lr in lib.recipes.values()],
            "problems": lib.problems,
        }

    async def recipes_show(b: Any) -> dict[str, Any]:
        lr = library.recipe(_body(b, "id")["id"])
        dumped = lr.recipe.model_dump(mode="json")
        params = [{"name": n, **p} for n, p in dumped["parameters"].items()]
        profile_choices(lr, host, library, params)
        return {**recipe_summary(lr), "text": lr.text, "recipe": dumped, "parameters": params}

    async def recipes_match(b: Any) -> dict[str, Any]:
        lr = resolve_recipe(_body(b, "id")["id"], library)
        return await match_recipe(lr, host, runtime)

    async def recipes_validate(b: Any) -> dict[str, Any]:
        b = _body(b, "text")
        try:
            lr = parse_recipe(b["text"], b.get("filename") or "recipe.yaml")
        except ConfigError as exc:
            return {"ok": False, "problems": exc.problems or [str(exc)], "pass": "shape"}
        plan = build_plan(
            lr,
            host,
            b.get("params") or {},
            site=runtime.settings.site,
            profiles=library.profiles(),
            sample=not b.get("params"),
        )
        return {
            "ok": not plan.problems,
            "problems": plan.problems,
            "pass": "plugins",
            "id": lr.recipe.id,
        }

    async def recipes_plan(b: Any) -> dict[str, Any]:
        b = _body(b, "recipe")
        return engine.plan(b["recipe"], b.get("params"), b.get("deployment")).describe()

    async def recipes_test_connection(b: Any) -> dict[str, Any]:
        b = _body(b, "recipe")
        plan = engine.plan(b["recipe"], b.get("params"), b.get("deployment"))
        ident = await engine.test_connections(plan)
        return {
            "identification": ident,
            "devices": [{"name": k, "detail": v} for k, v in ident.items()],
        }

    async def recipes_install(b: Any) -> dict[str, Any]:
        b = _body(b, "recipe")
        return await engine.install(
            b["recipe"],
            b.get("params"),
            b.get("deployment"),
            wait_report=bool(b.get("wait_report")),
            check_duration_s=b.get("check_duration_s"),
        )

    async def recipes_uninstall(b: Any) -> dict[str, Any]:
        return await engine.uninstall(_body(b, "deployment")["deployment"])

    async def recipes_upgrade(b: Any) -> dict[str, Any]:
        b = _body(b, "deployment", "recipe")
        return await engine.upgrade(
            b["deployment"],
            b["recipe"],
            b.get("params"),
            wait_report=bool(b.get("wait_report")),
            check_duration_s=b.get("check_duration_s"),
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

    async def deployments_show(b: Any) -> dict[str, Any]:
        dep = _body(b, "deployment")["deployment"]
        rec = await engine.store.get(dep)
        if rec is None:
            raise KitError(f"no deployment {dep!r}; `kit deployments` lists them")
        return {**_public(rec), "deployment": rec["id"], "markdown": report_markdown(rec)}

    async def bundles_export(b: Any) -> dict[str, Any]:
        deps = _body(b, "deployments")["deployments"]
        return {"bundle": bundles.encode(await bundles.export_bundle(engine, list(deps)))}

    async def bundles_inspect(b: Any) -> dict[str, Any]:
        b = _body(b, "bundle")
        return bundles.inspect_bundle(
            bundles.decode(b["bundle"]),
            library,
            await engine.store.all(),
            b.get("name") or "bundle",
            runtime.trust_store().keys,  # signatures are checked against this site's keys
        )

    async def bundles_install(b: Any) -> dict[str, Any]:
        b = _body(b, "bundle")
        return await bundles.install_bundle(
            engine,
            bundles.decode(b["bundle"]),
            b.get("values"),
            check_duration_s=b.get("check_duration_s"),
            wait_report=bool(b.get("wait_report")),
            name=b.get("name") or "bundle",
        )

    for name, fn in {
        "recipes.list": recipes_list,
        "recipes.show": recipes_show,
        "recipes.match": recipes_match,
        "recipes.validate": recipes_validate,
        "recipes.plan": recipes_plan,
        "recipes.test_connection": recipes_test_connection,
        "recipes.install": recipes_install,
        "recipes.uninstall": recipes_uninstall,
        "recipes.upgrade": recipes_upgrade,
        "deployments.list": deployments_list,
        "deployments.show": deployments_show,
        "bundles.export": bundles_export,
        "bundles.inspect": bundles_inspect,
        "bundles.install": bundles_install,
    }.items():
        api.add(name, fn)
