"""SM016 cluster-key-drift (cluster): the repository's key is not held by the live cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import K1, K2, K3, enc, secret, standard_repo
from .cases import Case, ids, live, run_case


def hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"), (K1,))})


def pending_hit(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K2))},
        rule_keys=(K1,),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def sops_yaml_hit(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))},
        cluster_key=None,
        rule_keys=(K1, K3),
    )


def pending_check(report: AuditReport) -> None:
    (finding,) = [f for f in report.findings if f.rule == "SM016"]
    assert "pending new cluster key" in finding.message
    assert finding.fix == "secretsmgr key rotate --begin --apply"


CASES = [
    Case(  # the live keys are the cluster keys too (--from-cluster): SM004 and SM005 agree
        "SM016-hit",
        hit,
        {
            ("SM016", ".secretsmgr.yaml"),
            ("SM004", "apps/db.enc.yaml"),
            ("SM005", "apps/db.enc.yaml"),
        },
        options=live(K2),
    ),
    Case(
        "SM016-pending-hit",
        pending_hit,
        {("SM016", ".secretsmgr.yaml"), ("SM017", "apps/db.enc.yaml")},
        options=live(K1),
        verify=pending_check,
    ),
    Case(
        "SM016-sops-yaml-hit",
        sops_yaml_hit,
        {("SM016", ".sops.yaml"), ("SM004", "apps/db.enc.yaml"), ("SM005", "apps/db.enc.yaml")},
        options=live(K2),
    ),
    Case("SM016-miss", hit, set(), options=live(K2, K1)),
    Case(  # one of the rule's keys is held: no drift (K1 is a stranger to the live keys)
        "SM016-sops-yaml-miss",
        sops_yaml_hit,
        {("SM005", "apps/db.enc.yaml")},
        options=live(K3),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
