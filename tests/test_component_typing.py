"""Typed components: ``Component[ConfigT]`` types ``self.config`` for type checkers, changes
nothing at run time, and vendor classes that do not parametrise keep working."""

import textwrap
from pathlib import Path

from mypy import api as mypy_api
from pydantic import BaseModel, ConfigDict

import kit
from kit.components import Source
from kit.settings import ComponentSpec
from kit.testing import wait_for

SEEN: dict[str, object] = {}


class TickConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    step: int = 1


class TypedTick(Source[TickConfig]):
    """Parametrised: ``self.config`` is a TickConfig for mypy."""

    name = "typed-tick"
    Config = TickConfig

    async def run(self) -> None:
        SEEN["typed"] = self.config
        await self.ctx.clock.sleep(3600)


class PlainTick(Source):
    """Not parametrised, as vendor plugins written before Component[ConfigT] are."""

    name = "plain-tick"
    Config = TickConfig

    async def run(self) -> None:
        SEEN["plain"] = self.config
        await self.ctx.clock.sleep(3600)


class TickPlugin:
    @kit.hookimpl
    def register_components(self, register):
        register.add(TypedTick)
        register.add(PlainTick)


async def test_parametrised_and_plain_components_register_and_get_their_config(
    kit_settings, make_runtime, temp_plugin
):
    settings = kit_settings.model_copy(
        update={
            "components": [
                ComponentSpec(name="t", type="typed-tick", asset="t/a/l/t", config={"step": 3}),
                ComponentSpec(name="p", type="plain-tick", asset="t/a/l/p", config={"step": 4}),
            ]
        }
    )
    host = temp_plugin(TickPlugin(), load_entrypoints=False)
    assert host.component("typed-tick").cls is TypedTick
    assert host.component("plain-tick").cls is PlainTick
    await make_runtime(settings, host=host)
    await wait_for(lambda: {"typed", "plain"} <= SEEN.keys(), message="both components started")
    typed, plain = SEEN.pop("typed"), SEEN.pop("plain")
    assert isinstance(typed, TickConfig) and typed.step == 3
    assert isinstance(plain, TickConfig) and plain.step == 4


def _mypy(tmp_path: Path, body: str) -> tuple[str, int]:
    src = tmp_path / "vendor_plugin.py"
    src.write_text(textwrap.dedent(body))
    out, err, status = mypy_api.run(
        ["--strict", "--no-incremental", "--python-version", "3.11", str(src)]
    )
    return out + err, status


VENDOR = """
    from pydantic import BaseModel
    from kit.components import Analytics

    class MeterConfig(BaseModel):
        interval_s: float = 1.0

    class Meter(Analytics[MeterConfig]):
        name = "meter"
        Config = MeterConfig

        async def run(self) -> None:
            wait: float = self.config.interval_s
            reveal_type(self.config)
            {extra}
"""


def test_mypy_types_config_of_a_parametrised_component(tmp_path):
    out, status = _mypy(tmp_path, VENDOR.format(extra="await self.ctx.clock.sleep(wait)"))
    assert 'Revealed type is "vendor_plugin.MeterConfig"' in out, out
    assert status == 0, out  # the note from reveal_type only: no error, no ignore needed


def test_mypy_catches_a_misspelt_config_field(tmp_path):
    out, status = _mypy(tmp_path, VENDOR.format(extra="print(self.config.intervall_s)"))
    assert status == 1, out
    assert '"MeterConfig" has no attribute "intervall_s"' in out, out
