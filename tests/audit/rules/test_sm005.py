"""SM005 unexpected-recipient: a recipient that is neither the cluster key nor allowed."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import K1, K3, enc, secret, standard_repo
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))}, rule_keys=(K1, K3))


def hit_check(report: AuditReport) -> None:
    (finding,) = report.findings
    assert "age1d7u0…uw0l" in finding.message
    assert K3 not in finding.message
    assert finding.key_path is None


def miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K3))},
        allowed=[K3],
        rule_keys=(K1, K3),
    )


CASES = [
    Case("SM005-hit", hit, {("SM005", "apps/db.enc.yaml")}, verify=hit_check),
    Case("SM005-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
