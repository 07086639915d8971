"""Writers never write through a symbolic link, nor outside the repository (issue 12, High 2).

A symlinked ``*.enc.yaml`` pointing into a sibling production checkout once became a regular
file re-encrypted to this repository's keys and committed. Now every write target goes through
``fsutil.check_write_target``, and the changelog path must stay inside the root.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import pytest

from secretsmgr.errors import RefusedError
from secretsmgr.fsutil import check_write_target, check_write_targets, confined
from tests.cli.runner import run
from tests.rotate.helpers import CHANGELOG, DEMO, DEMO_KEY, PG, REDIS, commit_all, snapshot

pytestmark = pytest.mark.interop


def rotate(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code, _, err = run(["--repo", str(repo), "rotate", *args], capsys)
    return code, err


@pytest.fixture
def production(tmp_path: Path) -> Path:
    """A sibling checkout holding another repository's secret."""
    prod = tmp_path / "production"
    shutil.copytree(DEMO, prod)
    return prod


@pytest.mark.parametrize("where", ["outside", "inside"])
def test_a_symlinked_sops_file_is_never_written(
    demo_repo: Path,
    production: Path,
    demo_key: Path,
    capsys: pytest.CaptureFixture[str],
    where: str,
) -> None:
    link = demo_repo / "gitops" / "apps" / "postgresql" / "prod-credentials.enc.yaml"
    target = production / PG if where == "outside" else demo_repo / REDIS
    link.symlink_to(os.path.relpath(target, link.parent))
    commit_all(demo_repo, "a linked secret")
    prod_before, target_before = snapshot(production), target.read_bytes()
    code, err = rotate(demo_repo, capsys, str(link), "--commit")
    assert code == 1, err  # named: refused (discovery leaves links out: SM021)
    assert err.startswith(f"secretsmgr: error: {link}: is a symlink; secretsmgr writes only")
    if where == "inside":  # it said "not a SOPS file of this repository" (exit 2)
        assert f"hint: rotate the file it points at: secretsmgr rotate {REDIS}\n" in err
        # a dry run's hint is one too (the attack review of stop 45: pasted, it rotated)
        code, err = rotate(demo_repo, capsys, str(link), "--dry-run")
        assert code == 1 and f"secretsmgr rotate {REDIS} --dry-run\n" in err, err
    else:
        assert "it points outside this repository" in err
    code, err = rotate(demo_repo, capsys, "--all", "--commit")
    assert code == 0, err  # --all rotates the real files and never the link
    assert link.is_symlink() and snapshot(production) == prod_before
    if where == "outside":
        assert target.read_bytes() == target_before


def test_the_transaction_refuses_a_symlinked_target_itself(
    demo_repo: Path, demo_key: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even a target that reached the transaction as a link (a race, another discovery) is
    refused before anything is decrypted: the guard runs on every target."""
    from secretsmgr.repo import inventory, sopsentry
    from secretsmgr.rotate.plan import RotationRequest
    from secretsmgr.rotate.transaction import rotate as rotate_files
    from tests.rotate.helpers import identity_from

    real = demo_repo / REDIS
    moved = real.with_name("real-auth.enc.yaml")
    real.rename(moved)
    real.symlink_to(moved.name)
    before = snapshot(demo_repo)
    original = inventory.load_inventory

    def with_the_link(root: Path, **kwargs: object) -> inventory.Inventory:
        ctx = original(root, **kwargs)  # type: ignore[arg-type]
        entry = sopsentry.read_sops_entry(REDIS, moved.read_bytes(), sopsentry.FileFormat.YAML)
        assert entry is not None
        return dataclasses.replace(ctx, sops_files=(*ctx.sops_files, entry))

    import secretsmgr.rotate.transaction as transaction

    monkeypatch.setattr(transaction, "load_inventory", with_the_link)
    # the inner guard
    monkeypatch.setattr(transaction, "refuse_links", lambda root, names, dry_run=False: None)
    with pytest.raises(RefusedError, match="is a symbolic link"):
        rotate_files(
            demo_repo,
            RotationRequest(files=(str(real),), allow_dirty=True),
            [identity_from(DEMO_KEY)],
            env={},
        )
    assert snapshot(demo_repo) == before and real.is_symlink()


@pytest.mark.parametrize(
    "changelog", ["../outside.jsonl", "/tmp/secretsmgr-outside.jsonl", "logs/secrets.jsonl"]
)
def test_a_changelog_outside_the_root_is_refused(
    demo_repo: Path,
    tmp_path: Path,
    demo_key: Path,
    capsys: pytest.CaptureFixture[str],
    changelog: str,
) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (demo_repo / "logs").symlink_to(outside)  # logs/secrets.jsonl escapes through a link
    settings = demo_repo / ".secretsmgr.yaml"
    settings.write_text(settings.read_text() + f"changelog: {changelog}\n")
    commit_all(demo_repo, "changelog elsewhere")
    before = snapshot(demo_repo)
    code, err = rotate(demo_repo, capsys, "--layer", "databases")
    assert code == 2
    assert err.startswith(
        "secretsmgr: error: .secretsmgr.yaml: changelog must be a file inside the repository ("
    )
    assert snapshot(demo_repo) == before
    assert not any(outside.iterdir())
    assert not (tmp_path / "outside.jsonl").exists()
    assert not Path("/tmp/secretsmgr-outside.jsonl").exists()


def test_a_changelog_that_is_itself_a_link_is_refused(
    demo_repo: Path, tmp_path: Path, demo_key: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = tmp_path / "victim.jsonl"
    victim.write_bytes((demo_repo / CHANGELOG).read_bytes())
    (demo_repo / CHANGELOG).unlink()
    (demo_repo / CHANGELOG).symlink_to(victim)
    commit_all(demo_repo, "changelog as a link")
    before = victim.read_bytes()
    code, err = rotate(demo_repo, capsys, "--layer", "databases")
    assert code == 2 and "is a symbolic link" in err
    assert victim.read_bytes() == before


def test_the_guard(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    (root / "real").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    (root / "real" / "f.yaml").write_text("x")
    (root / "in-link").symlink_to("real")
    (root / "out-link").symlink_to(tmp_path / "outside")
    (root / "file-link.yaml").symlink_to("real/f.yaml")
    assert check_write_target(root, "real/f.yaml") == root / "real" / "f.yaml"
    assert check_write_target(root, root / "real" / "new.yaml") == root / "real" / "new.yaml"
    assert confined(root, "real/missing/new.yaml")[1] == "real/missing/new.yaml"
    refusals = {
        "in-link/f.yaml": "lies under the symbolic link in-link",
        "out-link/x.yaml": "lies under the symbolic link out-link",
        "file-link.yaml": "is a symbolic link",
        "../x.yaml": "not a plain path",
        "real/../../x.yaml": "not a plain path",
        str(tmp_path / "outside" / "x.yaml"): "outside the repository",
        str(root): "is the repository root",
    }
    for path, reason in refusals.items():
        with pytest.raises(RefusedError, match=reason):
            check_write_target(root, path)
    # a root reached through a link is fine: only what lies below it is checked
    (tmp_path / "root-link").symlink_to(root)
    linked_root = tmp_path / "root-link"
    assert check_write_target(linked_root, "real/f.yaml") == root / "real" / "f.yaml"


def test_the_guard_over_many_paths_looks_at_each_folder_as_one_path_would(tmp_path: Path) -> None:
    # check_write_targets remembers the folders it saw: a folder seen fine before must not
    # vouch for a link beside it, nor a missing one for a link below a later real folder
    root = tmp_path / "repo"
    (root / "apps" / "a").mkdir(parents=True)
    (root / "apps" / "real").mkdir()
    (root / "apps" / "link").symlink_to("real")
    good = ["apps/a/x.yaml", "apps/a/y.yaml", "apps/missing/new.yaml", "apps/real/z.yaml"]
    assert check_write_targets(root, good) == {p: check_write_target(root, p) for p in good}
    for bad in (["apps/a/x.yaml", "apps/link/x.yaml"], ["apps/missing/n.yaml", "apps/link"]):
        with pytest.raises(RefusedError, match="symbolic link"):
            check_write_targets(root, bad)
