"""SM021 symlinked-sops-file: discovery never follows a link out of the repository, and a SOPS
file that is a link is an error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from secretsmgr.audit.engine import run_audit

from ..helpers import K1, enc, secret, standard_repo, write
from .cases import Case, ids, run_case


def _link(root: Path, link: str) -> None:
    standard_repo(root, {"apps/db.enc.yaml": enc(secret("db")), "apps/readme.md": "# db\n"})
    target = "db.enc.yaml" if link.endswith(".enc.yaml") else "readme.md"
    (root / link).symlink_to(target)


CASES = [
    Case(
        "SM021-hit",
        lambda root: _link(root, "apps/alias.enc.yaml"),
        {("SM021", "apps/alias.enc.yaml")},
    ),
    Case("SM021-miss", lambda root: _link(root, "apps/alias.md"), set()),
]


@pytest.mark.parametrize("case", CASES, ids=ids(CASES))
def test_case(case: Case, tmp_path: Path) -> None:
    run_case(case, tmp_path)


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    root = standard_repo(tmp_path / "repo", {"apps/db.enc.yaml": enc(secret("db"))})
    outside = tmp_path / "prod-gitops"
    write(outside, "apps/prod.enc.yaml", enc(secret("prod"), (K1,)))
    write(outside, "notes.txt", "AGE-SECRET-KEY-1" + "QZ" * 29 + "X\n")
    write(outside, "leak.yaml", secret("leak"))
    return root, outside


def test_a_sops_link_out_of_the_repository_is_reported_and_never_read(tmp_path: Path) -> None:
    root, outside = _repo(tmp_path)
    os.symlink(outside / "apps" / "prod.enc.yaml", root / "apps" / "prod.enc.yaml")
    os.symlink(outside / "notes.txt", root / "apps" / "notes.txt")
    os.symlink(outside / "leak.yaml", root / "apps" / "leak.yaml")
    report = run_audit(root, keyless_only=True)
    found = {(f.rule, f.path) for f in report.findings}
    assert found == {("SM021", "apps/prod.enc.yaml")}
    sm021 = next(f for f in report.findings if f.rule == "SM021")
    assert "outside the repository" in sm021.message
    # what lies outside (a key, a plaintext Secret) is not this repository's to report
    assert "apps/prod.enc.yaml" not in report.sops_files


def test_a_link_inside_the_repository_names_its_target(tmp_path: Path) -> None:
    root, _ = _repo(tmp_path)
    os.symlink("db.enc.yaml", root / "apps" / "alias.enc.yaml")
    report = run_audit(root, keyless_only=True)
    sm021 = [f for f in report.findings if f.rule == "SM021"]
    assert [(f.path, "apps/db.enc.yaml" in f.message) for f in sm021] == [
        ("apps/alias.enc.yaml", True)
    ]
    # Flux never archives a link: the layer reaches the target, not the link
    assert report.sops_files == ("apps/db.enc.yaml",)


def test_a_link_that_is_not_a_sops_file_is_no_finding(tmp_path: Path) -> None:
    root, _ = _repo(tmp_path)
    write(root, "docs/readme.md", "# notes\n")
    os.symlink("readme.md", root / "docs" / "README.md")
    report = run_audit(root, keyless_only=True)
    assert not [f for f in report.findings if f.rule == "SM021"]
