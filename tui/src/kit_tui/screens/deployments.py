"""Deployments: installed recipes with status; uninstall, upgrade, bundle export/install."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from kit.api import deployments as dep_api
from kit.api import recipes as rec_api
from kit_tui.data.format import short
from kit_tui.screens.base import KitScreen
from kit_tui.screens.dialogs import ConfirmDialog, PromptDialog
from kit_tui.widgets.banner import Unavailable
from kit_tui.widgets.fields import field_lines
from kit_tui.widgets.paramform import convert
from kit_tui.widgets.tables import row_table


def dep_name(d: dep_api.DeploymentSummary) -> str:
    """Name of a deployment entry."""
    return d.deployment


def describe(model: Any) -> str:
    """``key: value`` lines of a deployment or bundle (nested values indented, not as dicts)."""
    d = model.model_dump(mode="json", by_alias=True, exclude_none=True)
    return "\n".join(field_lines(d))


class DeploymentsScreen(KitScreen):
    """Installed deployments and what can be done with them."""

    TITLE_TEXT = "Deployments"
    BINDINGS = [
        Binding("u", "uninstall", "Uninstall"),
        Binding("g", "upgrade", "Upgrade"),
        Binding("c", "change", "Change values"),
        Binding("e", "export", "Export bundle"),
        Binding("b", "bundle_install", "Install bundle"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.deployments: list[dep_api.DeploymentSummary] = []

    def compose_body(self) -> ComposeResult:
        yield Unavailable(id="deployments-unavailable")
        table = row_table(
            "deployments",
            (
                ("name", "Deployment"),
                ("recipe", "Recipe"),
                ("status", "Status"),
                ("assets", "Assets"),
            ),
        )
        yield table
        yield Static("", id="detail")

    def reload(self) -> None:
        self.fetch()

    @work(exclusive=True, group="deployments")
    async def fetch(self) -> None:
        """Load ``deployments.list``."""
        table = self.query_one("#deployments", DataTable)
        try:
            self.deployments = (await self.call(dep_api.LIST)).deployments
            self.query_one("#deployments-unavailable", Unavailable).show(None)
        except Exception as exc:
            self.deployments = []
            self.query_one("#deployments-unavailable", Unavailable).show(self.explain(exc))
        table.clear()
        for d in self.deployments:
            status = d.status
            mark = (
                "●"
                if status in ("running", "installed", "ok", "passed")
                else "✗"
                if status in ("failed", "error")
                else "◐"
            )
            recipe = f"{d.recipe} {d.version}".strip()
            table.add_row(
                dep_name(d),
                short(recipe, 24),
                Text(f"{mark} {status}"),
                short(", ".join(d.assets), 30),
                key=dep_name(d),
            )
        if not self.deployments:
            self.query_one("#detail", Static).update(
                "No deployments. Install one from the catalog (2)."
            )

    def _current(self) -> str | None:
        table = self.query_one("#deployments", DataTable)
        if table.row_count == 0:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def on_data_table_row_highlighted(self, _e: DataTable.RowHighlighted) -> None:
        name = self._current()
        d = next((x for x in self.deployments if dep_name(x) == name), None)
        if d is not None:
            self.query_one("#detail", Static).update(describe(d))

    @work(group="deployment-actions")
    async def _act(self, endpoint: Any, body: Any, done: str, timeout: float = 120) -> None:
        try:
            result = await self.call(endpoint, body, timeout=timeout)
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        deployment = getattr(result, "deployment", None)
        self.notify(done + (f": {deployment}" if deployment else ""))
        self.fetch()

    def action_uninstall(self) -> None:
        """Uninstall the highlighted deployment after confirmation."""
        name = self._current()
        if name is None:
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._act(
                    rec_api.UNINSTALL,
                    rec_api.UninstallRequest(deployment=name),
                    f"uninstalled {name}",
                )

        self.app.push_screen(
            ConfirmDialog(f"Uninstall deployment {name}? Its components stop and are removed."),
            answer,
        )

    def action_upgrade(self) -> None:
        """Upgrade the highlighted deployment to a recipe: an id of the runtime's recipe library
        (its current version), or the path of a recipe file (a newer version delivered as a file)."""
        name = self._current()
        d = next((x for x in self.deployments if dep_name(x) == name), None)
        if d is None:
            return

        def answer(recipe: str | None) -> None:
            if recipe:
                self._upgrade(name, recipe)

        self.app.push_screen(
            PromptDialog(
                f"Upgrade {name} to recipe (id, or path of a recipe .yaml file; "
                "rolls back on failure):",
                value=d.recipe,
            ),
            answer,
        )

    @work(group="deployment-actions")
    async def _upgrade(self, name: str, recipe: str) -> None:
        # The recipe engine resolves an id in its own library, or takes the recipe's text: a
        # file is read here (the TUI may run on another machine than the runtime).
        from kit_tui.screens import wizard

        ref: rec_api.RecipeRef = recipe
        if recipe.endswith((".yaml", ".yml")) or "/" in recipe:
            try:
                ref = rec_api.RecipeText(
                    text=Path(recipe).expanduser().read_text(encoding="utf-8"), filename=recipe
                )
            except OSError as exc:
                self.notify(
                    f"cannot read recipe file {recipe}: {exc.strerror or exc}",
                    severity="error",
                    timeout=8,
                )
                return
        body = rec_api.UpgradeRequest(deployment=name, recipe=ref)
        if wizard.CHECK_DURATION_S is not None:
            body.check_duration_s = wizard.CHECK_DURATION_S
        try:
            result = await self.call(rec_api.UPGRADE, body, timeout=120)
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        if not result.changed:
            self.notify(f"{name} not changed: {result.message or 'same recipe and values'}")
        else:
            self.notify(
                f"upgraded {name}"
                + (f" from {result.from_}" if result.from_ else "")
                + (f" to {result.to}" if result.to else "")
            )
        self.fetch()

    def action_change(self) -> None:
        """Change the highlighted deployment's values: the install wizard, pre-filled with the
        current values, plans the change and upgrades (rolled back if it fails)."""
        name = self._current()
        if name is not None:
            self._change(name)

    @work(group="deployment-actions")
    async def _change(self, name: str) -> None:
        from kit_tui.screens.wizard import WizardScreen

        try:
            dep = await self.call(dep_api.SHOW, dep_api.DeploymentRequest(deployment=name))
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        self.app.push_screen(WizardScreen(dep.recipe_id, upgrade_of=name, values=dep.params))

    def action_export(self) -> None:
        """Export the highlighted deployment as a bundle file on the machine the TUI runs on."""
        name = self._current()
        if name is None:
            return

        def answer(path: str | None) -> None:
            if path:
                self._export(name, path)

        self.app.push_screen(
            PromptDialog("Write bundle to (file path):", value=f"{name}.kitbundle"), answer
        )

    @work(group="deployment-actions")
    async def _export(self, name: str, path: str) -> None:
        # The recipe engine answers the bundle itself (base64 in ``bundle``); the TUI writes
        # it where the technician asked (the TUI may run on another machine than the runtime).
        try:
            result = await self.call(
                dep_api.EXPORT, dep_api.ExportRequest(deployments=[name]), timeout=120
            )
            Path(path).write_bytes(base64.b64decode(result.bundle))
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        self.notify(f"bundle written: {path}")

    def action_bundle_install(self) -> None:
        """Inspect a bundle file, show what it holds, then install it after confirmation."""

        def answer(path: str | None) -> None:
            if path:
                self._inspect_then_install(path)

        self.app.push_screen(
            PromptDialog("Bundle to install (file path):", placeholder="site.kitbundle"), answer
        )

    @work(group="deployment-actions")
    async def _inspect_then_install(self, path: str) -> None:
        try:
            # The recipe engine takes the bundle's bytes (base64 in ``bundle``), read here.
            data = base64.b64encode(Path(path).expanduser().read_bytes()).decode()
            body = dep_api.BundleInstallRequest(bundle=data, name=path)
            info = await self.call(dep_api.INSPECT, dep_api.InspectRequest(bundle=data, name=path))
        except OSError as exc:
            self.notify(f"cannot read {path}: {exc.strerror or exc}", severity="error", timeout=8)
            return
        except Exception as exc:
            self.notify(self.explain(exc), severity="error", timeout=8)
            return
        self.query_one("#detail", Static).update("[b]Bundle[/b]\n" + describe(info))
        if not await self.app.push_screen_wait(
            ConfirmDialog(f"Install bundle {path}? (details below the table)")
        ):
            return
        # Site-specific values (IP addresses, secrets) travel blanked: ask for each one here.
        values: dict[str, dict[str, Any]] = {}
        for d in info.deployments:
            for b in d.get("blanked") or []:
                answer = await self.app.push_screen_wait(
                    PromptDialog(
                        f"{d.get('id')}: {b.get('prompt') or b.get('name')} ({b.get('name')})",
                        placeholder=str(b.get("type", "")),
                    )
                )
                if not answer:
                    self.notify("bundle install cancelled; nothing was installed")
                    return
                try:
                    values.setdefault(str(d.get("id")), {})[str(b["name"])] = convert(b, answer)
                except ValueError as exc:
                    self.notify(
                        f"{b.get('name')}: {exc}; nothing was installed",
                        severity="error",
                        timeout=8,
                    )
                    return
        if values:
            body.values = values
        self._act(dep_api.INSTALL, body, "bundle installed")
