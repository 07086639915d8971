"""Findings carry the line of their key path (SARIF and annotations place them there)."""

from __future__ import annotations

from pathlib import Path

from .helpers import audit, enc, flux_kustomization, secret, standard_repo, write


def _line_of(root: Path, rel: str, needle: str) -> int:
    lines = (root / rel).read_text(encoding="utf-8").splitlines()
    return next(i for i, line in enumerate(lines, start=1) if needle in line)


def test_findings_on_key_paths_carry_their_line(tmp_path: Path) -> None:
    text = enc(secret("db")).replace("stringData:\n", "stringData:\n    ADMIN: in-clear\n", 1)
    standard_repo(
        tmp_path,
        {
            "apps/db.enc.yaml": text,
            "apps/plain.yaml": "# leading comment\n" + secret("p", {"token": "hunter2"}),
        },
    )
    by_rule = {f.rule: f for f in audit(tmp_path).findings}
    assert by_rule["SM003"].line == _line_of(tmp_path, "apps/db.enc.yaml", "ADMIN:")
    assert by_rule["SM001"].line == _line_of(tmp_path, "apps/plain.yaml", "token:")


def test_a_second_document_is_located_in_its_own_text(tmp_path: Path) -> None:
    two = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  token: x\n---\n"
    standard_repo(tmp_path, {"apps/two.yaml": two + secret("s", {"token": "hunter2"})})
    (sm001,) = [f for f in audit(tmp_path).findings if f.rule == "SM001"]
    assert sm001.line == 15  # the Secret's stringData.token, not the ConfigMap's data.token


def test_sm010_points_at_the_spec_of_the_layer_that_lacks_decryption(tmp_path: Path) -> None:
    standard_repo(tmp_path, {"apps/db.enc.yaml": enc(secret("db"))})
    git_repository = (
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n"
        "  name: apps\nspec:\n  url: https://example.org/x\n---\n"
    )
    write(tmp_path, "clusters/prod/apps.yaml", git_repository + flux_kustomization(decryption=None))
    (sm010,) = [f for f in audit(tmp_path).findings if f.rule == "SM010"]
    assert sm010.fix_at is not None and sm010.fix_at.path == "clusters/prod/apps.yaml"
    assert sm010.fix_at.line == 13  # the Kustomization's spec, not the GitRepository's
    lines = (tmp_path / "clusters/prod/apps.yaml").read_text().splitlines()
    assert lines[sm010.fix_at.line - 1] == "spec:"


def test_findings_without_a_key_path_have_no_line(tmp_path: Path) -> None:
    standard_repo(tmp_path, {"old/legacy.enc.yaml": enc(secret("l"))})
    (sm012,) = [f for f in audit(tmp_path).findings if f.rule == "SM012"]
    assert sm012.line is None and sm012.fix_at is None
