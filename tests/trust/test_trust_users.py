"""Named bus accounts (kit users add): stored 0600, validated, and in the server's config
with the right permissions (the server-side refusals are in plugins/notify/tests)."""

from __future__ import annotations

import stat

import pytest
from click.testing import CliRunner

from kit.cli import cli as kit_cli
from kit.errors import ConfigError
from kit.trust.busauth import BusAuth, role_permissions
from kit.trust.users import add_user, load_users, user_permissions, users_file


def test_users_cli_add_list_remove_without_a_runtime(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KIT_DATA_DIR", str(tmp_path))
    res = CliRunner().invoke(kit_cli, ["users", "add", "grafana"])
    assert res.exit_code == 0, res.output
    pw = load_users(tmp_path)["grafana"]["password"]
    assert len(pw) >= 20 and f"password: {pw}" in res.output
    assert "not running: it loads the account when it starts" in res.output
    assert stat.S_IMODE(users_file(tmp_path).stat().st_mode) == 0o600
    assert CliRunner().invoke(kit_cli, ["users", "list"]).output == "grafana\tviewer\n"
    res = CliRunner().invoke(kit_cli, ["users", "remove", "grafana"])
    assert res.exit_code == 0 and load_users(tmp_path) == {}
    assert CliRunner().invoke(kit_cli, ["users", "remove", "grafana"]).exit_code == 1


@pytest.mark.parametrize("name", ["admin", "viewer", "runtime", "c-historian", "Bad Name", "1x"])
def test_reserved_and_bad_names_are_refused(tmp_path, name) -> None:
    with pytest.raises(ConfigError, match="user name"):
        add_user(tmp_path, name, "viewer")
    assert not users_file(tmp_path).exists()


def test_named_accounts_are_in_the_server_config(tmp_path) -> None:
    add_user(tmp_path, "nodered", "viewer", "p" * 16)
    add_user(tmp_path, "mes", "technician", "q" * 16)
    conf = "\n".join(BusAuth.load_or_create(tmp_path).conf_lines())
    assert '{user: "nodered", password: "pppppppppppppppp"' in conf
    assert '{user: "mes", password: "qqqqqqqqqqqqqqqq"' in conf
    viewer = user_permissions("viewer")
    assert viewer["publish"] == {"deny": [">"]}
    assert viewer["subscribe"]["allow"] == ["kit.out.kpi.>", "kit.out.kpi"]
    assert user_permissions("technician") == role_permissions("technician")
