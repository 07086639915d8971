"""A SOPS file the change deletes while a live layer's kustomization still names it: the
layer's build fails, and Flux applies nothing of it (SM015)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.audit.helpers import write
from tests.cli.runner import run
from tests.conftest import git

from .helpers import found, gitops, judge, stage

LISTING = "resources: [db.enc.yaml, cache.enc.yaml, cm.yaml]\n"
CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cm}\ndata: {level: info}\n"


def test_deleting_a_listed_sops_file_blocks_the_commit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 37, Osman-SK/home-cluster: `git rm` of a Secret its kustomization.yaml still listed
    # passed check; Flux then failed the whole apps layer
    root = gitops(tmp_path / "r", {"apps/kustomization.yaml": LISTING, "apps/cm.yaml": CONFIGMAP})
    assert not {r for r, _ in found(judge(root))} & {"SM015"}
    stage(root, "apps/cache.enc.yaml", None)
    assert ("SM015", "apps/cache.enc.yaml") in found(judge(root))
    # listed under the layer whose build names it, not "not in any layer" (the review)
    (sm015,) = [f for f in judge(root).findings if f.rule == "SM015"]
    assert sm015.layers == ("apps",)
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1, (out, err)
    text = out + err
    assert "apps/cache.enc.yaml: SM015 flux-cannot-decrypt: deleted since HEAD, yet layer" in text
    assert (
        "take the entry of apps/cache.enc.yaml out of apps/kustomization.yaml in the same change"
        in text
    )
    # the entry goes in the same change: nothing to say
    stage(root, "apps/kustomization.yaml", "resources: [db.enc.yaml, cm.yaml]\n")
    assert ("SM015", "apps/cache.enc.yaml") not in found(judge(root))
    # the attack review: `git rm -r` of the file's folder, which the layer's kustomization
    # still names, passed (the missing path was the folder's)
    git(root, "reset", "-q", "--hard")
    write(root, "apps/kustomization.yaml", "resources: [db, cm.yaml]\n")
    write(root, "apps/db/kustomization.yaml", "resources: [db.enc.yaml]\n")
    git(root, "mv", "apps/db.enc.yaml", "apps/db/db.enc.yaml")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "db in its folder")
    git(root, "rm", "-rq", "apps/db")
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1, (out, err)
    assert (
        "apps/db/db.enc.yaml: SM015 flux-cannot-decrypt: deleted since HEAD with apps/db, yet"
        in out + err
    )
    assert "take the entry of apps/db out of apps/kustomization.yaml" in out + err
    # a sibling folder's kustomization names it by `../` (the attack review: the fix said
    # "the kustomization that names it")
    git(root, "reset", "-q", "--hard")
    write(root, "apps/kustomization.yaml", "resources: [web, cm.yaml]\n")
    write(root, "apps/web/kustomization.yaml", "resources: [../db/db.enc.yaml]\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "web names db's Secret")
    git(root, "rm", "-q", "apps/db/db.enc.yaml")
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1 and "out of apps/web/kustomization.yaml in the same change" in out + err
    # the layer's own folder deleted: its Flux Kustomization names it (the third review)
    git(root, "reset", "-q", "--hard")
    git(root, "rm", "-rq", "apps")
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1 and "its spec.path names apps: delete the Flux Kustomization" in out + err
    assert "(clusters/prod/apps.yaml) in the same change, or keep the folder" in out + err
    # a plain file deleted and still listed breaks the build too, but is no secret's: not SM015
    git(root, "reset", "-q", "--hard")
    stage(root, "apps/cm.yaml", None)
    assert not {r for r, _ in found(judge(root))} & {"SM015"}


def test_a_listed_file_missing_since_before_head_is_not_this_changes(tmp_path: Path) -> None:
    # drosoCode/kube-infra-public keeps no secrets in its public copy: its kustomizations name
    # SOPS files HEAD never held; no change of the gate's deleted them
    root = gitops(tmp_path / "r", {"apps/kustomization.yaml": LISTING + "# gone.enc.yaml\n"})
    write(root, "apps/kustomization.yaml", "resources: [db.enc.yaml, gone.enc.yaml]\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "names a file the repository lacks")
    assert not {r for r, _ in found(judge(root))} & {"SM015"}
