"""What ``kit up`` loads before any component asks for it (issue 20, docs/sizing.md).

The runtime's start path — CLI, runtime, every plugin registered and verified, the control
API's endpoints, the deployment store — must not import polars (~35 MiB resident; only
historian queries, exports and compaction need it) or cryptography (~7 MiB; only signed
plugins and sealed deployment records need it). Checked in a fresh interpreter, where
nothing else has imported them.
"""

from __future__ import annotations

import json
import subprocess
import sys

CODE = """
import json, sys
from pathlib import Path
import kit.cli, kit.runtime
from kit.plugins import get_plugin_manager
from kit.recipes.store import DeploymentStore
from kit.trust.verify import make_verifier

d = Path(sys.argv[1])
host = get_plugin_manager(verify=make_verifier(d, "warn"))

class Api:  # the control API's registry, as the runtime hands it to register_endpoints
    names = []
    def add(self, endpoint, handler):
        self.names.append(endpoint.name)

host.register_endpoints(Api(), None)
store = DeploymentStore(None, d)
print(json.dumps({
    "plugins": sorted(host.dists),
    "endpoints": sorted(Api.names),
    "statuses": sorted({s.status for s in host.trust.values()}),
    "loaded": sorted(m for m in ("polars", "cryptography") if m in sys.modules),
}))
"""


def test_start_path_imports_neither_polars_nor_cryptography(tmp_path):
    out = subprocess.run(
        [sys.executable, "-c", CODE, str(tmp_path)], capture_output=True, text=True, check=True
    )
    got = json.loads(out.stdout.splitlines()[-1])
    # The check is about a real start: every plugin loaded and verified, endpoints registered.
    assert {"historian", "oee", "energy", "modbus"} <= set(got["plugins"])
    assert "history.query" in got["endpoints"]
    assert "Unsigned" in got["statuses"] and "Signed" not in got["statuses"]
    assert got["loaded"] == []
    # A deployment record still seals and opens (cryptography loads when it is needed).
    code = (
        "import sys; from kit.recipes.store import DeploymentStore;"
        "from kit.trust.secrets import seal, unseal;"
        "s = DeploymentStore(None, __import__('pathlib').Path(sys.argv[1]));"
        "print(unseal(seal({'a': 1}, s.key), s.key))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "{'a': 1}"
    assert (tmp_path / "secrets.key").exists()
