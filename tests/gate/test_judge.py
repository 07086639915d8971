"""check judges the index: the staged files, plus what the staged change causes elsewhere."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from secretsmgr.gate.judge import judge_index
from secretsmgr.sops import EncryptionRule, RuleKind
from tests.audit.helpers import K1, K2, enc, flux_kustomization, secret, sops_yaml
from tests.conftest import git

from .helpers import found, gitops, judge, stage


def test_a_kustomization_losing_its_decryption_flags_every_file_of_its_layer(
    tmp_path: Path,
) -> None:
    root = gitops(tmp_path / "r")
    stage(root, "clusters/prod/apps.yaml", flux_kustomization("apps", "./apps", decryption=None))
    report = judge(root)
    assert found(report) == {("SM010", "apps/db.enc.yaml"), ("SM010", "apps/cache.enc.yaml")}
    assert report.fails(report.findings[0].severity)


def test_a_sops_yaml_change_flags_the_files_it_now_mismatches(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    stage(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1, K2])))
    report = judge(root)
    assert {p for r, p in found(report) if r == "SM011"} == {
        "apps/db.enc.yaml",
        "apps/cache.enc.yaml",
        "infra/dns.enc.yaml",
    }


def test_a_staged_copy_is_compared_with_every_tracked_file(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    shutil.copy(root / "apps/db.enc.yaml", root / "apps/db-copy.enc.yaml")
    git(root, "add", "apps/db-copy.enc.yaml")
    assert found(judge(root)) == {("SM014", "apps/db-copy.enc.yaml")}
    # a copy that sorts before its original: the finding lands on the tracked file
    shutil.copy(root / "apps/db.enc.yaml", root / "apps/a.enc.yaml")
    git(root, "add", "apps/a.enc.yaml")
    assert ("SM014", "apps/db.enc.yaml") in found(judge(root))


def test_a_plaintext_value_in_a_staged_sops_file_is_blocked(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    data_only = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^data$")
    text = secret("db", {"password": "hunter2"}) + "data:\n  x: eA==\n"
    stage(root, "apps/db.enc.yaml", enc(text, rule=data_only))
    report = judge(root)
    assert ("SM003", "apps/db.enc.yaml") in found(report)
    assert all("hunter2" not in f.message for f in report.findings)


def test_findings_that_existed_before_are_not_blamed_on_the_change(tmp_path: Path) -> None:
    root = gitops(
        tmp_path / "r",
        {"legacy/plain.yaml": secret("legacy", {"password": "old-plaintext-pw"})},
    )
    stage(root, "apps/new.enc.yaml", enc(secret("new", {"password": "new-value-4"})))
    assert found(judge(root)) == set()
    # the whole index still shows it
    assert ("SM001", "legacy/plain.yaml") in found(judge_index(root, None))
    # and a staged touch of that file is judged in full
    stage(root, "legacy/plain.yaml", secret("legacy", {"password": "old-plaintext-pw", "u": "x"}))
    assert ("SM001", "legacy/plain.yaml") in found(judge(root))


def test_a_rename_is_judged_under_its_new_name(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    git(root, "mv", "apps/db.enc.yaml", "apps/db.yaml")  # no creation rule matches the new name
    report = judge(root)
    assert ("SM011", "apps/db.yaml") in found(report)
    assert all(f.path != "apps/db.enc.yaml" for f in report.findings)


def test_deleting_the_last_key_holder_is_blocked(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    # the file re-encrypted by hand to an operator key only: Flux's key no longer holds it
    stage(root, "apps/db.enc.yaml", enc(secret("db", {"password": "db-pass"}), recipients=(K2,)))
    report = judge(root)
    assert ("SM004", "apps/db.enc.yaml") in found(report)
    # its fix, pasted, must run on a file the commit has not taken yet (sweep H of stop 55:
    # rotate refused the uncommitted file, and the gate refused the commit)
    (sm004,) = [f for f in report.findings if f.rule == "SM004"]
    assert sm004.fix == "secretsmgr rotate --allow-dirty apps/db.enc.yaml"
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "by hand")
    (committed,) = [f for f in judge(root, ["apps/db.enc.yaml"]).findings if f.rule == "SM004"]
    assert committed.fix == "secretsmgr rotate apps/db.enc.yaml"


def test_deleting_a_file_causes_nothing_by_itself(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    stage(root, "apps/cache.enc.yaml", None)
    assert found(judge(root)) == set()


def test_the_index_not_the_working_tree_is_judged(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    stage(root, "apps/cfg.yaml", secret("cfg", {"password": "staged-plain"}))
    # fixed on disk but not staged: the commit would still hold the plaintext
    (root / "apps/cfg.yaml").write_text("apiVersion: v1\nkind: ConfigMap\n", encoding="utf-8")
    assert ("SM001", "apps/cfg.yaml") in found(judge(root, ["apps/cfg.yaml"]))


def test_an_untracked_file_named_on_the_command_line_is_judged_from_disk(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    (root / "apps/new.yaml").write_text(secret("n", {"password": "pw-on-disk"}), encoding="utf-8")
    assert ("SM001", "apps/new.yaml") in found(judge(root, ["apps/new.yaml"]))


def test_outside_git_the_working_tree_is_judged(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "s.yaml").write_text(secret("s", {"password": "pw"}), encoding="utf-8")
    assert found(judge_index(root, ["s.yaml"])) == {("SM001", "s.yaml")}


def test_a_copy_of_a_file_added_in_a_later_commit_is_still_found(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    stage(root, "apps/x.yaml", "a: b\n")
    judge(root)  # fingerprints of HEAD cached
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "x")
    stage(root, "apps/new.enc.yaml", enc(secret("new", {"password": "later-value"})))
    judge(root)
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "new")  # the map moves forward
    shutil.copy(root / "apps/new.enc.yaml", root / "apps/new-copy.enc.yaml")
    git(root, "add", "apps/new-copy.enc.yaml")
    assert found(judge(root)) == {("SM014", "apps/new-copy.enc.yaml")}


def test_one_blob_under_a_plain_name_and_a_sops_name_is_judged_by_its_name(
    tmp_path: Path,
) -> None:
    """The gate caches a blob's findings per way of reading it: ``x.sops.yaml.disabled`` is read
    as SOPS YAML where ``x.env`` is not (its store is dotenv, and the bytes are no dotenv),
    though the bytes are one blob. (Under a name that says no store, ``x.txt``, the metadata
    decides: tests/cli/test_sniffed_store.py.)"""
    from tests.gate.helpers import commit

    root = gitops(tmp_path / "r")
    data_only = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^data$")
    blob = enc(secret("db", {"password": "hunter2"}) + "data:\n  x: eA==\n", rule=data_only)
    stage(root, "notes/db.env", blob)
    assert found(judge(root)) == set()  # not a SOPS file by name, and no dotenv
    commit(root, "notes")
    stage(root, "apps/db.sops.yaml.disabled", blob)  # the same blob
    assert ("SM003", "apps/db.sops.yaml.disabled") in found(judge(root))


def test_check_refuses_a_damaged_index_instead_of_judging_the_wrong_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The attack review of stop 51: an index cut short reads as entries with no name, and
    check stopped with an internal error (exit 3)."""
    from tests.cli.runner import assert_user_error, hints_of, run

    root = gitops(tmp_path / "r", {"apps/cfg.yaml": secret("cfg", {"password": "plain-pw-1"})})
    index = root / ".git" / "index"
    index.write_bytes(index.read_bytes()[:100])
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert (code, out) == (2, ""), err
    assert_user_error(err, "git's index is damaged (it lists an entry with no name)")
    assert hints_of(err) == ["rebuild the index from HEAD, keeping the working tree: git reset"]
    git(root, "reset", "-q")  # the hint's cure: the Secret is judged again
    assert ("SM001", "apps/cfg.yaml") in found(judge_index(root))


def test_check_refuses_an_index_that_is_missing_while_head_holds_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """moredatapls/homeserver (sweep 10): a clone that failed left no index; check judged no
    file and passed (exit 0) while HEAD held a plaintext Secret."""
    from tests.cli.runner import assert_user_error, hints_of, run

    root = gitops(tmp_path / "r", {"apps/cfg.yaml": secret("cfg", {"password": "plain-pw-1"})})
    (root / ".git" / "index").unlink()
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert (code, out) == (2, ""), err
    assert_user_error(err, "the git index is missing while HEAD holds 8 files")
    assert hints_of(err) == [
        "rebuild the index from HEAD, keeping the working tree: git reset",
        "or check HEAD's files out again: git checkout -f HEAD",
    ]
    git(root, "reset", "-q")  # the hint's cure: the Secret is judged again
    assert ("SM001", "apps/cfg.yaml") in found(judge_index(root))


def test_check_passes_a_repository_with_no_commit_and_no_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.cli.runner import run

    root = tmp_path / "empty"
    root.mkdir()
    git(root, "init", "-q")
    assert run(["--repo", str(root), "check"], capsys)[0] == 0
    # an index git wrote empty (every file staged for removal) is judged as it is
    full = gitops(tmp_path / "r")
    git(full, "rm", "-r", "-q", "--cached", ".")
    unstaged = (
        ".secretsmgr.yaml is not staged, and check judges without it"  # the commit deletes it
    )
    assert run(["--repo", str(full), "check"], capsys, warnings=(unstaged,))[0] == 0


def test_a_plaintext_env_file_a_secret_generator_reads_is_blocked(tmp_path: Path) -> None:
    # sweep 13 (a probe): check passed a plaintext app.env that a layer's secretGenerator puts
    # in a Secret under envs:, whether the kustomization comes in the same commit or before
    root = gitops(
        tmp_path,
        {
            "apps/kustomization.yaml": "resources: [db.enc.yaml, cache.enc.yaml]\n"
            "secretGenerator:\n  - name: app\n    envs: [app.env]\n",
        },
    )
    stage(root, "apps/app.env", "API_TOKEN=q7Wm2ZpKx9vR4tY8\n")
    report = judge(root)
    assert ("SM001", "apps/app.env") in found(report)
    assert [f.key_path for f in report.findings if f.path == "apps/app.env"] == ["API_TOKEN"]
