"""Brownfield adoption: a committed baseline and --new-since REV make old findings non-blocking."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secretsmgr.errors import ConfigError
from secretsmgr.gate.baseline import BASELINE_NAME, parse_baseline
from tests.audit.helpers import secret
from tests.cli.runner import run
from tests.conftest import git

from .helpers import gitops, stage


def _legacy(tmp_path: Path) -> Path:
    return gitops(
        tmp_path / "r",
        {
            "legacy/plain.yaml": secret("legacy", {"password": "old-plaintext-pw"}),
            "legacy/cm.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"
            "data:\n  TOKEN: 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\n",
        },
    )


def test_baseline_records_findings_without_values_and_unblocks_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _legacy(tmp_path)
    code, _, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1
    code, out, err = run(["--repo", str(root), "baseline"], capsys)
    assert (code, err) == (0, "")
    assert out == f"wrote {BASELINE_NAME}: 2 findings; commit it\n"
    text = (root / BASELINE_NAME).read_text(encoding="utf-8")
    assert "old-plaintext-pw" not in text and "ghp_" not in text
    doc = json.loads(text)
    assert {(f["rule"], f["path"]) for f in doc["findings"]} == {
        ("SM001", "legacy/plain.yaml"),
        ("SM018", "legacy/cm.yaml"),
    }
    git(root, "add", BASELINE_NAME)  # the gate takes the baseline the commit will hold
    code, out, err = run(["--repo", str(root), "check", "--format", "json"], capsys)
    assert code == 0, out
    assert json.loads(out)["summary"]["baselined"] == 2
    # a new finding still blocks
    stage(root, "apps/new.yaml", secret("new", {"password": "brand-new-pw"}))
    code, out, _ = run(["--repo", str(root), "check", str(root / "apps/new.yaml")], capsys)
    assert code == 1 and "apps/new.yaml: SM001" in out
    code, out, _ = run(["--repo", str(root), "audit", "--format", "json"], capsys)
    summary = json.loads(out)["summary"]
    assert (code, summary["errors"], summary["baselined"]) == (1, 1, 2)


def test_new_since_rev_blocks_only_what_is_new(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = _legacy(tmp_path)
    base = git(root, "rev-parse", "HEAD").strip()
    code, _, _ = run(["--repo", str(root), "audit", "--new-since", base], capsys)
    assert code == 0
    stage(
        root,
        "legacy/plain.yaml",
        secret("legacy", {"password": "old-plaintext-pw", "extra": "more-pw"}),
    )
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "more")
    code, out, _ = run(["--repo", str(root), "audit", "--new-since", base], capsys)
    assert code == 1 and "stringData.extra" in out and "already present" in out
    code, out, _ = run(
        ["--repo", str(root), "check", "--new-since", base, str(root / "legacy/plain.yaml")], capsys
    )
    assert code == 1 and "stringData.extra" in out and "stringData.password" not in out
    code, _, err = run(["--repo", str(root), "check", "--new-since", "no-such-rev"], capsys)
    assert code == 2 and "--new-since no-such-rev: not a commit" in err


def test_new_since_a_commit_history_no_longer_holds_compares_where_they_parted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the sixth attack review of the gate: a plaintext Secret pushed, blocked, amended and
    # pushed again passed --new-since the first push (not an ancestor of HEAD any more)
    root = _legacy(tmp_path)
    stage(root, "apps/db.yaml", secret("db", {"password": "Tr0ub4dor-and-3x"}))
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "db")
    pushed = git(root, "rev-parse", "HEAD").strip()
    code, out, _ = run(["--repo", str(root), "check", "--new-since", "HEAD~1"], capsys)
    assert code == 1 and "apps/db.yaml: SM001" in out
    git(root, "commit", "-q", "--no-gpg-sign", "--amend", "-m", "db, again")
    code, out, _ = run(["--repo", str(root), "check", "--new-since", pushed], capsys)
    assert code == 1 and "apps/db.yaml: SM001" in out, out
    # the legacy findings the branches share stay old
    assert "legacy/plain.yaml: SM001" not in out
    orphan = git(root, "commit-tree", "-m", "alone", f"{pushed}^{{tree}}").strip()
    code, _, err = run(["--repo", str(root), "check", "--new-since", orphan], capsys)
    assert code == 2 and "shares no history with HEAD" in err


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"version": 3, "findings": []}',
        '{"version": true, "findings": []}',
        # version 2 entries carry the digests of their lines
        '{"version": 2, "findings": [{"rule": "SM001", "path": "a", "key_path": null, '
        '"fingerprint": "0000"}]}',
        '{"version": 1, "findings": [{"rule": "SM001", "path": "a", "key_path": null}]}',
        '{"version": 1, "findings": [{"rule": "SM001", "path": "a", "key_path": null, '
        '"fingerprint": "0000"}]}',
    ],
)
def test_a_malformed_baseline_is_a_configuration_error(text: str) -> None:
    with pytest.raises(ConfigError):
        parse_baseline(text)


@pytest.mark.parametrize("how", ["unstaged", "ignored"])
def test_check_takes_the_baseline_and_the_ignore_entries_as_staged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    # the attack review of stop 44: a baseline or an `ignore:` entry left out of the commit
    # (untracked, git-ignored, or changed and not staged) passed a staged plaintext Secret, and
    # the commit went through holding the password and neither
    root = _legacy(tmp_path)
    stage(root, "apps/new.yaml", secret("new", {"password": "Tr0ub4dor-horse-9917"}))
    if how == "ignored":
        (root / ".git/info/exclude").write_text(f"{BASELINE_NAME}\n", encoding="utf-8")
    assert run(["--repo", str(root), "baseline"], capsys)[0] == 0
    settings = (root / ".secretsmgr.yaml").read_text(encoding="utf-8")
    (root / ".secretsmgr.yaml").write_text(
        settings + 'ignore:\n  - {rule: SM001, path: "apps/**", reason: wip}\n', encoding="utf-8"
    )
    code, out, err = run(["--repo", str(root), "check"], capsys)
    assert code == 1 and "apps/new.yaml: SM001" in out and "legacy/plain.yaml: SM001" in out
    add = f"git -C {root} add"  # check ran outside the repository (--repo)
    assert err == (
        "secretsmgr: warning: .secretsmgr.yaml on disk is not as staged, and check judges with "
        f"the staged state ({add} .secretsmgr.yaml to judge with it)\n"
        # never staged: no "as staged" (sweep 95: the words puzzled a user after init)
        f"secretsmgr: warning: {BASELINE_NAME} is not staged, and check judges without it "
        f"({add} {BASELINE_NAME} to judge with it)\n"
    )
    # audit judges the working tree, with the files as they are there
    code, out, _ = run(["--repo", str(root), "audit", "--format", "json"], capsys)
    assert (code, json.loads(out)["summary"]["errors"]) == (0, 0)
    # staged, both count (and nothing more is said)
    git(root, "add", "-f", ".secretsmgr.yaml", BASELINE_NAME)
    code, out, err = run(["--repo", str(root), "check", "--format", "json"], capsys)
    summary = json.loads(out)["summary"]
    assert (code, err, summary["suppressed"], summary["errors"]) == (0, "", 1, 0)


def test_a_new_value_at_a_baselined_key_path_is_a_new_finding(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review of stop 44: the baseline knew rule, path and key path only, so any
    # later password at a baselined key path passed; so did --new-since
    root = _legacy(tmp_path)
    base = git(root, "rev-parse", "HEAD").strip()
    assert run(["--repo", str(root), "baseline"], capsys)[0] == 0
    doc = json.loads((root / BASELINE_NAME).read_text(encoding="utf-8"))
    assert doc["version"] == 2 and all(len(f["lines"]) == 1 for f in doc["findings"])
    git(root, "add", BASELINE_NAME)
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "baseline")
    # the same values, the lines moved: still known
    moved = "# kept as it was, two lines down\n\n" + secret(
        "legacy", {"password": "old-plaintext-pw"}
    )
    stage(root, "legacy/plain.yaml", moved)
    assert run(["--repo", str(root), "check"], capsys)[0] == 0
    for args in (["check"], ["check", "--new-since", base], ["audit"]):
        stage(root, "legacy/plain.yaml", secret("legacy", {"password": "Pr0d-Sup3r-S3cret"}))
        code, out, _ = run(["--repo", str(root), *args], capsys)
        assert code == 1 and "SM001" in out, (args, out)
        assert "stringData.password" in out and "Pr0d-Sup3r-S3cret" not in out, (args, out)
    # a version 1 baseline (no digests) is read as it was: by key path
    old = dict(
        doc,
        version=1,
        findings=[{k: v for k, v in f.items() if k != "lines"} for f in doc["findings"]],
    )
    stage(root, BASELINE_NAME, json.dumps(old))
    assert run(["--repo", str(root), "check"], capsys)[0] == 0


def test_an_ignore_entry_the_change_adds_for_its_own_error_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review of stop 44: `ignore: [{rule: SM001, path: "**"}]` staged beside a
    # plaintext Secret passed with nothing said; the error it hides is named for the reviewer
    root = gitops(tmp_path / "r")
    settings = (root / ".secretsmgr.yaml").read_text(encoding="utf-8")
    stage(root, "apps/new.yaml", secret("new", {"password": "Tr0ub4dor-horse-9917"}))
    ignore = 'ignore:\n  - {rule: SM001, path: "**", reason: wip}\n'
    stage(root, ".secretsmgr.yaml", settings + ignore)
    code, out, _ = run(["--repo", str(root), "check"], capsys)
    said = (
        "note: this change's own settings or baseline hide errors that HEAD's would show: SM001 "
        "apps/new.yaml at stringData.password (ignore: wip)\n"
    )
    assert (code, out) == (0, said)
    code, out, _ = run(["--repo", str(root), "check", "-f", "github"], capsys)
    assert code == 0 and out.startswith(
        "::warning file=apps/new.yaml,line=8,title=hidden by this change::this change's own "
        "settings or baseline hide an error: SM001 apps/new.yaml at stringData.password"
    ), out
    # once HEAD holds the entry, it is no news
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "wip")
    stage(root, "apps/other.yaml", secret("other", {"password": "An0ther-horse-9917"}))
    code, out, _ = run(["--repo", str(root), "check"], capsys)
    assert (code, out) == (0, "")


def test_a_baseline_or_a_source_mapping_in_the_same_change_is_named_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review of this stop: `secretsmgr baseline` staged beside a new plaintext
    # Secret, or a sources: entry that takes the layer away from a generator's password file,
    # passed with nothing said
    root = gitops(tmp_path / "r")
    stage(root, "apps/new.yaml", secret("new", {"password": "Tr0ub4dor-horse-9917"}))
    assert run(["--repo", str(root), "baseline"], capsys)[0] == 0
    git(root, "add", BASELINE_NAME)
    code, out, _ = run(["--repo", str(root), "check"], capsys)
    assert (code, out) == (
        0,
        "note: this change's own settings or baseline hide errors that HEAD's would show: SM001 "
        "apps/new.yaml at stringData.password (in the staged baseline)\n",
    )
    code, out, _ = run(["--repo", str(root), "check", "-f", "json"], capsys)
    assert json.loads(out)["summary"]["hidden_by_change"] == [
        {
            "rule": "SM001",
            "path": "apps/new.yaml",
            "key_path": "stringData.password",
            "why": "in the staged baseline",
        }
    ]
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "baselined")
    assert run(["--repo", str(root), "check"], capsys)[1] == ""
    # CI judges the commit, whose baseline is HEAD's: against the base it is named all the
    # same (sweep H of stop 55: the token and its baseline entry, committed together, passed
    # the README's CI steps without a word)
    code, out, _ = run(
        ["--repo", str(root), "check", "-f", "github", "--new-since", "HEAD~1"], capsys
    )
    assert code == 0 and out.startswith("::warning file=apps/new.yaml,"), out
    assert "(in a baseline changed since HEAD~1)" in out
    generator = "secretGenerator:\n  - name: app\n    files: [token.txt]\n"
    stage(root, "infra/kustomization.yaml", "resources: [dns.enc.yaml]\n" + generator)
    stage(root, "infra/token.txt", "Zq8vLw2pRtXy7Kp3Mn9Q\n")
    assert run(["--repo", str(root), "check"], capsys)[0] == 1
    settings = (root / ".secretsmgr.yaml").read_text(encoding="utf-8")
    moved = 'sources:\n  "GitRepository/flux-system/flux-system": clusters/prod\n'
    stage(root, ".secretsmgr.yaml", settings + moved)
    code, out, _ = run(["--repo", str(root), "check"], capsys)
    assert (
        code == 0
        and (
            "note: this change's own settings or baseline hide errors that HEAD's would show: "
            "SM001 infra/token.txt (its .secretsmgr.yaml)"
        )
        in out
    ), out


def test_the_digest_covers_a_block_scalar_and_a_whole_password_file_and_not_quotes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review of this stop: a block scalar's value changed beneath its unchanged key
    # line, and a generator's password file (no line) changed, and both stayed baselined;
    # quotes or a comment added to a baselined line made it new
    block = "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\nstringData:\n  app.ini: |\n"
    root = gitops(
        tmp_path / "r",
        {
            "legacy/block.yaml": block + "    password = Old-Pa55word-1\n",
            "legacy/plain.yaml": secret("legacy", {"password": "old-plaintext-pw"}),
            "apps/kustomization.yaml": "resources: [db.enc.yaml, cache.enc.yaml]\n"
            "secretGenerator:\n  - name: app\n    files: [token.txt]\n",
            "apps/token.txt": "Zq8vLw2pRtXy7Kp3Mn9Q\n",
        },
    )
    assert run(["--repo", str(root), "baseline"], capsys)[0] == 0
    git(root, "add", BASELINE_NAME)
    git(root, "commit", "-q", "--no-gpg-sign", "-m", "baseline")
    assert run(["--repo", str(root), "check"], capsys)[0] == 0
    quoted = (root / "legacy/plain.yaml").read_text(encoding="utf-8")
    quoted = quoted.replace("old-plaintext-pw", '"old-plaintext-pw"  # kept for now')
    stage(root, "legacy/plain.yaml", quoted)
    assert run(["--repo", str(root), "check"], capsys)[0] == 0
    for rel, text in (
        ("legacy/block.yaml", block + "    password = N3w-Pa55word-2\n"),
        ("apps/token.txt", "Nw9Qk3Lm7Rt2Vw8Kn4Bs\n"),
    ):
        stage(root, rel, text)
        code, out, _ = run(["--repo", str(root), "check"], capsys)
        assert code == 1 and f"{rel}: SM001" in out, (rel, out)
        git(root, "checkout", "HEAD", "--", rel)


def test_the_settings_warning_and_error_say_which_file_from_a_subfolder(tmp_path: Path) -> None:
    # the review of this stop: from a subfolder the warning's `git add .secretsmgr.yaml` named
    # no such file; a malformed staged file was reported as if the fine one on disk were
    from tests.cli.runner import run_process, run_shell
    from tests.rotate.helpers import subprocess_env

    root = gitops(tmp_path / "r")
    settings = root / ".secretsmgr.yaml"
    good = settings.read_text(encoding="utf-8")
    settings.write_text(good + "ignore: []\n", encoding="utf-8")
    env = subprocess_env()
    done = run_process(["check"], env=env, cwd=root / "apps", warnings=("not as staged",))
    (line,) = [x for x in done.err.splitlines() if "not as staged" in x]
    assert "(git add ../.secretsmgr.yaml to judge with it)" in line, line
    run_shell("git add ../.secretsmgr.yaml", env=env, cwd=root / "apps", expect=0)
    assert run_process(["check"], env=env, cwd=root / "apps", expect=0).err == ""
    settings.write_text("ignore: [\n", encoding="utf-8")
    git(root, "add", ".secretsmgr.yaml")
    settings.write_text(good, encoding="utf-8")
    broken = run_process(["check"], env=env, cwd=root, expect=2)
    assert "(in the file as git holds it: staged, or committed)" in broken.err, broken.err
    assert "git show :.secretsmgr.yaml prints the staged file" in broken.err
