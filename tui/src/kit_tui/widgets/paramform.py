"""A form generated from a recipe's typed parameters, with inline validation.

Parameter types (recipes contract): ``host``, ``port``, ``integer``, ``number``,
``duration``, ``choice``, ``text`` (``bool`` too). Each field validates as the user
types and shows the problem under the field; :meth:`ParamForm.values` returns typed values
only when every field is valid.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.validation import ValidationResult, Validator
from textual.widgets import Input, Label, Select, Static

_HOST = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)
_DURATION = re.compile(r"^\d+(\.\d+)?\s*(ms|s|m|min|h|d)?$")


def param_name(p: dict[str, Any]) -> str:
    """Name of a parameter (``name`` or ``id``)."""
    return str(p.get("name") or p.get("id"))


def convert(p: dict[str, Any], text: str) -> Any:
    """Turn field text into the parameter's typed value.

    Raises:
        ValueError: with a message for the technician.
    """
    kind = p.get("type", "text")
    text = text.strip()
    if not text:
        if p.get("required", True) and p.get("default") is None:
            raise ValueError("required")
        return p.get("default")
    if kind in ("integer", "int", "port"):
        try:
            v: Any = int(text)
        except ValueError:
            raise ValueError("must be a whole number") from None
        lo, hi = (1, 65535) if kind == "port" else (p.get("min"), p.get("max"))
        lo = p.get("min", lo)
        hi = p.get("max", hi)
    elif kind in ("number", "float"):
        try:
            v = float(text)
        except ValueError:
            raise ValueError("must be a number") from None
        lo, hi = p.get("min"), p.get("max")
    elif kind == "host":
        try:
            ipaddress.ip_address(text)
        except ValueError:
            if not _HOST.match(text):
                raise ValueError("must be an IP address or host name") from None
        return text
    elif kind == "duration":
        if not _DURATION.match(text):
            raise ValueError("must be a duration such as 30s, 5m or 8h")
        return text
    elif kind == "bool":
        if text.lower() not in ("yes", "no", "true", "false", "on", "off", "1", "0"):
            raise ValueError("yes or no")
        return text.lower() in ("yes", "true", "on", "1")
    else:
        pattern = p.get("pattern")
        if pattern and not re.fullmatch(pattern, text):
            raise ValueError(f"must match {pattern}")
        return text
    unit = f" {p['unit']}" if p.get("unit") else ""
    if lo is not None and v < lo:
        raise ValueError(f"must be at least {lo}{unit}")
    if hi is not None and v > hi:
        raise ValueError(f"must be at most {hi}{unit}")
    return v


class ParamValidator(Validator):
    """Textual validator wrapping :func:`convert` for one parameter."""

    def __init__(self, param: dict[str, Any]) -> None:
        super().__init__()
        self.param = param

    def validate(self, value: str) -> ValidationResult:
        try:
            convert(self.param, value)
        except ValueError as exc:
            return self.failure(str(exc))
        return self.success()


class ParamForm(VerticalScroll):
    """Fields for ``params`` (a list of parameter dicts from ``recipes.show``)."""

    # Fields are one row high (an 80×24 terminal shows several at once) but drawn as fields:
    # a shaded background and a left bar, brighter when focused, red bar when invalid.
    DEFAULT_CSS = """
    ParamForm { height: 1fr; }
    ParamForm .param-error { color: $error; height: auto; display: none; margin: 0 0 0 2; }
    ParamForm Input, ParamForm Select { margin: 0 0 0 2; width: 60; max-width: 100%; }
    ParamForm Input {
        background: $boost; border-left: outer $primary 40%; padding: 0 1;
    }
    ParamForm Input:focus { background: $primary 25%; border-left: outer $accent; }
    ParamForm Input.-invalid { border-left: outer $error; text-style: underline; }
    ParamForm Select > SelectCurrent { background: $boost; border-left: outer $primary 40%; }
    ParamForm Select:focus > SelectCurrent { background: $primary 25%; border-left: outer $accent; }
    """

    def __init__(
        self, params: list[dict[str, Any]], values: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        super().__init__(**kw)
        self.params = params
        self.initial = values or {}

    def compose(self) -> ComposeResult:
        for p in self.params:
            name = param_name(p)
            unit = f" ({p['unit']})" if p.get("unit") else ""
            req = " (optional)" if p.get("required") is False else ""
            yield Label(
                f"{p.get('prompt') or p.get('label') or name}{unit}{req}",
                classes="param-label",
                markup=False,
            )
            if p.get("help") or p.get("description"):
                yield Static(
                    str(p.get("help") or p.get("description")), classes="param-help", markup=False
                )
            default = self.initial.get(name, p.get("default"))
            choices = p.get("choices") or p.get("options")
            # A profile parameter lists the site library's fitting profiles (recipes.show).
            if p.get("type") in ("choice", "profile") and choices:
                opts = [
                    (
                        str(c.get("label", c.get("value"))) if isinstance(c, dict) else str(c),
                        str(c.get("value")) if isinstance(c, dict) else str(c),
                    )
                    for c in choices
                ]
                known = {o[1] for o in opts}
                yield Select(
                    opts,
                    value=str(default) if str(default) in known else opts[0][1],
                    allow_blank=False,
                    id=f"param-{name}",
                    compact=True,
                )
            else:
                kind = p.get("type", "text")
                placeholder = p.get("placeholder") or p.get("example")
                if kind == "profile" and not placeholder:
                    # recipes.show found no fitting profile in the library: say so, and
                    # still take an id typed by hand (the plan then names what is missing).
                    placeholder = "no profile in the library fits — type a profile id"
                # Every field is a text input: Textual's integer/number inputs silently drop a
                # key they do not accept; here the keystroke shows and the field says why it
                # is wrong ("must be a whole number").
                yield Input(
                    "" if default is None else str(default),
                    type="text",
                    id=f"param-{name}",
                    validators=[ParamValidator(p)],
                    validate_on=["changed", "submitted", "blur"],
                    placeholder=str(
                        placeholder or f"‹{kind}{' in ' + p['unit'] if p.get('unit') else ''}›"
                    ),
                    compact=True,
                )
            yield Label("", id=f"error-{name}", classes="param-error", markup=False)

    def on_input_changed(self, event: Input.Changed) -> None:
        self._show(event.input, event.validation_result)

    def on_input_blurred(self, event: Input.Blurred) -> None:
        self._show(event.input, event.input.validate(event.input.value))

    def _show(self, field: Input, result: ValidationResult | None) -> None:
        name = (field.id or "").removeprefix("param-")
        errors = self.query(f"#error-{name}")
        if errors:
            bad = result is not None and not result.is_valid
            label = errors.first(Label)
            label.update("✗ " + "; ".join(result.failure_descriptions) if bad and result else "")
            label.display = bad

    def set_error(self, name: str, message: str) -> None:
        """Show a server-side error under field ``name`` (e.g. from ``recipes.plan``)."""
        for lbl in self.query(f"#error-{name}"):
            lbl.update(f"✗ {message}")  # type: ignore[attr-defined]
            lbl.display = True

    def values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """``(values, errors)``: typed values of valid fields and a message per invalid one."""
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for p in self.params:
            name = param_name(p)
            w = self.query_one(f"#param-{name}")
            if isinstance(w, Select):
                values[name] = w.value
                continue
            try:
                v = convert(p, w.value)  # type: ignore[attr-defined]
            except ValueError as exc:
                errors[name] = str(exc)
                self.set_error(name, str(exc))
                continue
            if v is not None:
                values[name] = v
        return values, errors

    def set_value(self, name: str, value: Any) -> bool:
        """Put ``value`` in field ``name`` (a pick list only takes one of its options);
        False when the form has no such field or the list does not offer the value."""
        for w in self.query(f"#param-{name}"):
            if isinstance(w, Select):
                try:
                    w.value = str(value)
                except Exception:  # InvalidSelectValueError: not one of the options
                    return False
                return True
            if isinstance(w, Input):
                w.value = "" if value is None else str(value)
                return True
        return False

    def focus_field(self, name: str) -> None:
        """Move the cursor to field ``name``."""
        for w in self.query(f"#param-{name}"):
            w.focus()
