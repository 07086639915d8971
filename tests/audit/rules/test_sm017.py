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
    assert "this file is ready;" in got["apps/both.enc.yaml"].message
    assert "old key only" in got["apps/old.enc.yaml"].message
    assert got["apps/old.enc.yaml"].fix == "secretsmgr key rotate --begin"
    assert "new key only" in got["apps/new.enc.yaml"].message
    assert all(f.severity.value == "info" for f in got.values())


def overlap(root: Path) -> None:
    # key rotate --begin also put the new key beside the old one in .sops.yaml
    standard_repo(
        root,
        {
            "apps/both.enc.yaml": enc(secret("both"), (K1, K2)),
            "apps/old.enc.yaml": enc(secret("old"), (K1,)),
        },
        rule_keys=(K1, K2),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def overlap_check(report: AuditReport) -> None:
    old = [f for f in report.findings if f.path == "apps/old.enc.yaml"]
    assert sorted(f.rule for f in old) == ["SM011", "SM017"]
    # one story, one cure: the same words and the same fix from both rules
    assert all(
        "still on the old key only: key rotate --finish would refuse" in f.message for f in old
    )
    assert {f.fix for f in old} == {"secretsmgr key rotate --begin"}
    both = [f for f in report.findings if f.path == "apps/both.enc.yaml"]
    assert [(f.rule, f.severity.value) for f in both] == [("SM017", "info")]


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
    Case(
        "SM017-overlap",
        overlap,
        {
            ("SM017", "apps/both.enc.yaml"),
            ("SM017", "apps/old.enc.yaml"),
            ("SM011", "apps/old.enc.yaml"),
        },
        verify=overlap_check,
    ),
    Case("SM017-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
