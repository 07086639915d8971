"""SM002 missing-sops-metadata: a ``*.enc.*`` file with no SOPS metadata."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..helpers import enc, secret, standard_repo
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/backup.enc.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: b\n"
            "data:\n  bucket: backups\n"
        },
    )


def miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(secret("db")),
            "apps/other.sops.yaml": enc(secret("other")),
            "apps/notes.enc.bak": "not a sops file, not named like one\n",
            "apps/readme.enc.md": "# notes\n",
        },
    )


CASES = [
    Case("SM002-hit", hit, {("SM002", "apps/backup.enc.yaml")}),
    Case("SM002-miss", miss, set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
