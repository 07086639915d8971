"""A repository with only `.sops.yaml`: every command takes the same cluster key from it.

fixtures/demo without `.secretsmgr.yaml` has one rule naming the cluster key and the admin key;
``audit``, ``key export`` and ``rotate`` must agree on which is the cluster's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secretsmgr.sops import FileFormat, load
from tests.audit.helpers import enc, secret
from tests.cli.runner import run
from tests.conftest import FIXTURES
from tests.rotate.helpers import commit_all, git_copy

CLUSTER = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
KEYS = FIXTURES / "keys"
REDIS = "gitops/apps/redis/auth.enc.yaml"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo with no `.secretsmgr.yaml` and no changelog; both demo keys at hand."""
    for name, value in {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }.items():
        monkeypatch.setenv(name, value)
    keys = tmp_path / "keys.txt"
    keys.write_text(
        (KEYS / "demo-only.agekey").read_text() + (KEYS / "demo-only-admin.agekey").read_text()
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys))
    return git_copy(
        FIXTURES / "demo",
        tmp_path / "repo",
        drop=[".secretsmgr.yaml", "secrets-changelog.jsonl"],
    )


def test_audit_names_the_rules_first_key_and_says_how_to_pin_it(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(["--repo", str(repo), "audit", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    report = json.loads(out)
    assert not [f for f in report["findings"] if f["rule"] in ("SM004", "SM005")]
    (note,) = [n for n in report["summary"]["notes"] if "several age keys" in n]
    assert f"cluster_key: {CLUSTER}" in note
    code, out, _ = run(["--repo", str(repo), "audit"], capsys)
    assert "cluster key age1fq08…n3qw (from .sops.yaml)" in out.splitlines()[0]


def test_a_file_only_the_operator_key_opens_is_sm004(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The admin key in the rule is no cluster key: Flux could not decrypt this file."""
    (repo / REDIS).write_text(enc(secret("auth"), (ADMIN,)))
    code, out, _ = run(["--repo", str(repo), "audit", "--format", "json"], capsys)
    findings = {(f["rule"], f["path"]) for f in json.loads(out)["findings"]}
    assert ("SM004", REDIS) in findings
    assert code == 1


def test_check_names_the_key_it_took_beside_an_sm004_and_only_then(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """CI shows check's output alone: an SM004 must say which `.sops.yaml` key was guessed."""
    code, out, _ = run(["--repo", str(repo), "check"], capsys)
    assert code == 0
    assert "several age keys" not in out  # no finding rests on the guess: nothing to say
    (repo / REDIS).write_text(enc(secret("auth"), (ADMIN,)))
    commit_all(repo, "a file on the operator key alone")
    code, out, _ = run(["--repo", str(repo), "check"], capsys)
    assert code == 1
    lines = out.splitlines()
    assert any(line.startswith(f"{REDIS}: SM004") for line in lines), out
    (note,) = [line for line in lines if "several age keys" in line]
    assert note.startswith("note: .sops.yaml rule")
    assert f"cluster_key: {CLUSTER}" in note
    assert lines.index(note) < len(lines) - 1  # before the closing "blocked" line
    code, out, _ = run(["--repo", str(repo), "check", "--format", "github"], capsys)
    (notice,) = [line for line in out.splitlines() if line.startswith("::notice")]
    assert notice.startswith("::notice title=cluster key::.sops.yaml rule")
    assert f"cluster_key: {CLUSTER}" in notice


def test_key_export_sends_the_key_audit_names_and_never_the_admin_key(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, out, err = run(
        ["--repo", str(repo), "key", "export"],
        capsys,
        expect=0,
        warnings=["names several age keys", "holds a private key", "exported the private key of"],
    )
    assert "age.agekey" in out
    assert f"# public key: {CLUSTER}" in out
    assert ADMIN not in out
    admin_secret = (KEYS / "demo-only-admin.agekey").read_text().split("AGE-SECRET-KEY-1")[1]
    assert admin_secret[:20] not in out
    assert "secretsmgr: warning: .sops.yaml rule 1 names several age keys" in err


def test_rotate_keeps_the_rules_other_key(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        ["--repo", str(repo), "rotate", str(repo / REDIS), "--reason", "zero-config"], capsys
    )
    assert (code, err) == (0, ""), err
    rotated = load((repo / REDIS).read_text(), FileFormat.YAML)
    assert set(rotated.metadata.age_recipients) == {CLUSTER, ADMIN}


def test_two_clusters_with_their_own_keys_make_key_export_ask_which(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One Secret never holds another cluster's key: export refuses to guess."""
    other = "age1wk59fr3he9n3qw722fh85e6udyj2geqwcfu5anaql9xd2dam0c0qfp8vss"
    (repo / ".secretsmgr.yaml").write_text(
        "clusters:\n"
        f"  homelab: {{path: clusters/homelab, cluster_key: {CLUSTER}}}\n"
        f"  lab2: {{path: clusters/lab2, cluster_key: {other}}}\n"
    )
    (repo / "clusters/lab2").mkdir(parents=True)
    (repo / "clusters/lab2/apps.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata:\n  name: apps2\n  namespace: flux-system\n"
        "spec:\n  path: ./gitops/apps/redis\n  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n"
    )
    commit_all(repo, "two clusters")
    code, out, err = run(["--repo", str(repo), "key", "export"], capsys)
    assert (code, out) == (2, "")
    assert "different keys" in err and "--cluster-key" in err
    code, out, _ = run(
        ["--repo", str(repo), "key", "export", "--cluster-key", CLUSTER],
        capsys,
        expect=0,
        warnings=["holds a private key", "exported the private key of"],
    )
    assert f"# public key: {CLUSTER}" in out


def test_key_show_names_the_same_cluster_key(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["--repo", str(repo), "key", "show"], capsys)
    assert code == 0
    assert f"cluster key (.sops.yaml): {CLUSTER}  private half found" in out
    assert f"cluster key (.sops.yaml): {ADMIN}" not in out


def test_key_rotate_points_at_init_which_pins_the_key_audit_names(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["--repo", str(repo), "key", "rotate", "--begin"], capsys)
    assert code == 2
    assert f"cluster_key: {CLUSTER}" in err and "secretsmgr init" in err
    code, _, _ = run(["--repo", str(repo), "init"], capsys)
    assert code == 0
    from secretsmgr.repo.settings import load_settings

    pinned = load_settings(repo)
    assert (pinned.cluster_key, pinned.allowed_recipients) == (CLUSTER, (ADMIN,))


def test_key_show_names_each_clusters_key_read_from_its_own_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 75, angelnu/k8s-gitops: two clusters whose keys differ and are pinned nowhere;
    # key show listed no public key at all
    from tests.audit.helpers import K1, K2
    from tests.init.helpers import clusters_with_own_rules, commit

    root = clusters_with_own_rules(tmp_path / "repo", {"staging": [K1], "production": [K2]})
    commit(root, "a key for each cluster")
    monkeypatch.delenv("SOPS_AGE_KEY_FILE", raising=False)
    monkeypatch.delenv("SOPS_AGE_KEY", raising=False)
    code, out, _ = run(["--repo", str(root), "key", "show"], capsys)
    assert code == 2
    assert f"cluster staging key (.sops.yaml): {K1}  no private half here" in out, out
    assert f"cluster production key (.sops.yaml): {K2}  no private half here" in out, out
