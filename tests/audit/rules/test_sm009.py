"""SM009 private-key-committed: an age private key in a file."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.keys.age import generate_identity

from ..helpers import standard_repo, write
from .cases import Case, ids, run_case

SECRET_KEY, SECRET_PUBLIC = generate_identity()
PQ_KEY = "AGE-SECRET-KEY-PQ-1" + "QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L" * 2


def hit(root: Path) -> None:
    standard_repo(root, {})
    write(root, "apps/notes.txt", f"scratch\n\nmy key:\n{SECRET_KEY}\n")
    write(root, "docs/pq.md", f"- {PQ_KEY}\n")


def hit_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    notes = by_path["apps/notes.txt"]
    assert "line 4" in notes.message and "AGE-SECRET-KEY-1…" in notes.message
    assert SECRET_PUBLIC[:7] in notes.message
    assert "line 1" in by_path["docs/pq.md"].message
    for f in report.findings:
        for text in (f.message, f.fix or ""):
            assert SECRET_KEY not in text and SECRET_KEY[16:40] not in text
            assert PQ_KEY not in text and PQ_KEY[19:40] not in text


def miss(root: Path) -> None:
    standard_repo(
        root,
        {},
        settings_extra=(
            'ignore:\n  - {rule: SM009, path: "keys/*.agekey", reason: "test-only keys"}\n'
        ),
    )
    write(
        root,
        "docs/keys.md",
        "Identities look like AGE-SECRET-KEY-1… or AGE-SECRET-KEY-PQ-1…, e.g.\n"
        "AGE-SECRET-KEY-1XXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n"
        f"The public key {SECRET_PUBLIC} is fine to share.\n",
    )
    write(root, "keys/test.agekey", f"# test only\n{SECRET_KEY}\n")


def miss_check(report: AuditReport) -> None:
    assert report.suppressed == 1


CASES = [
    Case(
        "SM009-hit",
        hit,
        {("SM009", "apps/notes.txt"), ("SM009", "docs/pq.md")},
        verify=hit_check,
    ),
    Case("SM009-miss", miss, set(), verify=miss_check),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
