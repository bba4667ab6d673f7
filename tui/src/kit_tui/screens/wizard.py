"""Install wizard: parameters (generated form, inline validation) → connection test →
plan → install progress → commissioning report.

Every step calls the recipes endpoints of the control API (``recipes.show``,
``recipes.test_connection``, ``recipes.plan``, ``recipes.install``, ``deployments.show``);
nothing is created until the user confirms the plan.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Static

from kit.api import Problem
from kit.api import deployments as dep_api
from kit.api import recipes as rec_api
from kit_tui.screens.base import KitScreen
from kit_tui.widgets.paramform import ParamForm, param_name

STEPS = ("Parameters", "Plan", "Install", "Report")
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


def plan_lines(plan: rec_api.PlanReply) -> list[str]:
    """A readable outline of a ``recipes.plan`` reply: devices, components, subjects, checks."""
    lines = [escape(f"deployment {plan.deployment} ({plan.recipe} {plan.version})")]
    if plan.params:
        lines.append("[b]Values[/b]")
        lines += [escape(f"  {k}: {v}") for k, v in plan.params.items()]
    if plan.connections:
        lines.append("[b]Devices[/b]")
        for c in plan.connections:
            prof = f" profile {c.profile}" if c.profile else ""
            lines.append(escape(f"  • {c.asset}: {c.adapter}{prof} → {c.path}"))
    if plan.components:
        lines.append("[b]Components[/b]")
        for comp in plan.components:
            lines.append(
                escape(f"  • {comp.get('name')} ({comp.get('type')}) on {comp.get('asset')}")
            )
    if plan.subjects:
        lines.append("[b]Subjects[/b]")
        for kind, subs in plan.subjects.items():
            lines += [escape(f"  • {kind}: {sub}") for sub in subs]
    if plan.checks:
        lines.append("[b]Acceptance checks[/b]")
        lines += [escape(f"  • {c.get('title', c)}") for c in plan.checks]
    return lines


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


def report_lines(dep: dep_api.DeploymentDetail) -> tuple[list[str], bool | None, bool]:
    """``(lines, passed, finished)`` for a deployment's commissioning report."""
    rep = dep.report
    if rep is None:  # commissioning still running
        return [], None, False
    passed = None if rep.result is None else rep.result == "pass"
    lines = []
    for c in rep.checks:
        mark = "✓ PASS" if c.passed else "✗ FAIL" if c.passed is False else "… running"
        lines.append(escape(f"  {mark}  {c.title or '?'}" + (f" — {c.detail}" if c.detail else "")))
    devices = (rep.model_extra or {}).get("devices")
    if devices:
        lines.append("[b]Devices[/b]")
        for role, d in devices.items() if isinstance(devices, dict) else enumerate(devices):
            lines.append(escape(f"  {role}: {json.dumps(d, default=str)}"))
    return lines, passed, passed is not None


class WizardScreen(KitScreen):
    """Install one recipe step by step."""

    BINDINGS = [
        Binding("ctrl+t", "test", "Test connection", show=True, priority=True),
        Binding("ctrl+n", "next", "Next", show=True, priority=True),
        Binding("escape", "close", "Cancel", show=True),
    ]

    def __init__(
        self, recipe_id: str, values: dict[str, Any] | None = None, origin: str = ""
    ) -> None:
        """``values`` pre-fill the form (e.g. from the scan inventory, described by ``origin``)."""
        super().__init__()
        self.recipe_id = recipe_id
        self.prefill = dict(values or {})
        self.origin = origin
        self.TITLE_TEXT = f"Install {recipe_id}"
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
            for i, s in enumerate(STEPS)
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
        if params:
            # Pre-filled from the scan: the first field still empty (else the first field).
            todo = [
                p for p in params if param_name(p) not in self.prefill and p.get("default") is None
            ]
            form.focus_field(param_name((todo if self.prefill and todo else params)[0]))
        self.status(
            "Fill in the parameters; Ctrl+T tests the device connection, Ctrl+N shows the plan."
        )

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
            plan = await self.call(
                rec_api.PLAN, rec_api.PlanRequest(recipe=self.recipe_id, params=self.params)
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
        self.query_one("#wizard-view", Static).update(
            "\n".join(
                [
                    "[b]Plan[/b] (nothing is created until you press Next)",
                    *plan_lines(plan),
                    "",
                    tested,
                ]
            )
        )
        self.query_one("#btn-next", Button).label = "Install ^N"
        self.query_one("#btn-next", Button).focus()
        self.status("Ctrl+N installs; Esc cancels.")

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

        body = rec_api.InstallRequest(recipe=self.recipe_id, params=self.params)
        if self.check_duration_s is not None:
            body.check_duration_s = self.check_duration_s
        try:
            if self.tested != self.params:
                say("… testing the device connection")
                test = rec_api.PlanRequest(recipe=self.recipe_id, params=self.params)
                await self.call(rec_api.TEST_CONNECTION, test, timeout=30)
                log[-1] = "✓ connection test passed"
            say("… installing (every component starts, or none stays)")
            result = await self.call(rec_api.INSTALL, body, timeout=120)
            self.deployment = result.deployment
            log[-1] = escape(f"✓ installed as deployment {self.deployment}")
            say("… commissioning: acceptance checks on live data (Esc leaves; they keep running)")
        except Exception as exc:
            say(f"✗ {self.explain(exc)}")
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
