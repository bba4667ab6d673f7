"""Recipes: proven use cases installed in one step, and bundles that install unchanged elsewhere.

Modules:

* :mod:`kit.recipes.model` — the recipe file format (pydantic; JSON Schema generated from it).
* :mod:`kit.recipes.params` — parameter types, coercion and ``${param}`` substitution.
* :mod:`kit.recipes.loader` — reading recipe files and the recipe library.
* :mod:`kit.recipes.plan` — second validation pass and the install plan.
* :mod:`kit.recipes.engine` — install, uninstall, upgrade, restore (deployments KV).
* :mod:`kit.recipes.checks` — acceptance checks and the commissioning report.
* :mod:`kit.recipes.bundle` — lighthouse bundles: export, inspect, install, diff.
* :mod:`kit.recipes.api` — the control API endpoints.
"""
