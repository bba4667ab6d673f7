"""Ctrl-C in a terminal: SIGINT reaches the whole foreground process group.

The embedded nats-server lives in its own session, so it does not die before the
components that still publish to it; the runtime stops it itself, last (issue 12.5).
The time it takes is measured by ``bench/ctrl_c.py``, not asserted here.
"""

from __future__ import annotations

from lc_helpers import KIT, PtyProcess, env_for, free_port, nats_servers


def test_ctrl_c_to_process_group_exits_cleanly_ten_times(tmp_path):
    data = tmp_path / "data"
    cfg = tmp_path / "kit.yaml"
    cfg.write_text(f"""
site: plant
nats:
  port: {free_port()}
components:
  - name: press-1
    type: synthetic
    asset: plant/assembly/line1/press1
    config: {{interval_s: 0.01}}
""")
    for attempt in range(10):
        p = PtyProcess(KIT + ["--config", str(cfg), "up"], env_for(data))
        p.wait_for("kit runtime up")
        servers = nats_servers(data)
        assert len(servers) == 1, (attempt, servers)
        p.ctrl_c()
        rc = p.wait()
        assert rc == 0, (attempt, p.output)
        assert "Traceback" not in p.output, (attempt, p.output)
        assert "stopped" in p.output, (attempt, p.output)
        assert nats_servers(data) == [], attempt
        assert not (data / "runtime.json").exists()
