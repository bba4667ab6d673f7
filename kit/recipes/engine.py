"""The install engine: plan → connection test → atomic apply → commissioning; uninstall,
upgrade with rollback, and restore on runtime start.

Atomic means: every component of a deployment starts and reports ``running`` for a short
settle time, or every component created so far is removed again and the previous state
(nothing, or the old version on upgrade) is put back. Deployments are recorded in the
``KIT_DEPLOYMENTS`` KV bucket; :meth:`RecipeEngine.restore` re-creates them when the
runtime restarts, from the recorded specs (no recipe library needed).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from typing import Any

from kit import __version__, subjects
from kit.aio import wait_for
from kit.errors import AdapterError, ConfigError, KitError
from kit.payloads import HealthStatus, utcnow
from kit.recipes.checks import commission
from kit.recipes.loader import LoadedRecipe, parse_recipe, resolve_recipe
from kit.recipes.plan import Plan, build_plan
from kit.recipes.store import DeploymentStore
from kit.settings import ComponentSpec

log = logging.getLogger(__name__)


class InstallError(KitError):
    """Applying a deployment failed; everything it created was removed again."""

    exit_code = 7


class RecipeEngine:
    """Installs recipes into a running :class:`kit.runtime.Runtime`."""

    #: How long every new component must stay ``running`` before the install counts.
    settle_s: float = 0.5
    #: Upper bound for all components of a deployment to report ``running``.
    start_timeout_s: float = 20.0
    #: Upper bound for one device's connection test.
    connect_timeout_s: float = 10.0

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._lock = asyncio.Lock()
        self._tasks: dict[str, asyncio.Task[dict[str, Any]]] = {}

    @property
    def store(self) -> DeploymentStore:
        """The deployments KV store of the runtime's bus."""
        return DeploymentStore(self.runtime.bus, self.runtime.settings.data_dir)

    @property
    def host(self) -> Any:
        return self.runtime.host

    # -- planning -------------------------------------------------------------------------
    def plan(
        self,
        recipe: LoadedRecipe | Any,
        params: dict[str, Any] | None = None,
        deployment: str | None = None,
    ) -> Plan:
        """Build and check the plan (raises ConfigError listing every problem)."""
        lr = (
            recipe
            if isinstance(recipe, LoadedRecipe)
            else resolve_recipe(recipe, self.runtime.library)
        )
        dep = subjects.sanitize_token(deployment) if deployment else None
        plan = build_plan(
            lr,
            self.host,
            params or {},
            site=self.runtime.settings.site,
            deployment=dep,
            profiles=self.runtime.library.profiles(),
        )
        plan.deployment = subjects.sanitize_token(plan.deployment)
        if plan.problems:
            raise ConfigError(
                f"{lr.filename}: {len(plan.problems)} problem(s); nothing was installed",
                plan.problems,
            )
        return plan

    async def test_connections(self, plan: Plan) -> dict[str, str]:
        """Test every device connection of the plan before anything is created.

        Returns:
            Identification text by asset name.

        Raises:
            AdapterError: naming every asset that failed and why.
        """

        async def one(role: str) -> tuple[str, str | Exception]:
            a = plan.assets[role]
            cls = self.host.component(a.adapter).cls
            test = getattr(cls, "test_connection", None)
            if test is None:
                return role, f"{a.adapter}: no device to connect to"
            try:
                cfg = cls.Config.model_validate(a.config)
                call = test(cfg, **_library_kw(test, self.runtime.library))
                return role, str(await wait_for(call, self.connect_timeout_s))
            except TimeoutError:
                return role, AdapterError(f"no answer within {self.connect_timeout_s:g} s")
            except Exception as exc:  # adapters raise AdapterError; anything else is reported too
                return role, exc

        results = await asyncio.gather(*(one(r) for r in plan.assets))
        # Error texts quote settings (an endpoint URL may carry the password): hide secrets.
        failed = [
            plan.hide(
                f"asset {r!r} ({plan.assets[r].adapter} {_where(plan.assets[r].config)}): {v}"
            )
            for r, v in results
            if isinstance(v, Exception)
        ]
        if failed:
            raise AdapterError(
                "connection test failed; nothing was installed\n"
                + "\n".join(f"  {f}" for f in failed)
            )
        return {r: v for r, v in results}  # type: ignore[misc]

    # -- apply ----------------------------------------------------------------------------
    async def _apply(self, specs: list[ComponentSpec], owner: str) -> None:
        """Create ``specs`` and wait until each runs; on any failure remove them all."""
        created: list[str] = []
        try:
            for spec in specs:
                await self.runtime.add_component(spec, owner=owner)
                created.append(spec.name)
            await self._wait_running(created)
        except BaseException:
            for name in reversed(created):
                await self.runtime.supervisor.remove(name)
            raise

    async def _wait_running(self, names: list[str]) -> None:
        sup = self.runtime.supervisor
        deadline = time.monotonic() + self.start_timeout_s
        settled_since: float | None = None
        while True:
            insts = [sup.instances[n] for n in names]
            broken = [
                i
                for i in insts
                if i.last_error or i.status in (HealthStatus.failed, HealthStatus.backoff)
            ]
            if broken:
                raise InstallError(
                    "component(s) failed to start; the deployment was rolled back:\n"
                    + "\n".join(
                        f"  {i.name} ({i.type}): {i.last_error or i.status.value}" for i in broken
                    )
                )
            ok = all(i.status in (HealthStatus.running, HealthStatus.stopped) for i in insts)
            now = time.monotonic()
            if ok:
                settled_since = settled_since or now
                if now - settled_since >= self.settle_s:
                    return
            else:
                settled_since = None
            if now > deadline:
                slow = [i.name for i in insts if i.status is not HealthStatus.running]
                raise InstallError(
                    f"component(s) did not start within {self.start_timeout_s:g} s: "
                    f"{', '.join(slow)}; the deployment was rolled back"
                )
            await asyncio.sleep(0.05)  # polling the supervisor's view; bounded by the deadline

    async def _remove(self, names: list[str]) -> None:
        for n in reversed(names):
            await self.runtime.supervisor.remove(n)

    def _conflicts(self, plan: Plan) -> list[str]:
        return [
            f"component {c.name!r} already exists (owned by "
            f"{self.runtime.supervisor.instances[c.name].owner or 'the site config'})"
            for c in plan.components
            if c.name in self.runtime.supervisor.instances
            and self.runtime.supervisor.instances[c.name].owner != plan.deployment
        ]

    def _plugins(self, plan: Plan) -> list[dict[str, Any]]:
        from kit.recipes.bundle import dist_fingerprint

        out = {}
        for c in plan.components:
            reg = self.host.component(c.type)
            dist, version = self.host.dists.get(reg.plugin, ("(registered in-process)", ""))
            out[c.type] = {
                "type": c.type,
                "plugin": reg.plugin,
                "distribution": dist,
                "version": version,
                "sha256": dist_fingerprint(dist),
            }
        return sorted(out.values(), key=lambda p: p["type"])

    def _record(
        self, plan: Plan, ident: dict[str, str], old: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        lr = plan.recipe
        now = utcnow().isoformat()
        history = list((old or {}).get("history", []))
        if old:
            history.append(
                {
                    "version": old["version"],
                    "digest": old["digest"],
                    "params": old["params"],
                    "until": now,
                }
            )
        return {
            "id": plan.deployment,
            "recipe_id": lr.recipe.id,
            "version": lr.recipe.version,
            "title": lr.recipe.title,
            "recipe_text": lr.text,
            "recipe_filename": lr.filename,
            "digest": lr.digest,
            "params": plan.params,
            "site": self.runtime.settings.site,
            "components": [c.model_dump() for c in plan.components],
            "assets": {
                r: {
                    "path": a.path,
                    "adapter": a.adapter,
                    "profile": a.profile,
                    "identification": ident.get(r),
                }
                for r, a in plan.assets.items()
            },
            "checks": plan.checks,
            "writes": plan.writes,
            "plugins": self._plugins(plan),
            "kit_version": __version__,
            "installed_at": (old or {}).get("installed_at", now),
            "updated_at": now,
            "status": "commissioning" if plan.checks else "running",
            "report": None,
            "history": history[-10:],
        }

    # -- public operations ------------------------------------------------------------------
    async def install(
        self,
        recipe: Any,
        params: dict[str, Any] | None = None,
        deployment: str | None = None,
        *,
        wait_report: bool = False,
        check_duration_s: float | None = None,
    ) -> dict[str, Any]:
        """Install a recipe. Same recipe text and values as an existing deployment = no-op.

        Raises:
            ConfigError: validation problems (nothing installed).
            AdapterError: a device connection test failed (nothing installed).
            InstallError: a component failed to start (everything rolled back).
        """
        async with self._lock:
            plan = self.plan(recipe, params, deployment)
            old = await self.store.get(plan.deployment)
            if old is not None:
                if old["digest"] == plan.recipe.digest and old["params"] == plan.params:
                    missing = [
                        c["name"]
                        for c in old["components"]
                        if c["name"] not in self.runtime.supervisor.instances
                    ]
                    if not missing:
                        return {
                            "deployment": plan.deployment,
                            "changed": False,
                            "status": old["status"],
                            "message": "already installed with the same recipe and values; nothing to do",
                        }
                    # Same deployment, some components gone (e.g. restore failed while a plugin
                    # was missing): put back exactly the recorded ones.
                    ident = await self.test_connections(plan)
                    await self._apply(
                        [ComponentSpec(**c) for c in old["components"] if c["name"] in missing],
                        plan.deployment,
                    )
                    old["status"] = "running"
                    await self.store.put(old)
                    return {
                        "deployment": plan.deployment,
                        "changed": True,
                        "repaired": missing,
                        "components": [c["name"] for c in old["components"]],
                        "identification": ident,
                        "status": "running",
                        "message": f"re-created {len(missing)} missing component(s)",
                    }
                raise ConfigError(
                    f"deployment {plan.deployment!r} already exists (recipe {old['recipe_id']} "
                    f"{old['version']}); use upgrade to change it, or choose another deployment name"
                )
            conflicts = self._conflicts(plan)
            if conflicts:
                raise ConfigError(f"cannot install {plan.deployment!r}", conflicts)
            ident = await self.test_connections(plan)
            await self._apply(plan.components, plan.deployment)
            record = self._record(plan, ident)
            try:
                await self.store.put(record)
            except BaseException:
                await self._remove([c.name for c in plan.components])
                raise
        result = {
            "deployment": plan.deployment,
            "changed": True,
            "components": [c.name for c in plan.components],
            "identification": ident,
            "status": record["status"],
        }
        if plan.checks:
            task = self._start_commissioning(record, check_duration_s)
            if wait_report:
                result["report"] = await task
                result["status"] = "running"
        return result

    def _start_commissioning(
        self, record: dict[str, Any], duration: float | None
    ) -> asyncio.Task[dict[str, Any]]:
        lr = parse_recipe(record["recipe_text"], record["recipe_filename"])
        dur = duration if duration is not None else lr.recipe.commissioning.duration_s

        async def run() -> dict[str, Any]:
            report = await commission(self.runtime.bus, record, dur)
            current = await self.store.get(record["id"])
            if current is not None and current["digest"] == record["digest"]:
                current["report"] = report
                current["status"] = "running"
                await self.store.put(current)
            return report

        old = self._tasks.pop(record["id"], None)
        if old is not None:
            old.cancel()
        task = asyncio.get_running_loop().create_task(run(), name=f"commissioning:{record['id']}")
        self._tasks[record["id"]] = task
        return task

    def commissioning_task(self, deployment: str) -> asyncio.Task[dict[str, Any]] | None:
        """The running (or finished) acceptance checks of ``deployment``, if any."""
        return self._tasks.get(deployment)

    async def uninstall(self, deployment: str) -> dict[str, Any]:
        """Remove every component of a deployment and its record."""
        async with self._lock:
            rec = await self.store.get(deployment)
            if rec is None:
                names = [r["id"] for r in await self.store.all()]
                from kit.yamlfiles import suggest

                raise KitError(
                    f"no deployment {deployment!r}{suggest(deployment, names)}; "
                    "`kit deployments` lists them"
                )
            task = self._tasks.pop(rec["id"], None)
            if task is not None:
                task.cancel()
            names = [c["name"] for c in rec["components"]]
            # Also anything the supervisor knows as owned by it (e.g. from an older version).
            names += [
                n
                for n, i in self.runtime.supervisor.instances.items()
                if i.owner == rec["id"] and n not in names
            ]
            await self._remove(names)
            await self.store.delete(rec["id"])
            return {"deployment": rec["id"], "removed": names}

    async def upgrade(
        self,
        deployment: str,
        recipe: Any,
        params: dict[str, Any] | None = None,
        *,
        wait_report: bool = False,
        check_duration_s: float | None = None,
    ) -> dict[str, Any]:
        """Replace a deployment by a new recipe version (or new values); roll back on failure.

        Values not given are taken from the current deployment.
        """
        async with self._lock:
            old = await self.store.get(deployment)
            if old is None:
                raise KitError(f"no deployment {deployment!r}; install it first")
            lr = (
                recipe
                if isinstance(recipe, LoadedRecipe)
                else resolve_recipe(recipe, self.runtime.library)
            )
            merged = {k: v for k, v in old["params"].items() if k in lr.recipe.parameters}
            merged.update(params or {})
            plan = self.plan(lr, merged, old["id"])
            if old["digest"] == plan.recipe.digest and old["params"] == plan.params:
                return {
                    "deployment": old["id"],
                    "changed": False,
                    "message": "same recipe and values; nothing to do",
                }
            conflicts = self._conflicts(plan)
            if conflicts:
                raise ConfigError(f"cannot upgrade {plan.deployment!r}", conflicts)
            ident = await self.test_connections(plan)
            old_specs = [ComponentSpec(**c) for c in old["components"]]
            await self._remove([c.name for c in old_specs])
            try:
                await self._apply(plan.components, plan.deployment)
            except BaseException as exc:
                # Roll back: the old version comes back exactly as it was recorded.
                await self._apply(old_specs, old["id"])
                if isinstance(exc, KitError):
                    raise InstallError(
                        f"upgrade of {old['id']!r} to {lr.recipe.version} failed; rolled back to "
                        f"{old['version']}:\n{exc}"
                    ) from None
                raise
            record = self._record(plan, ident, old)
            await self.store.put(record)
        result = {
            "deployment": plan.deployment,
            "changed": True,
            "from": old["version"],
            "to": lr.recipe.version,
            "components": [c.name for c in plan.components],
            "status": record["status"],
        }
        if plan.checks:
            task = self._start_commissioning(record, check_duration_s)
            if wait_report:
                result["report"] = await task
        return result

    async def restore(self) -> list[str]:
        """Re-create every recorded deployment (called once when the runtime starts).

        A deployment whose components cannot be created (plugin removed, config no longer
        valid) is logged and marked ``restore_failed`` in its record; others are unaffected.
        """
        restored = []
        for rec in await self.store.all():
            specs = [ComponentSpec(**c) for c in rec["components"]]
            created: list[str] = []
            try:
                for spec in specs:
                    if spec.name in self.runtime.supervisor.instances:
                        continue
                    await self.runtime.add_component(spec, owner=rec["id"])
                    created.append(spec.name)
            except KitError as exc:
                log.error("deployment %s could not be restored: %s", rec["id"], exc)
                await self._remove(created)
                rec["status"] = f"restore_failed: {exc}"
                await self.store.put(rec)
                continue
            if rec.get("status", "").startswith("restore_failed"):
                rec["status"] = "running"
                await self.store.put(rec)
            restored.append(rec["id"])
        return restored


def _library_kw(fn: Any, library: Any) -> dict[str, Any]:
    """``{"library": library}`` if the adapter's ``test_connection`` takes it (kit adapters
    do, to find site profiles); older adapters are called as before."""
    try:
        return {"library": library} if "library" in inspect.signature(fn).parameters else {}
    except (TypeError, ValueError):
        return {}


def _where(config: dict[str, Any]) -> str:
    for key in ("endpoint", "url", "host"):
        if key in config:
            port = f":{config['port']}" if key == "host" and "port" in config else ""
            return f"at {config[key]}{port}"
    return ""


async def restore_deployments(runtime: Any) -> None:
    """Restore recorded deployments into a freshly started runtime (never raises)."""
    engine = runtime.recipe_engine
    try:
        ids = await engine.restore()
        if ids:
            log.info("restored %d deployment(s): %s", len(ids), ", ".join(ids))
    except Exception:  # a broken record must not keep the runtime from starting
        log.exception("restoring deployments failed")
