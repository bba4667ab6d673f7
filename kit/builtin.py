"""The kit's own resources (recipes and hardware profiles), registered like any plugin's.

Registered through the ``kit`` entry point ``kit-resources`` of the fast-track-kit
distribution, so ``KIT_DISABLE_PLUGINS=kit-resources`` hides the shipped library.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import kit

if TYPE_CHECKING:
    from kit.registry import ResourceRegistry


def shipped_dir(name: str) -> Path:
    """Directory of shipped ``recipes`` or ``hardware_profiles``.

    In a wheel they live in ``kit/_shipped/<name>``; in a source checkout (editable
    install) at the repository root.
    """
    inside = Path(__file__).parent / "_shipped" / name
    if inside.is_dir():
        return inside
    return Path(__file__).resolve().parent.parent / name


@kit.hookimpl
def register_resources(register: ResourceRegistry) -> None:
    """Contribute the shipped recipe and profile libraries."""
    register.profiles(shipped_dir("hardware_profiles"))
    register.recipes(shipped_dir("recipes"))
