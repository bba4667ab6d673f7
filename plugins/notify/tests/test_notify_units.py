"""Route filters, the rate limit, and secrets sealed at rest (no bus needed)."""

from __future__ import annotations

import stat
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from cryptography.fernet import Fernet
from kit_notify.config import Match, NotifyConfig
from kit_notify.outbox import Delivery, Outbox, TokenBucket
from kit_notify.secrets import FILE, get_secret
from pydantic import ValidationError

from kit.cli import cli as kit_cli
from kit.errors import ConfigError
from kit.payloads import Event

T = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


def ev(kind="alarm", type="alarm_raised", asset="w/assembly/l1/press", **kw) -> Event:
    return Event(kind=kind, type=type, asset=asset, ts=T, source="t", **kw)


def test_match_criteria_all_hold() -> None:
    m = Match(types=["alarm_raised"], min_priority="high", areas=["assembly"])
    assert m.matches(ev(data={"priority": "high"}))
    assert m.matches(ev(severity="critical"))  # no data.priority: the severity counts
    assert not m.matches(ev(data={"priority": "medium"}, severity="critical"))
    assert not m.matches(ev(type="alarm_cleared", data={"priority": "high"}))
    assert not m.matches(ev(asset="w/paint/l1/oven", data={"priority": "high"}))
    assert not m.matches(ev(kind="spc", data={"priority": "high"}))
    wo = Match(kinds=["work_order"], states=["approved"], assets=["w/*/l1/*"])
    assert wo.matches(ev(kind="work_order", type="x", data={"state": "approved"}))
    assert not wo.matches(ev(kind="work_order", type="x", data={"state": "proposed"}))
    assert not wo.matches(
        ev(kind="work_order", type="x", asset="w/a/l2/m", data={"state": "approved"})
    )


def test_token_bucket_allows_count_per_period() -> None:
    b = TokenBucket(count=3, per_s=60)
    assert [b.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert b.wait_s(100.0) == pytest.approx(20.0)
    assert not b.take(119.0) and b.take(120.0)


def test_config_refuses_credentials_outside_secrets() -> None:
    base = {"name": "mes", "type": "webhook"}
    with pytest.raises(ValidationError, match="use token_secret"):
        NotifyConfig(routes=[{**base, "url": "https://u:pw@mes.local/x"}])
    with pytest.raises(ValidationError, match="use token_secret"):
        NotifyConfig(
            routes=[{**base, "url": "https://mes.local/x", "headers": {"Authorization": "x"}}]
        )
    with pytest.raises(ValidationError, match="[Pp]ort"):
        NotifyConfig(routes=[{**base, "url": "http://mes.local:99999/x"}])
    with pytest.raises(ValidationError, match="unique"):
        NotifyConfig(
            routes=[{**base, "url": "http://a.local/"}, {**base, "url": "http://b.local/"}]
        )


def test_secret_cli_seals_the_value(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("KIT_DATA_DIR", str(tmp_path))
    run = CliRunner().invoke(
        kit_cli, ["notify", "secret", "set", "mes_token", "--stdin"], input="Xy-9-secret\n"
    )
    assert run.exit_code == 0, run.output
    raw = (tmp_path / FILE).read_bytes()
    assert b"Xy-9-secret" not in raw and b"mes_token" in raw
    assert stat.S_IMODE((tmp_path / FILE).stat().st_mode) == 0o600
    assert get_secret(tmp_path, "mes_token") == "Xy-9-secret"
    assert CliRunner().invoke(kit_cli, ["notify", "secret", "list"]).output == "mes_token\n"
    (tmp_path / "secrets.key").write_bytes(
        Fernet.generate_key()
    )  # another site's key cannot open it
    with pytest.raises(ConfigError, match="mes_token"):
        get_secret(tmp_path, "mes_token")


def test_outbox_keeps_keys_once_and_drops_the_oldest_beyond_its_bound() -> None:
    box = Outbox(max_pending=2)
    mk = lambda k: Delivery(key=k, route="r", event={}, created=0.0, due=0.0)  # noqa: E731
    assert box.add(mk("a")) is None and box.add(mk("a")) is None  # a redelivered event
    assert box.add(mk("b")) is None
    dropped = box.add(mk("c"))
    assert dropped is not None and dropped.key == "a"
    restored = Outbox(max_pending=2)
    assert restored.load(box.to_state()) == 2
    assert [d.key for d in restored.for_route("r")] == ["b", "c"]
