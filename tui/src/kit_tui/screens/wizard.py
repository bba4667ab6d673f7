"""Install wizard: parameters (generated form, inline validation) → connection test →
plan → install progress → commissioning report. The same steps change an installed
deployment's values (``WizardScreen(recipe, upgrade_of=deployment, values=current)``):
the form starts from the current values and the last step calls ``recipes.upgrade``.

Every step calls the recipes endpoints of the control API (``recipes.show``,
``recipes.test_connection``, ``recipes.plan``, ``recipes.install``, ``deployments.show``);
nothing is created until the user confirms the plan.
"""

from __future__ import annotations

import asyncio
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Select, Static

from kit.api import Problem
from kit.api import deployments as dep_api
from kit.api import recipes as rec_api
from kit.api import scan as scan_api
from kit_tui.screens.base import KitScreen
from kit_tui.screens.wizard_text import plan_details, plan_summary, report_lines
from kit_tui.widgets.paramform import ParamForm, param_name

STEPS = ("Parameters", "Plan", "Install", "Report")
UPGRADE_STEPS = ("Values", "Plan", "Upgrade", "Report")
#: How long the wizard waits for the report beyond the commissioning time (a bounded UI poll).
REPORT_MARGIN_S = 30.0
#: Pre-filled commissioning duration (None: the recipe's own, e.g. 60 s). The technician can
#: change it in the form; tests and demos shorten it. The checks always run on live data.
CHECK_DURATION_S: float | None = None
#: The form's own field for the commissioning time (recipe parameter names cannot start with ``_``).
COMMISSIONING_FIELD = "_commissioning_s"


def commissioning_param(recipe: rec_api.RecipeDetail) -> dict[str, Any]:
    """The wizard's extra form field: how long the acceptance checks watch live data."""
    own = float((recipe.recipe.get("commissioning") or {}).get("duration_s") or 30.0)
    default = CHECK_DURATION_S if CHECK_DURATION_S is not None else own
    return {
        "name": COMMISSIONING_FIELD,
        "prompt": "Commissioning: acceptance checks watch live data for",
        "type": "number",
        "unit": "s",
        "min": 1,
        "max": 3600,
        "default": default,
        "help": f"The recipe's own time is {own:g} s; a shorter watch proves less. "
        "You may leave the wizard while it runs: the report appears on the Deployments screen.",
    }


def field_errors(problems: list[Problem], names: set[str]) -> dict[str, str]:
    """Parameter errors among a runtime error's structured problems, by parameter name.

    A problem belongs to a parameter when its field is ``parameters.<name>`` (the recipe
    engine's location), ``params.<name>`` (the request body's) or the bare name.
    """
    out: dict[str, str] = {}
    for p in problems:
        field = p.field or ""
        for prefix in ("parameters.", "params."):
            field = field.removeprefix(prefix)
        if field in names:
            out.setdefault(field, p.message + (f" ({p.hint})" if p.hint else ""))
    return out


class WizardScreen(KitScreen):
    """Install one recipe step by step."""

    BINDINGS = [
        Binding("ctrl+t", "test", "Test connection", show=True, priority=True),
        Binding("ctrl+n", "next", "Next", show=True, priority=True),
        Binding("ctrl+d", "details", "Plan details", show=True, priority=True),
        Binding("escape", "close", "Cancel", show=True),
    ]

    def __init__(
        self,
        recipe_id: str,
        values: dict[str, Any] | None = None,
        origin: str = "",
        *,
        upgrade_of: str | None = None,
    ) -> None:
        """``values`` pre-fill the form: from the scan inventory (described by ``origin``), or
        an installed deployment's current values when ``upgrade_of`` names it (change mode)."""
        super().__init__()
        self.recipe_id = recipe_id
        self.prefill = dict(values or {})
        self.origin = origin
        self.upgrade_of = upgrade_of
        #: Values the form starts from (an installed deployment's, when changing it).
        self.initial: dict[str, Any] = dict(values or {}) if upgrade_of else {}
        self.TITLE_TEXT = f"Change {upgrade_of}" if upgrade_of else f"Install {recipe_id}"
        self.steps = UPGRADE_STEPS if upgrade_of else STEPS
        self.plan: rec_api.PlanReply | None = None
        self.show_details = False
        self.tested_text = ""
        self.recipe: rec_api.RecipeDetail | None = None
        self.step = 0
        self.params: dict[str, Any] = {}
        self.tested: dict[str, Any] | None = None
        self.deployment: str | None = None
        self.check_duration_s: float | None = None
        self.busy = False

    def compose_body(self) -> ComposeResult:
        yield Static("", id="wizard-steps", classes="section-title")
        with Vertical(id="wizard-body"):
            yield Static("loading recipe…", id="wizard-intro")
            yield VerticalScroll(Static("", id="wizard-view"), id="wizard-view-box")
        yield Static("", id="wizard-status", markup=False)
        with Horizontal(id="wizard-buttons"):
            yield Button("Test connection ^T", id="btn-test", compact=True)
            yield Button("Next ^N", id="btn-next", variant="primary", compact=True)
            yield Button("Cancel Esc", id="btn-close", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._render_steps()
        self.query_one("#wizard-view-box").display = False
        self.load()

    def _render_steps(self) -> None:
        parts = [
            f"[reverse] {i + 1} {s} [/reverse]" if i == self.step else f" {i + 1} {s} "
            for i, s in enumerate(self.steps)
        ]
        self.query_one("#wizard-steps", Static).update(f"{self.recipe_id}: " + "›".join(parts))

    def status(self, text: str, error: bool = False) -> None:
        """Show one status line under the form."""
        w = self.query_one("#wizard-status", Static)
        w.update(text)
        w.set_class(error, "fail")

    @work(exclusive=True, group="wizard")
    async def load(self) -> None:
        """Fetch the recipe and build its form."""
        try:
            r = self.recipe = await self.call(rec_api.SHOW, rec_api.ByIdRequest(id=self.recipe_id))
        except Exception as exc:
            self.query_one("#wizard-intro", Static).update(escape(self.explain(exc)))
            return
        # The form takes parameter definitions as the recipe declares them.
        params = [p.model_dump(mode="json", exclude_none=True) for p in r.parameters]
        origin = f"\n[i]Pre-filled from the scan: {escape(self.origin)}[/i]" if self.origin else ""
        self.query_one("#wizard-intro", Static).update(
            f"[b]{escape(r.title)}[/b]  {escape(r.summary or '')}{origin}"
        )
        form = ParamForm([*params, commissioning_param(r)], self.prefill, id="param-form")
        await self.query_one("#wizard-body").mount(form, before="#wizard-view-box")
        if not self.upgrade_of and not self.prefill:
            await self._offer_scanned_devices(form)
        if params:
            # Pre-filled from the scan: the first field still empty (else the first field).
            todo = [
                p for p in params if param_name(p) not in self.prefill and p.get("default") is None
            ]
            form.focus_field(param_name((todo if self.prefill and todo else params)[0]))
        self.status(
            ("Change the values; " if self.upgrade_of else "Fill in the parameters; ")
            + "Ctrl+T tests the device connection, Ctrl+N shows the plan."
        )

    async def _offer_scanned_devices(self, form: ParamForm) -> None:
        """A pick list of the devices the last network scan found, above the form: choosing
        one fills host, port, unit id and profile the way the scan screen's suggestions do
        (``scan.suggest``). Nothing is shown without a scan (or without the admin role)."""
        try:
            status = await self.call(scan_api.STATUS)
        except Exception:  # no scan endpoints here, or a role without them
            return
        inv = status.inventory or {}
        options = []
        number = 0
        for ep in inv.get("endpoints", []):
            for dev in ep.get("devices", []):
                number += 1
                if dev.get("status") == "identified" and dev.get("profile"):
                    unit = f" unit {dev['unit_id']}" if dev.get("unit_id") is not None else ""
                    label = f"#{number} {ep['host']}:{ep['port']}{unit} — {dev['profile']}"
                    options.append((label, number))
        if not options:
            return
        pick: Select[int] = Select(
            options,
            prompt="Fill from a scanned device (optional)",
            id="scan-device",
            compact=True,
        )
        await form.mount(pick, before=0)

    async def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id != "scan-device" or not isinstance(event.value, int):
            return
        form = self._form()
        try:
            reply = await self.call(
                scan_api.SUGGEST, scan_api.SuggestRequest(devices=[event.value])
            )
        except Exception as exc:
            self.status(f"✗ {self.explain(exc)}", error=True)
            return
        mine = next((s for s in reply.suggestions if s.recipe == self.recipe_id), None)
        if form is None or mine is None:
            self.status(f"✗ device #{event.value} does not fit {self.recipe_id}", error=True)
            return
        filled = [k for k, v in mine.params.items() if form.set_value(k, v)]
        missing = f"; still needed: {', '.join(mine.missing)}" if mine.missing else ""
        self.status(f"✓ filled from device #{event.value}: {', '.join(filled)}{missing}")

    def _form(self) -> ParamForm | None:
        forms = self.query(ParamForm)
        return forms.first() if forms else None

    def _collect(self) -> dict[str, Any] | None:
        form = self._form()
        if form is None:
            return None
        values, errors = form.values()
        if errors:
            name = next(iter(errors))
            form.focus_field(name)
            self.status(
                f"✗ {len(errors)} field(s) need attention: "
                + "; ".join(f"{k}: {v}" for k, v in errors.items()),
                error=True,
            )
            return None
        self.check_duration_s = values.pop(COMMISSIONING_FIELD, None)
        return values

    def _changed(self, values: dict[str, Any]) -> dict[str, Any]:
        """The values that differ from the deployment's (secrets come back masked from the
        runtime, so an unchanged masked value must never be sent as the new secret)."""
        return {k: v for k, v in values.items() if self.initial.get(k) != v}

    # -- actions -----------------------------------------------------------------------
    def on_button_pressed(self, event: Button.Pressed) -> None:
        {
            "btn-test": self.action_test,
            "btn-next": self.action_next,
            "btn-close": self.action_close,
        }[event.button.id]()

    def action_close(self) -> None:
        """Leave the wizard (nothing is installed unless the plan was confirmed)."""
        if self.busy and self.step == 2:
            if self.deployment is None:
                # Leaving now would hide whether the install worked (it goes on regardless).
                self.status("… the install is running; wait for its result before leaving")
                return
            self.notify(
                f"{self.deployment} is installed; its commissioning checks keep running — "
                "the report will be on the Deployments screen (3)."
            )
        self.app.pop_screen()

    def action_test(self) -> None:
        """Test the device connection with the current parameters."""
        if self.step != 0 or self.busy:
            return
        values = self._collect()
        if values is not None:
            self.run_test(values)

    @work(exclusive=True, group="wizard")
    async def run_test(self, values: dict[str, Any]) -> None:
        """Call ``recipes.test_connection``."""
        self.busy = True
        self.status("… testing the device connection")
        try:
            result = await self.call(
                rec_api.TEST_CONNECTION,
                rec_api.PlanRequest(recipe=self.recipe_id, params=values),
                timeout=30,
            )
        except Exception as exc:
            self.tested = None
            self.status(
                f"✗ connection test failed: {self.explain(exc).removeprefix('Error: ')}", error=True
            )
        else:
            self.tested = values
            detail = "; ".join(f"{d.name}: {d.detail}" for d in result.devices) or "ok"
            self.status(f"✓ connection test passed — {detail}")
        finally:
            self.busy = False

    def action_next(self) -> None:
        """Go to the next step."""
        if self.busy:
            return
        if self.step == 0:
            values = self._collect()
            if values is not None:
                self.params = values
                self.make_plan()
        elif self.step == 1:
            self.install()
        elif self.step == 3:
            self.app.pop_screen()

    def _server_field_errors(self, exc: Exception) -> bool:
        """Put the runtime's problems that name a parameter under their fields."""
        form = self._form()
        problems = getattr(exc, "problems", None)
        if form is None or not isinstance(problems, list):
            return False
        errors = field_errors(problems, {param_name(p) for p in form.params})
        for name, text in errors.items():
            form.set_error(name, text)
        return bool(errors)

    @work(exclusive=True, group="wizard")
    async def make_plan(self) -> None:
        """Call ``recipes.plan`` and show what would be created."""
        self.busy = True
        self.status("… planning")
        try:
            self.plan = await self.call(
                rec_api.PLAN,
                rec_api.PlanRequest(
                    recipe=self.recipe_id, params=self.params, deployment=self.upgrade_of
                ),
            )
        except Exception as exc:
            self._server_field_errors(exc)
            self.status(f"✗ {self.explain(exc)}", error=True)
            return
        finally:
            self.busy = False
        self.step = 1
        self._render_steps()
        form = self._form()
        if form is not None:
            form.display = False
        self.query_one("#wizard-view-box").display = True
        tested = (
            "✓ connection tested"
            if self.tested == self.params
            else "connection will be tested before install"
        )
        self.tested_text = tested
        self._show_plan()
        verb = "Upgrade" if self.upgrade_of else "Install"
        self.query_one("#btn-next", Button).label = f"{verb} ^N"
        self.query_one("#btn-next", Button).focus()
        self.status(f"Ctrl+N: {verb.lower()}; Ctrl+D: details; Esc cancels.")

    def _show_plan(self) -> None:
        """The plan as sentences, and its parts when details are toggled on."""
        if self.plan is None:
            return
        nothing = "nothing changes" if self.upgrade_of else "nothing is created"
        lines = [
            f"[b]Plan[/b] ({nothing} until you press Next)",
            *plan_summary(self.plan, self.upgrade_of),
            "",
            self.tested_text,
        ]
        if self.show_details:
            lines += ["", "[b]Details[/b] (Ctrl+D hides)", *plan_details(self.plan)]
        else:
            lines += ["", "[dim]Ctrl+D shows the details: components, subjects, checks.[/dim]"]
        self.query_one("#wizard-view", Static).update("\n".join(lines))

    def action_details(self) -> None:
        """Show or hide the plan's details (components, subjects, checks)."""
        if self.step != 1:
            return
        self.show_details = not self.show_details
        self._show_plan()

    @work(exclusive=True, group="wizard")
    async def install(self) -> None:
        """Test (if not yet), install, then follow the commissioning report."""
        self.busy = True
        self.step = 2
        self._render_steps()
        view = self.query_one("#wizard-view", Static)
        log: list[str] = []

        def say(line: str) -> None:
            log.append(escape(line))
            view.update("\n".join(log))

        try:
            if self.tested != self.params:
                say("… testing the device connection")
                test = rec_api.PlanRequest(recipe=self.recipe_id, params=self.params)
                await self.call(rec_api.TEST_CONNECTION, test, timeout=30)
                log[-1] = "✓ connection test passed"
            if self.upgrade_of:
                result = await self._run_upgrade(say, log)
                if result is None:
                    self.busy = False
                    return
            else:
                body = rec_api.InstallRequest(recipe=self.recipe_id, params=self.params)
                if self.check_duration_s is not None:
                    body.check_duration_s = self.check_duration_s
                say("… installing (every component starts, or none stays)")
                result = await self.call(rec_api.INSTALL, body, timeout=120)
                log[-1] = escape(f"✓ installed as deployment {result.deployment}")
            self.deployment = result.deployment
            say("… commissioning: acceptance checks on live data (Esc leaves; they keep running)")
        except Exception as exc:
            say(f"✗ {self.explain(exc)}")
            if self.upgrade_of:
                say(f"{self.upgrade_of} keeps running as it was. Esc goes back.")
                self.status("✗ upgrade failed", error=True)
            else:
                say("Nothing was left installed. Esc goes back.")
                self.status("✗ install failed", error=True)
            self.busy = False
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        watch = self.check_duration_s or 30.0
        deadline = started + watch + REPORT_MARGIN_S
        lines, passed, finished = [], None, False
        while True:
            try:
                dep = await self.call(
                    dep_api.SHOW, dep_api.DeploymentRequest(deployment=self.deployment)
                )
                lines, passed, finished = report_lines(dep)
            except Exception as exc:
                lines, finished = [escape(self.explain(exc))], True
            if finished or loop.time() > deadline:
                log[-1] = (
                    "✓ commissioning finished"
                    if finished
                    else escape(
                        f"… no report after {loop.time() - started:.0f} s; it will be on the Deployments screen (3)"
                    )
                )
                view.update("\n".join([*log, "", "[b]Commissioning report[/b]", *lines]))
                break
            left = max(0.0, watch - (loop.time() - started))
            log[-1] = escape(
                f"… commissioning: acceptance checks on live data, {left:.0f} s of {watch:g} s left "
                "(Esc leaves; they keep running)"
            )
            view.update("\n".join([*log, "", "[b]Commissioning report[/b]", *lines]))
            await asyncio.sleep(1.0)  # polling schedule for a report still running
        self.step = 3
        self._render_steps()
        verdict = (
            "✓ commissioning PASSED"
            if passed
            else "✗ commissioning FAILED"
            if passed is False
            else "report incomplete"
        )
        self.status(
            f"{verdict} — Ctrl+N or Esc closes; the deployment is on the Deployments screen (3).",
            error=passed is False,
        )
        self.query_one("#btn-next", Button).label = "Done ^N"
        self.busy = False

    async def _run_upgrade(self, say: Any, log: list[str]) -> rec_api.InstallReply | None:
        """Call ``recipes.upgrade`` with the changed values (None: nothing changed)."""
        assert self.upgrade_of is not None
        body = rec_api.UpgradeRequest(
            deployment=self.upgrade_of, recipe=self.recipe_id, params=self._changed(self.params)
        )
        if self.check_duration_s is not None:
            body.check_duration_s = self.check_duration_s
        say("… upgrading (the old components come back if the new ones fail)")
        result = await self.call(rec_api.UPGRADE, body, timeout=120)
        if not result.changed:
            log[-1] = escape(f"{self.upgrade_of} not changed: {result.message or 'same values'}")
            say("Esc goes back.")
            self.status("nothing to change — the values are the ones installed")
            return None
        log[-1] = escape(f"✓ {self.upgrade_of} upgraded with the new values")
        return result
