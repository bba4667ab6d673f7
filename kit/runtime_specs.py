"""The configured components checked before the runtime starts anything.

Split out of :mod:`kit.runtime`: the site config's ``components`` list is completed with the
default site historian (:func:`with_default_history`) and every spec is validated against
its type's ``Config`` model (:func:`validate_specs`), all problems reported at once as
``file:line: field: message`` so a bad config stops ``kit up`` before a server is started.
"""

from __future__ import annotations

from typing import Any

from kit.errors import ConfigError, PluginError
from kit.plugins import PluginHost
from kit.settings import ComponentSpec, Settings
from kit.yamlfiles import problem, validation_problems


def with_default_history(
    settings: Settings, host: PluginHost, specs: list[ComponentSpec]
) -> list[ComponentSpec]:
    """``specs`` plus the default site historian (``settings.history``): history by
    default, so a pilot always has a baseline. Named by type only: kit never imports
    plugins, and without the historian plugin nothing is added."""
    if not settings.history or "historian" not in host.components.items:
        return specs
    if any(sp.type == "historian" and not sp.config.get("own_asset_only") for sp in specs) or any(
        sp.name == "history" for sp in specs
    ):
        return specs  # the site configured its own
    default = ComponentSpec(name="history", type="historian", config={"streams": ["kpi", "events"]})
    return [*specs, default]


def validate_specs(
    settings: Settings, host: PluginHost, specs: list[ComponentSpec]
) -> list[tuple[ComponentSpec, Any]]:
    """Validate every configured component; raise one ConfigError listing all problems."""
    filename, root = settings.origin()
    out, problems = [], []
    names: set[str] = set()
    for i, spec in enumerate(specs):
        if spec.name in names:
            problems.append(
                f"{filename}: components[{i}].name: duplicate component name {spec.name!r}"
            )
        names.add(spec.name)
        try:
            out.append(validate_spec(host, spec, filename, root, ("components", i, "config")))
        except ConfigError as exc:
            problems.extend(exc.problems)
        except PluginError as exc:
            problems.append(
                problem(filename, root, ("components", i, "type"), str(exc))
                if root is not None
                else f"{filename}: components[{i}].type: {exc}"
            )
    if problems:
        raise ConfigError(f"{filename}: {len(problems)} problem(s) in components", problems)
    return out


def validate_spec(
    host: PluginHost,
    spec: ComponentSpec,
    filename: str = "site config",
    root: Any = None,
    prefix: tuple[str | int, ...] = (),
) -> tuple[ComponentSpec, Any]:
    """Check a component spec against its type's Config model (second validation pass).

    Raises:
        PluginError: unknown component type (with installed types and a suggestion).
        ConfigError: the config does not match the type's model.
    """
    reg = host.component(spec.type)
    from pydantic import ValidationError

    try:
        return spec, reg.cls.Config.model_validate(spec.config)
    except ValidationError as exc:
        problems = validation_problems(
            filename, root if root is not None else spec.config, exc, prefix, reg.cls.Config
        )
        raise ConfigError(
            f"component {spec.name!r} ({spec.type}): invalid config", problems
        ) from None
