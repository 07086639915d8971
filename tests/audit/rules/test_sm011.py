"""SM011 creation-rule-drift: recipients or rule differ from the matching ``.sops.yaml`` rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport
from secretsmgr.sops import EncryptionRule, RuleKind

from ..helpers import K1, K2, K3, enc, flux_kustomization, secret, sops_yaml, standard_repo, write
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    narrow = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data)$")
    standard_repo(
        root,
        {
            "apps/backup.enc.yaml": enc(
                "apiVersion: v1\nkind: Secret\nmetadata:\n  name: b\ndata:\n  k: dg==\n",
                rule=narrow,
            ),
        },
    )
    write(root, "other/x.yaml", "")
    write(
        root,
        ".sops.yaml",
        sops_yaml((r"^apps/.*\.enc\.yaml$", (K1,)), (r"^never/", (K1,))),
    )
    write(root, "clusters/prod/misc.yaml", flux_kustomization("misc", "./misc"))
    write(root, "misc/unmatched.sops.yaml", enc(secret("u")))


def hit_check(report: AuditReport) -> None:
    by_path = {f.path: f for f in report.findings}
    assert "encrypted_regex: ^(data)$" in by_path["apps/backup.enc.yaml"].message
    assert "no .sops.yaml creation rule" in by_path["misc/unmatched.sops.yaml"].message


def miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/db.enc.yaml": enc(secret("db"), (K2, K1)),  # same set, other order
            "apps/team/x.enc.yaml": enc(secret("x"), (K1, K3)),
        },
        allowed=[K2, K3],
        rule_keys=(K1, K2),
    )
    # The nearest .sops.yaml governs files below it.
    write(root, "apps/team/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1, K3))))


def rotation(root: Path) -> None:
    # a rotation under way: the rule names old + new (as begin leaves it), or the old key only
    # (a rotation begun before begin edited .sops.yaml): a file on both keys is clean either way
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1, K2))},
        rule_keys=(K1, K2),
        settings_extra=f"next_cluster_key: {K2}\n",
    )
    write(root, "apps/team/.sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    write(root, "apps/team/x.enc.yaml", enc(secret("x"), (K2, K1)))


def rotation_old_only(root: Path) -> None:
    standard_repo(
        root,
        {"apps/db.enc.yaml": enc(secret("db"), (K1,))},
        rule_keys=(K1,),
        settings_extra=f"next_cluster_key: {K2}\n",
    )


def rotation_old_only_check(report: AuditReport) -> None:
    (finding,) = [f for f in report.findings if f.rule == "SM011"]
    assert "missing recipient" in finding.message and "old key only" in finding.message
    assert finding.fix == "secretsmgr key rotate --begin"


CASES = [
    Case(
        "SM011-hit",
        hit,
        {("SM011", "apps/backup.enc.yaml"), ("SM011", "misc/unmatched.sops.yaml")},
        verify=hit_check,
    ),
    Case("SM011-miss", miss, set()),
    Case(
        "SM011-rotation-miss",
        rotation,
        {("SM017", "apps/db.enc.yaml"), ("SM017", "apps/team/x.enc.yaml")},
    ),
    Case(
        "SM011-rotation-old-only",
        rotation_old_only,
        {("SM011", "apps/db.enc.yaml"), ("SM017", "apps/db.enc.yaml")},
        verify=rotation_old_only_check,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
