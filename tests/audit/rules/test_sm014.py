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


def test_a_backup_applied_by_nothing_is_to_be_removed(tmp_path: Path) -> None:
    # sweep 26, NovaMachina/home-ops: secret.sops.yaml.bak shares the data key of the file
    # beside it (an older version: sops keeps the data key through edits); rotating a backup
    # nothing reads is wasted work, the fix is to remove it
    from secretsmgr.audit.engine import run_audit

    text = enc(secret("sentinel"))
    root = standard_repo(
        tmp_path / "r",
        {"apps/secret.sops.yaml": text, "apps/secret.sops.yaml.bak": text},
    )
    (finding,) = [f for f in run_audit(root).findings if f.rule == "SM014"]
    assert finding.path == "apps/secret.sops.yaml.bak"
    assert "a backup of an encrypted file" in finding.message
    assert (finding.fix or "").startswith("remove it if nothing reads it: git rm ")
    # the third review: a copy in another folder, or under another name, is no backup of it
    (root / "apps/secret.sops.yaml.bak").rename(root / "other.sops.yaml.old")
    (finding,) = [f for f in run_audit(root).findings if f.rule == "SM014"]
    assert "a copied encrypted file" in finding.message
