"""SM014 shared-data-key: two files share a wrapped data key or MAC."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import enc, secret, standard_repo
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    text = enc(secret("sentinel"))
    standard_repo(root, {"apps/sentinel.enc.yaml": text, "apps/sentinel-copy.enc.yaml": text})


def hit_check(report: AuditReport) -> None:
    (finding,) = report.findings
    assert "apps/sentinel.enc.yaml" in finding.message


def miss(root: Path) -> None:
    standard_repo(
        root,
        {"apps/a.enc.yaml": enc(secret("same")), "apps/b.enc.yaml": enc(secret("same"))},
    )


CASES = [
    Case("SM014-hit", hit, {("SM014", "apps/sentinel-copy.enc.yaml")}, verify=hit_check),
    Case("SM014-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
