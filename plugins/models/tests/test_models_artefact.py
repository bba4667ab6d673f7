"""Model files: signature statuses, the site policy, the registry, and the ``kit model`` CLI."""

from __future__ import annotations

import copy
import json

import polars as pl
import pytest
from click.testing import CliRunner
from kit_models import artefact
from kit_models.train import train

from kit.cli import cli as kit_cli
from kit.trust.signing import load_private_key, new_keypair
from kit.trust.truststore import TrustStore, trust_key

T0 = 1_790_000_000.0


@pytest.fixture
def doc(bearing) -> dict:
    return train(
        bearing.simulate(T0, 6 * 3600, seed=1),
        name="pump1",
        version=1,
        points=bearing.POINTS,
        asset="s/a/l/pump1",
    )


@pytest.fixture
def keys(tmp_path):
    """A trusted vendor key and one the site does not trust."""
    data = tmp_path / "data"
    new_keypair(tmp_path / "k", "site")
    new_keypair(tmp_path / "k", "stranger")
    trust_key(data, tmp_path / "k" / "site.pub", "vendor")
    return (
        data,
        load_private_key(tmp_path / "k" / "site.key"),
        load_private_key(tmp_path / "k" / "stranger.key"),
    )


def test_statuses_and_policies(doc, keys) -> None:
    data, site_key, stranger = keys
    trusted = TrustStore.load(data).keys
    unsigned = artefact.verify(doc, trusted)
    assert unsigned.status == "Unsigned"
    ok, msg = artefact.decide(unsigned, "warn")
    assert ok and "Unsigned" in msg  # warned, loaded
    assert artefact.decide(unsigned, "require-certified")[0] is False

    signed = artefact.sign(copy.deepcopy(doc), site_key)
    assert artefact.verify(signed, trusted).status == "Signed"
    assert artefact.decide(artefact.verify(signed, trusted), "require-certified") == (True, "")

    modified = copy.deepcopy(signed)
    modified["model"]["threshold"] *= 10  # someone makes the model deaf
    st = artefact.verify(modified, trusted)
    assert st.status == "Modified"
    ok, msg = artefact.decide(st, "require-certified")
    assert not ok and "refused" in msg and "Modified" in msg
    assert artefact.decide(st, "warn")[0] is False

    replayed = copy.deepcopy(signed)
    replayed["manifest"]["version"] = 2  # v1's signature presented for a v2
    assert artefact.verify(replayed, trusted).status == "Invalid"

    broken = copy.deepcopy(signed)
    broken["signature"]["signature"] = broken["signature"]["signature"][::-1]
    assert artefact.verify(broken, trusted).status == "Invalid"

    foreign = artefact.sign(copy.deepcopy(doc), stranger)
    st = artefact.verify(foreign, trusted)
    assert st.status == "Untrusted" and artefact.decide(st, "warn")[0] is True
    assert artefact.decide(st, "require-certified")[0] is False


def test_registry_new_version_is_shadow_until_promoted(doc, tmp_path) -> None:
    data = tmp_path / "data"
    artefact.store(data, doc)
    assert artefact.registry(data, "pump1") == {"active": None, "shadow": 1, "retired": []}
    with pytest.raises(artefact.ModelError, match="never overwritten"):
        artefact.store(data, doc)
    assert artefact.promote(data, "pump1", 1) == {"model": "pump1", "active": 1, "previous": None}
    assert artefact.registry(data, "pump1")["shadow"] is None
    artefact.retire(data, "pump1", 1)
    assert artefact.registry(data, "pump1") == {"active": None, "shadow": None, "retired": [1]}
    with pytest.raises(artefact.ModelError, match="retired"):
        artefact.promote(data, "pump1", 1)
    with pytest.raises(artefact.ModelError, match="no version 7"):
        artefact.promote(data, "pump1", 7)


def test_cli_trains_from_csv_signs_lists_and_refuses_a_modified_file(
    bearing, keys, tmp_path
) -> None:
    data, _k, _s = keys
    rows = bearing.simulate(T0, 6 * 3600, seed=1)
    csv = tmp_path / "history.csv"
    pl.DataFrame(
        {
            "ts": [r[0] for r in rows],
            "point": [bearing.POINTS[r[1]] for r in rows],
            "value": [r[2] for r in rows],
            "quality": ["good"] * len(rows),
        }
    ).with_columns(pl.from_epoch("ts", time_unit="s").dt.replace_time_zone("UTC")).write_csv(csv)
    site = tmp_path / "site.yaml"
    site.write_text(f"site: t\ndata_dir: {data}\nplugin_policy: require-certified\n")
    points = ",".join(f"{s}={p}" for s, p in bearing.POINTS.items())
    runner = CliRunner()
    base = ["--config", str(site), "model"]
    out = runner.invoke(
        kit_cli,
        [
            *base,
            "train",
            "pump1",
            "--csv",
            str(csv),
            "--points",
            points,
            "--key",
            str(tmp_path / "k" / "site.key"),
        ],
    )
    assert out.exit_code == 0, out.output
    assert "fitting on" in out.stderr and "shadow" in out.stdout  # progress, then the result
    listed = runner.invoke(kit_cli, [*base, "list"])
    assert "pump1" in listed.stdout and "shadow" in listed.stdout and "Signed" in listed.stdout
    assert runner.invoke(kit_cli, [*base, "verify", "pump1", "1"]).exit_code == 0
    shown = json.loads(runner.invoke(kit_cli, [*base, "show", "pump1", "1"]).stdout)
    assert shown["manifest"]["training"]["source"] == "csv:history.csv"

    path = artefact.model_path(data, "pump1", 1)
    d = json.loads(path.read_text())
    d["model"]["center"][0] += 1.0
    path.write_text(json.dumps(d))
    res = runner.invoke(kit_cli, [*base, "verify", "pump1", "1"])
    assert res.exit_code == 1 and "Modified" in res.stdout and "refused" in res.stderr


def test_cli_trains_from_the_historian_over_a_chosen_window(bearing, tmp_path) -> None:
    from datetime import UTC, datetime

    from kit_historian.storage import RowBuffer, Store

    from kit.payloads import Point, SampleBatch

    data = tmp_path / "data"
    asset = "s/a/l/pump1"
    rows = bearing.simulate(T0, 8 * 3600, seed=1, step_s=10)
    buf = RowBuffer()
    for i in range(0, len(rows), 3):
        batch = SampleBatch(
            asset=asset,
            ts=datetime.fromtimestamp(rows[i][0], UTC),
            seq=i // 3,
            source="test",
            points=[Point(name=bearing.POINTS[s], value=v) for _t, s, v in rows[i : i + 3]],
        )
        buf.add_batch(batch, i // 3 + 1)
    Store(data / "history", "data").write(buf.frame(), 1, len(rows) // 3)
    site = tmp_path / "site.yaml"
    site.write_text(f"site: t\ndata_dir: {data}\n")
    # Only the first 6 of the 8 hours: the window chosen is the window trained on.
    start = datetime.fromtimestamp(T0, UTC).isoformat()
    end = datetime.fromtimestamp(T0 + 6 * 3600, UTC).isoformat()
    points = ",".join(f"{s}={p}" for s, p in bearing.POINTS.items())
    out = CliRunner().invoke(
        kit_cli,
        [
            "--config",
            str(site),
            "model",
            "train",
            "pump1",
            "--asset",
            asset,
            "--from",
            start,
            "--to",
            end,
            "--points",
            points,
        ],
    )
    assert out.exit_code == 0, out.output
    assert "reading history of s/a/l/pump1" in out.stderr
    doc = artefact.read_doc(artefact.model_path(data, "pump1", 1))
    tr = doc["manifest"]["training"]
    # Windows are aligned to whole minutes of the epoch (the same on every gateway).
    first_window = datetime.fromtimestamp(T0 // 60 * 60, UTC).isoformat()
    assert tr["source"] == "historian:s/a/l/pump1" and tr["from"] == first_window
    assert tr["windows"] == int(6 * 60 * 0.8)  # 360 one-minute windows, 20 % held out
    assert artefact.verify(doc, {}).status == "Unsigned"
