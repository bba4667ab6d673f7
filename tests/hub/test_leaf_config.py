"""The site side of the hub link: config block, and clear errors for bad credentials."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kit.errors import ConfigError
from kit.hub.config import HubState, add_site, site_credentials, write_credentials
from kit.hub.leaf import leaf_config
from kit.runtime import Runtime
from kit.settings import HubLinkSettings, Settings


def _creds(tmp_path: Path, site: str) -> Path:
    state = HubState.create(1)
    add_site(state, site)
    return write_credentials(
        tmp_path / f"{site}.json", site_credentials(state, site, ["nats-leaf://127.0.0.1:7422"])
    )


def test_leaf_block_has_user_url_and_site_side_denies(tmp_path: Path):
    creds = _creds(tmp_path, "plant-a")
    text = "\n".join(leaf_config("plant-a", HubLinkSettings(credentials=creds)))
    pw = json.loads(creds.read_text())["password"]
    assert f"nats-leaf://site-plant-a:{pw}@127.0.0.1:7422" in text
    deny = json.loads(text.split("deny_imports: ", 1)[1].splitlines()[0])
    assert "kit.>" in deny and "$JS.plant-a.API.STREAM.DELETE.>" in deny
    assert oct(creds.stat().st_mode & 0o777) == "0o600"


def test_credentials_of_another_site_are_refused(tmp_path: Path):
    creds = _creds(tmp_path, "plant-b")
    with pytest.raises(ConfigError, match="is for site 'plant-b', this site is 'plant-a'"):
        leaf_config("plant-a", HubLinkSettings(credentials=creds))


def test_missing_or_malformed_credentials_name_the_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="hub.credentials: .*nope.json"):
        leaf_config("plant-a", HubLinkSettings(credentials=tmp_path / "nope.json"))
    bad = tmp_path / "bad.json"
    bad.write_text('{"site": "plant-a"}')
    with pytest.raises(ConfigError, match=r"bad.json:1: hub credentials: missing 'user'"):
        leaf_config("plant-a", HubLinkSettings(credentials=bad))


async def test_hub_with_external_nats_url_is_a_clear_error(tmp_path: Path):
    settings = Settings(
        site="plant-a",
        data_dir=tmp_path / "d",
        nats_url="nats://127.0.0.1:1",
        hub=HubLinkSettings(credentials=_creds(tmp_path, "plant-a")),
    )
    with pytest.raises(ConfigError, match="needs the embedded server"):
        await Runtime(settings).start()


def test_alarms_name_lag_over_limits_gaps_and_duplicates():
    from kit.hub.status import SourceStatus, alarms, gaps_in

    ok = SourceStatus("plant-a", "KIT_KPI", "FLEET_KPI", lag_msgs=3, lag_s=1.0)
    late = SourceStatus("plant-b", "KIT_KPI", "FLEET_KPI", lag_msgs=500, lag_s=90.0)
    holes = SourceStatus(
        "plant-c", "KIT_EVENTS", "FLEET_EVENTS", lag_msgs=0, gaps=gaps_in({1, 2, 5, 9}, 1, 10)
    )
    assert holes.gaps == [(3, 4), (6, 8), (10, 10)]
    out = alarms([ok, late, holes], max_lag_msgs=100, max_lag_s=60)
    assert out == [
        "ALARM plant-b KIT_KPI: lag 500 messages > 100, lag 90.0 s > 60 s",
        "ALARM plant-c KIT_EVENTS: 3 gap(s)",
    ]
    assert alarms([ok, late], max_lag_msgs=None, max_lag_s=None) == []
