"""Foundation issue, point 4: told once, delivered to two agencies, through the gateway."""

from __future__ import annotations

from pathlib import Path

import pytest
from hubkit.harness import Hub, start_hub
from hubkit.skeleton import Outcome, run_skeleton

pytestmark = pytest.mark.e2e


def check(outcome: Outcome) -> None:
    sub = outcome.submission
    assert sub["reference"].startswith("CT-")
    assert {d["agency"] for d in sub["deliveries"]} == {"DSS", "DOL"}
    assert outcome.replay.status_code == 201
    assert outcome.replay.json()["id"] == sub["id"]

    dss_headers, dss = outcome.deliveries["DSS"]
    dol_headers, dol = outcome.deliveries["DOL"]
    for headers, payload, agency in ((dss_headers, dss, "DSS"), (dol_headers, dol, "DOL")):
        assert payload["type"] == "submission.created"
        assert payload["data"]["reference"] == sub["reference"]
        assert payload["data"]["agency"] == agency
        assert headers["webhook-id"] == payload["data"]["delivery_id"]
    assert dss["data"]["answers"] == {
        "applicant": {"fullName": "Ana Diaz", "birthDate": "1990-04-01", "ssn": "123456789"},
        "household": {"size": 3, "monthlyIncome": 2100.5},
    }
    assert dol["data"]["answers"] == {
        "applicant": {"fullName": "Ana Diaz", "birthDate": "1990-04-01"}
    }
    assert outcome.read_back["reference"] == sub["reference"]
    assert outcome.read_back["id"] == sub["id"]


def test_skeleton_on_postgresql(hub: Hub) -> None:
    check(run_skeleton(hub.gateway_url))


def test_skeleton_on_sqlite_default(tmp_path: Path) -> None:
    sqlite_hub = start_hub(backend="sqlite", workdir=tmp_path)
    try:
        check(run_skeleton(sqlite_hub.gateway_url))
    finally:
        sqlite_hub.stop()
