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


def test_a_file_a_cluster_with_no_known_key_applies_has_no_stranger(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fifth attack review: production's key pinned, staging's not; a shared file on both
    keys had SM005 call staging's a stranger, and its `rotate FILE` fix (which keeps a file's
    keys where a cluster's key is unknown) changed nothing."""
    from secretsmgr.audit.engine import run_audit
    from tests.audit.helpers import K1, K2, enc, secret
    from tests.audit.helpers import write as put
    from tests.init.helpers import two_cluster_repo

    repo = two_cluster_repo(tmp_path / "fleet")
    put(
        repo,
        ".secretsmgr.yaml",
        f"clusters:\n  production:\n    path: clusters/production\n    cluster_key: {K1}\n",
    )
    put(repo, "apps/base/shared.enc.yaml", enc(secret("shared", {"k": "v4lue-1"}), (K1, K2)))
    (repo / "apps/base/kustomization.yaml").write_text(
        "resources:\n  - shared.yaml\n  - shared.enc.yaml\n"
    )
    found = [f for f in run_audit(repo).findings if f.rule == "SM005"]
    assert found == []
    # pinned for both clusters, the other key is a stranger again
    put(
        repo,
        ".secretsmgr.yaml",
        f"clusters:\n  production:\n    path: clusters/production\n    cluster_key: {K1}\n"
        f"  staging:\n    path: clusters/staging\n    cluster_key: {K1}\n",
    )
    assert [f.path for f in run_audit(repo).findings if f.rule == "SM005"] == [
        "apps/base/shared.enc.yaml"
    ]


def test_a_file_no_layer_applies_and_no_rule_covers_has_no_stranger(tmp_path: Path) -> None:
    """Sweep 67 (yyewolf/infra after init): files outside Flux (Terraform's, an archive's)
    that no creation rule covers had SM005 errors for their own keys, and check failed on
    files no cluster reads; in a layer, the same file still has one."""
    from ..helpers import sops_yaml, write

    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": enc(secret("db"), (K1, K3)),
            "terraform/cloud.enc.yaml": enc(secret("cloud"), (K1, K3)),
        },
    )
    write(tmp_path, ".sops.yaml", sops_yaml((r"^apps/.*\.enc\.yaml$", (K1,))))
    from secretsmgr.audit.engine import run_audit

    found = [f.path for f in run_audit(tmp_path).findings if f.rule == "SM005"]
    assert found == ["apps/db.enc.yaml"]
