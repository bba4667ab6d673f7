"""``kit certify`` flags a plugin that does more than it declares (real nats-server)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

from kit.trust.certify import certify

ROGUE = '''
"""A plugin that publishes outside its manifest, blocks the loop and calls eval."""
import asyncio
import time
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

import kit
from kit.components import Source
from kit.payloads import Point


class RogueConfig(BaseModel):
    """Nothing to set."""

    model_config = ConfigDict(extra="forbid")


class Rogue(Source):
    name: ClassVar[str] = "rogue-cert"
    Config: ClassVar[type[BaseModel]] = RogueConfig

    async def run(self) -> None:
        while True:
            await self.ctx.publish_samples([Point(name="x", value=eval("1 + 1"))])
            await self.ctx.publish_kpi("secret", 1.0)  # undeclared: kit.kpi.*
            time.sleep(0.25)  # blocks the event loop
            await asyncio.sleep(0.05)


@kit.hookimpl
def register_components(register):
    register.add(Rogue)
'''


def make_project(root: Path) -> Path:
    proj = root / "kit-roguecert"
    pkg = proj / "src" / "kit_roguecert"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "plugin.py").write_text(ROGUE)
    (pkg / "kit_manifest.yaml").write_text(
        textwrap.dedent("""\
        name: kit-roguecert
        version: 0.1.0
        vendor: test
        contact: t@example.org
        kinds: [source]
        components: [rogue-cert]
        publishes: ["kit.data.>"]
        docs: docs/rogue.md
        """)
    )
    (proj / "docs").mkdir()
    (proj / "docs" / "rogue.md").write_text("# Rogue\n")
    (proj / "pyproject.toml").write_text(
        textwrap.dedent("""\
        [project]
        name = "kit-roguecert"
        version = "0.1.0"
        license = "MIT"
        dependencies = ["fast-track-kit", "requests"]
        [project.entry-points.kit]
        roguecert = "kit_roguecert.plugin"
        """)
    )
    return proj


async def test_certify_flags_undeclared_subjects_blocking_and_eval(tmp_path):
    proj = make_project(tmp_path)
    try:
        report = await certify(str(proj), run_s=1.5, soak_s=1.0)
    finally:
        for m in [m for m in sys.modules if m.startswith("kit_roguecert")]:
            del sys.modules[m]
    res = {r["id"]: r for r in report.data["results"]}
    assert res["subjects-truthful"]["outcome"] == "fail"
    assert "kit.kpi.cert.area.line.rogue-cert.secret" in res["subjects-truthful"]["detail"]
    assert report.data["figures"]["violations"]  # the server's denial is the evidence
    assert res["loop-blocking"]["outcome"] == "fail"
    assert report.data["figures"]["max_plugin_callback_ms"] >= 250  # time.sleep(0.25) per step
    assert (
        res["static-no-eval"]["outcome"] == "fail"
        and "plugin.py" in res["static-no-eval"]["detail"]
    )
    assert res["deps-bounded"]["outcome"] == "fail" and "requests" in res["deps-bounded"]["detail"]
    assert res["manifest-valid"]["outcome"] == "pass"
    assert report.tier is None
    md = report.to_markdown()
    assert "`subjects-truthful` | bronze | **FAIL**" in md


async def test_exemption_needs_a_reason_and_is_reported(tmp_path):
    proj = make_project(tmp_path)
    pkg = proj / "src" / "kit_roguecert"
    (pkg / "kit_quality.yaml").write_text("exempt:\n  deps-bounded: too short\n")
    from kit.errors import ConfigError

    try:
        try:
            await certify(str(proj), run_s=0.5, soak_s=0.5)
            raise AssertionError("a short exemption reason was accepted")
        except ConfigError as exc:
            assert "written reason" in "\n".join(exc.problems)
    finally:
        for m in [m for m in sys.modules if m.startswith("kit_roguecert")]:
            del sys.modules[m]


FRAGILE = '''
"""An analytics component that trusts its input order."""
import asyncio
from typing import ClassVar

from pydantic import BaseModel, ConfigDict

import kit
from kit.components import Analytics


class FragileConfig(BaseModel):
    """Nothing to set."""

    model_config = ConfigDict(extra="forbid")


class Fragile(Analytics):
    name: ClassVar[str] = "fragile"
    Config: ClassVar[type[BaseModel]] = FragileConfig

    async def run(self) -> None:
        self.last = -1
        self.failed = asyncio.get_running_loop().create_future()
        await self.ctx.subscribe_samples("kit.data.cert.area.line.fragile", self.on_batch)
        await self.failed  # re-raises what the handler found

    async def on_batch(self, batch) -> None:
        if batch.seq <= self.last and not self.failed.done():
            self.failed.set_exception(RuntimeError(f"sequence went back from {self.last} to {batch.seq}"))
        self.last = batch.seq


@kit.hookimpl
def register_components(register):
    register.add(Fragile)
'''


async def test_certify_flags_analytics_that_breaks_on_out_of_order_input(tmp_path):
    proj = make_project(tmp_path)
    pkg = proj / "src" / "kit_roguecert"
    (pkg / "plugin.py").write_text(FRAGILE)
    man = (pkg / "kit_manifest.yaml").read_text()
    (pkg / "kit_manifest.yaml").write_text(
        man.replace("kinds: [source]", "kinds: [analytics]")
        .replace("[rogue-cert]", "[fragile]")
        .replace('publishes: ["kit.data.>"]', 'subscribes: ["kit.data.>"]')
    )
    try:
        report = await certify(str(proj), run_s=1.0, soak_s=0.5)
    finally:
        for m in [m for m in sys.modules if m.startswith("kit_roguecert")]:
            del sys.modules[m]
    res = {r["id"]: r for r in report.data["results"]}
    assert res["analytics-bad-input"]["outcome"] == "fail"
    assert (
        res["runs-cleanly"]["outcome"] == "fail"
        and "sequence went back" in res["runs-cleanly"]["detail"]
    )
    assert res["subjects-truthful"]["outcome"] == "pass"  # it only read what it declared


async def test_certify_flags_a_misspelt_hook_and_manifest_mismatch(tmp_path):
    proj = make_project(tmp_path)
    pkg = proj / "src" / "kit_roguecert"
    (pkg / "plugin.py").write_text(
        ROGUE.replace("def register_components(register)", "def register_component(register)")
    )
    (pkg / "kit_manifest.yaml").write_text(
        (pkg / "kit_manifest.yaml").read_text().replace("0.1.0", "0.2.0")
    )
    try:
        report = await certify(str(proj), run_s=0.5, soak_s=0.5)
    finally:
        for m in [m for m in sys.modules if m.startswith("kit_roguecert")]:
            del sys.modules[m]
    res = {r["id"]: r for r in report.data["results"]}
    assert (
        res["hook-contract"]["outcome"] == "fail"
        and "register_component" in res["hook-contract"]["detail"]
    )
    assert (
        res["manifest-matches-dist"]["outcome"] == "fail"
        and "0.2.0" in res["manifest-matches-dist"]["detail"]
    )
    assert report.tier is None
