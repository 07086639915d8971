"""SM007 mac-mismatch (key): the MAC does not match, or a value fails to authenticate."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import enc, secret, standard_repo
from .cases import VERIFY, Case, ids, insert_after, run_case


def hit(root: Path) -> None:
    tampered = enc(secret("db")).replace("name: db", "name: db-replica", 1)
    swapped = enc(secret("sw"))
    values = dict(re.findall(r"(password|username): (ENC\[[^\n]*\])", swapped))
    swapped = swapped.replace(values["password"], "@P").replace(values["username"], "@U")
    swapped = swapped.replace("@P", values["username"]).replace("@U", values["password"])
    standard_repo(root, {"apps/db.enc.yaml": tampered, "apps/swapped.enc.yaml": swapped})


def hit_check(report: AuditReport) -> None:
    found = {(f.path, f.key_path) for f in report.findings}
    assert ("apps/db.enc.yaml", None) in found
    assert ("apps/swapped.enc.yaml", "stringData.password") in found
    for f in report.findings:
        assert "s3cr3t" not in f.message and "admin" not in f.message


def miss(root: Path) -> None:
    text = insert_after(enc(secret("db")), "stringData:", "    # comments are not in the MAC")
    standard_repo(root, {"apps/db.enc.yaml": text})


CASES = [
    Case(
        "SM007-hit",
        hit,
        {("SM007", "apps/db.enc.yaml"), ("SM007", "apps/swapped.enc.yaml")},
        options=VERIFY,
        verify=hit_check,
    ),
    Case("SM007-miss", miss, set(), options=VERIFY),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
