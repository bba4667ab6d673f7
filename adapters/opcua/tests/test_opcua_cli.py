"""`kit browse` and `kit opcua …` as a technician runs them (the real `kit` script)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from kit_opcua.pki import Pki
from kit_opcua.profile import OpcuaProfile

from kit.yamlfiles import load_yaml

KIT = str(Path(sys.executable).with_name("kit"))


async def kit(*args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        KIT,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin), 120)
    return proc.returncode, out.decode(), err.decode()


async def test_browse_then_trust_then_draft_profile(sim_factory, tmp_path):
    sim = await sim_factory("generic-machine-machinery")
    data = tmp_path / "data"
    draft = tmp_path / "draft.yaml"
    # First contact: refused (exit code 6, device error) with the thumbprint to check.
    code, out, err = await kit("browse", sim.url, "-o", str(draft), "--data-dir", str(data))
    assert code == 6 and sim.thumbprint[:12] in err and "kit opcua trust" in err
    code, out, _ = await kit("opcua", "certs", "--data-dir", str(data))
    assert code == 0 and f"rejected {sim.thumbprint}" in out
    # Trust after looking at the certificate details (answering the prompt).
    code, out, _ = await kit(
        "opcua", "trust", sim.thumbprint[:8], "--data-dir", str(data), stdin=b"y\n"
    )
    assert code == 0 and sim.application_uri in out and "trusted" in out
    assert [c.state for c in Pki(data).list()] == ["trusted"]
    code, out, err = await kit(
        "browse", sim.url, "-o", str(draft), "--id", "my-machine", "--data-dir", str(data)
    )
    assert code == 0, err
    prof = OpcuaProfile.model_validate(load_yaml(draft))
    assert prof.id == "my-machine" and prof.vendor == "Fast-Track Kit"
    # The browse path points of the shipped profile appear as NodeIds in the simulator's namespaces.
    assert "urn:fast-track-kit:sim:machine" in prof.namespaces.values()
    assert {"x_prod_processed_count", "x_prod_defective_count", "x_number"} <= {
        p.name for p in prof.points
    }
    code, out, err = await kit("opcua", "trust", "FFFF", "--yes", "--data-dir", str(data))
    assert code == 1 and "no rejected certificate" in err


async def test_kit_profile_show_renders_opcua_points():
    # Through the real script: invoking the click group in-process would change its cached help options.
    code, out, err = await kit("profile", "show", "siemens-s7-1500-db")
    assert code == 0, err
    assert 'plc;s="Kit_Machine"."Temperature"' in out
    assert "plc = http://www.siemens.com/simatic-s7-opcua" in out
