"""SM012 not-deployed-by-flux: a SOPS file no live layer reaches."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.audit.finding import AuditReport

from ..helpers import K1, enc, secret, sops_yaml, standard_repo, write
from .cases import Case, ids, run_case


def hit(root: Path) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db")), "old/legacy.enc.yaml": ""})
    write(root, "old/legacy.enc.yaml", enc(secret("legacy")))


def miss(root: Path) -> None:
    standard_repo(
        root,
        {
            "apps/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1beta1\n"
            "kind: Kustomization\nresources:\n  - ../shared/db.enc.yaml\n",
            "shared/db.enc.yaml": enc(secret("db")),
        },
    )


def no_layers(root: Path) -> None:
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", (K1,))))
    write(root, "secrets/db.enc.yaml", enc(secret("db")))


def no_layers_check(report: AuditReport) -> None:
    assert ("SM012", "no Flux Kustomization found") in report.skipped


CASES = [
    Case("SM012-hit", hit, {("SM012", "old/legacy.enc.yaml")}),
    Case("SM012-miss", miss, set()),
    Case("SM012-no-layers-skipped", no_layers, set(), verify=no_layers_check),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)
