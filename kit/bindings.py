"""Bindings from semantic points of an asset to the inputs of an analytics component.

Recipes bind meanings, not addresses: an OEE component's ``good`` input is bound to the
point ``count_good`` of the recipe's ``machine`` asset. In a component config a binding is
written as ``"count_good"`` (a point of the component's own asset) or
``{"point": "count_good", "asset": "site/area/line/asset"}`` (a point of another asset, e.g.
the machine whose parts an energy meter's kWh are divided by).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator


class Binding(BaseModel):
    """One input of an analytics component: a semantic point, optionally of another asset."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    point: str
    """Semantic point name (docs/vocabulary.md)."""
    asset: str | None = None
    """Asset path ``site/area/line/asset``; None means the component's own asset."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data: Any) -> Any:
        if isinstance(data, str):
            return {"point": data}
        return data

    def resolve(self, default_asset: str | None) -> Binding:
        """The same binding with ``asset`` filled in from the component's asset."""
        return self if self.asset else Binding(point=self.point, asset=default_asset)


def assets_of(bindings: dict[str, Binding | None], default_asset: str | None) -> set[str]:
    """Every asset path the given bindings read from (to know what to subscribe to)."""
    return {
        asset
        for b in bindings.values()
        if b is not None and (b.asset or default_asset)
        for asset in [b.resolve(default_asset).asset]
        if asset is not None
    }
