"""SM017 cluster-key-rotation: a cluster-key rotation is under way (info)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import K1, K2, enc, secret, standard_repo
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/both.enc.yaml": enc(secret("both"), (K1, K2)),
            "apps/old.enc.yaml": enc(secret("old"), (K1,)),
            "apps/new.enc.yaml": enc(secret("new"), (K2,)),
        },
        rule_keys=(K1,),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def hit_check(report: AuditReport) -> None:
    got = {f.path: f for f in report.findings if f.rule == "SM017"}
    assert "ready to finish" in got["apps/both.enc.yaml"].message
    assert "old key only" in got["apps/old.enc.yaml"].message
    assert got["apps/old.enc.yaml"].fix == "secretsmgr key rotate --begin"
    assert "new key only" in got["apps/new.enc.yaml"].message
    assert all(f.severity.value == "info" for f in got.values())


def miss(root: Path) -> None:
    # no next_cluster_key: no rotation under way
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"), (K1,))})


CASES = [
    Case(
        "SM017-hit",
        hit,
        {
            ("SM017", "apps/both.enc.yaml"),
            ("SM017", "apps/old.enc.yaml"),
            ("SM017", "apps/new.enc.yaml"),
            ("SM011", "apps/old.enc.yaml"),
            ("SM011", "apps/new.enc.yaml"),
        },
        verify=hit_check,
    ),
    Case("SM017-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
