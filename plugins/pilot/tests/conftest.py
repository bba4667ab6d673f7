"""Shared by the pilot tests: the simulated machine (pilot_sim, made importable here in
importlib import mode) and site A, built once per test session (test_pilot_cli.py
keeps its own, smaller ``site``)."""

from __future__ import annotations

import json
import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from pilot_sim import DAYS, NOW, START, kit, simulate, start_pilot  # noqa: E402

from kit.trust.signing import new_keypair  # noqa: E402


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """Site A: history with the known change, a pilot, a signing key, one report and pack."""
    tmp = tmp_path_factory.mktemp("site")
    data = tmp / "a"
    hist = data / "history"
    base = simulate(hist, START - timedelta(days=DAYS), 3 * DAYS, 2.0, 0.50, seed=1)
    pil = simulate(hist, START, 3 * DAYS, 1.2, 0.46, seed=2)
    start_pilot(data, "press")
    new_keypair(data / "keys", "site", "Acme Hall 3")
    out = tmp / "report"
    r = kit(
        data,
        "pilot",
        "report",
        "press",
        "-o",
        str(out),
        "--product-mix",
        "A-200 only",
        "--now",
        NOW.isoformat(),
    )
    assert r.exit_code == 0, r.output
    pack = tmp / "press.kitevidence"
    r = kit(
        data,
        "pilot",
        "pack",
        "press",
        "-o",
        str(pack),
        "--product-mix",
        "A-200 only",
        "--now",
        NOW.isoformat(),
    )
    assert r.exit_code == 0, r.output
    return {
        "data": data,
        "tmp": tmp,
        "base": base,
        "pilot": pil,
        "out": out,
        "pack": pack,
        "report": json.loads((out / "report.json").read_text()),
    }
