"""``adopt`` entries: the state of existing SOPS files recorded as it is, nothing re-encrypted."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest

from secretsmgr.audit.context import AuditContext
from secretsmgr.audit.rules.sm008_stale_data_key import _first_use
from secretsmgr.changelog.adopt import adopt_files as adopt
from secretsmgr.changelog.adopt import plan_adopt
from secretsmgr.changelog.chain import (
    FileRecord,
    append,
    datakey_id,
    find_break,
    next_entry,
    parse_entries,
    serialize,
)
from secretsmgr.errors import ChainError, UsageError
from secretsmgr.keys.age import parse_identities
from secretsmgr.repo.inventory import load_inventory
from secretsmgr.sops.datakey import unwrap_data_key
from tests.audit.helpers import enc, secret
from tests.cli.runner import run
from tests.conftest import FIXTURES
from tests.rotate.helpers import git_copy

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
LOG = "secrets-changelog.jsonl"
DEMO_SOPS = 4


def demo_identity() -> list[object]:
    return [parse_identities(DEMO_KEY.read_text(), DEMO_KEY.name)]


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """fixtures/demo in git, without its changelog."""
    return git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[LOG])


def test_an_unknown_datakey_id_is_left_out_and_the_line_stays_canonical() -> None:
    record = FileRecord("a.enc.yaml", "2026-01-01T00:00:00Z", ("k",), ("k",), None, "0", "0")
    entry = next_entry(
        b"",
        time="2026-01-01T00:00:00Z",
        actor="a",
        action="adopt",
        reason="r",
        layers=(),
        files=[record],
    )
    line = serialize(entry)
    assert b"datakey_id" not in line
    data = append(b"", entry)
    assert find_break(data) is None
    assert parse_entries(data)[0].files[0].datakey_id is None


def test_adopt_records_every_sops_file_as_it_is(repo: Path) -> None:
    before = {p: (repo / p).read_bytes() for p in load_inventory(repo).files}
    plan = adopt(repo, "start the changelog", demo_identity())  # type: ignore[arg-type]
    assert plan.entry is not None and plan.creates
    assert plan.entry.action == "adopt"
    assert plan.entry.reason == "start the changelog"
    assert len(plan.files) == DEMO_SOPS
    assert plan.unopened == ()
    identity = demo_identity()
    inv = load_inventory(repo)
    by_path = {e.path: e for e in inv.sops_files}
    for record in plan.files:
        raw = before[record.path]
        assert record.sha256_before == record.sha256_after == hashlib.sha256(raw).hexdigest()
        sf = by_path[record.path].sops_file
        assert sf is not None
        assert record.lastmodified == sf.metadata.lastmodified
        assert record.recipients_before == record.recipients_after == sf.metadata.age_recipients
        key = unwrap_data_key(sf.metadata, identity)  # type: ignore[arg-type]
        assert record.datakey_id == datakey_id(key)
    # nothing but the changelog changed
    after = {p: (repo / p).read_bytes() for p in before}
    assert after == before
    assert parse_entries((repo / LOG).read_bytes()) == [plan.entry]


def test_without_an_identity_the_datakey_id_is_left_empty(repo: Path) -> None:
    plan = adopt(repo, "no key at hand")
    assert plan.entry is not None
    assert all(r.datakey_id is None for r in plan.files)
    assert len(plan.unopened) == DEMO_SOPS
    line = (repo / LOG).read_text()
    assert "datakey_id" not in line


def test_a_second_adopt_writes_nothing_and_a_changed_file_is_adopted_alone(repo: Path) -> None:
    adopt(repo, "first")
    data = (repo / LOG).read_bytes()
    again = adopt(repo, "second")
    assert again.entry is None
    assert (repo / LOG).read_bytes() == data
    # a file encrypted anew outside secretsmgr: only it is recorded
    dst = "gitops/apps/postgresql/credentials.enc.yaml"
    (repo / dst).write_text(enc(secret("credentials")))
    third = adopt(repo, "re-encrypted with sops")
    assert [r.path for r in third.files] == [dst]
    assert third.entry is not None and third.entry.seq == 2


def test_an_empty_repository_still_gets_a_changelog(tmp_path: Path) -> None:
    plan = adopt(tmp_path, "start")
    assert plan.entry is not None and plan.files == ()
    assert (tmp_path / LOG).exists()
    assert adopt(tmp_path, "again").entry is None


def test_adopt_refuses_a_broken_changelog_and_an_empty_reason(repo: Path) -> None:
    (repo / LOG).write_text('{"seq": 1}\n')
    with pytest.raises(ChainError, match="broken at seq 1"):
        adopt(repo, "why")
    with pytest.raises(UsageError, match="needs a reason"):
        plan_adopt(load_inventory(repo), "  ")


def test_an_adopt_time_is_evidence_the_key_existed_never_that_it_is_new() -> None:
    """An adopt line proves the data key existed by then; a later line with the same key
    cannot make it younger (SM008 then takes the earlier of this and ``lastmodified``)."""
    old, new = bytes(32), bytes([1]) * 32

    def entry(data: bytes, action: str, key: bytes, time: str) -> bytes:
        record = FileRecord("a", "x", (), (), datakey_id(key), "0", "0")
        made = next_entry(
            data, time=time, actor="a", action=action, reason="r", layers=(), files=[record]
        )
        return append(data, made)

    data = entry(b"", "adopt", old, "2026-01-01T00:00:00Z")
    data = entry(data, "set", old, "2026-02-01T00:00:00Z")  # same key, later: not younger
    data = entry(data, "rotate", new, "2026-03-01T00:00:00Z")
    ctx = cast(
        AuditContext, SimpleNamespace(changelog=tuple(parse_entries(data)), changelog_history=None)
    )
    first = _first_use(ctx)
    assert first[datakey_id(old)] == datetime(2026, 1, 1, tzinfo=UTC)
    assert first[datakey_id(new)] == datetime(2026, 3, 1, tzinfo=UTC)


def test_log_adopt_then_verify(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 1 and "secretsmgr log --adopt --reason" in err
    code, out, err = run(["--repo", str(repo), "log", "--adopt", "--reason", "late start"], capsys)
    assert (code, err) == (0, "")
    assert out.startswith(f"adopted {DEMO_SOPS} SOPS files as they are (changelog seq 1)")
    assert f"{DEMO_SOPS} files without a datakey_id" in out
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, err) == (0, "")
    assert "adopt" in out and "late start" in out
    code, out, _ = run(["--repo", str(repo), "log", "--adopt", "--reason", "again"], capsys)
    assert (code, out) == (0, "nothing to adopt: every SOPS file's state has a changelog entry\n")
    code, out, _ = run(["--repo", str(repo), "log", "--format", "json"], capsys)
    (first,) = json.loads(out)["entries"]
    assert first["action"] == "adopt"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--adopt"], "an adopt entry needs a reason"),
        (["--reason", "x"], "--reason goes with --adopt"),
        (["--adopt", "--reason", "x", "--verify"], "takes no --layer or --verify"),
    ],
)
def test_log_adopt_usage_errors(
    repo: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(["--repo", str(repo), "log", *args], capsys)
    assert (code, out) == (2, "")
    assert message in err
    assert not (repo / LOG).exists()


def test_a_state_replaced_before_its_commit_still_verifies_after_adopt(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # secretsmgr set (recorded, not committed), then plain sops changes the file again, then
    # adopt: the adopt record starts from the set's state, so git need never have held it.
    from tests.conftest import run_sops
    from tests.rotate.helpers import commit_all

    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    target = "gitops/apps/postgresql/credentials.enc.yaml"
    run(["--repo", str(repo), "log", "--adopt", "--reason", "start"], capsys, expect=0)
    commit_all(repo, "adopt")
    set_value = ["--repo", str(repo), "set", str(repo / target), "stringData.password"]
    run(set_value, capsys, expect=0, stdin="first-new-value\n")
    done = run_sops(
        ["set", target, '["stringData"]["password"]', '"second-value"'], cwd=repo, key_file=DEMO_KEY
    )
    assert done.returncode == 0, done.stderr
    run(["--repo", str(repo), "log", "--adopt", "--reason", "sops set"], capsys, expect=0)
    entries = [json.loads(line) for line in (repo / LOG).read_text().splitlines()]
    (set_record,) = entries[-2]["files"]
    (adopted,) = entries[-1]["files"]
    assert adopted["sha256_before"] == set_record["sha256_after"] != adopted["sha256_after"]
    assert adopted["sha256_after"] == hashlib.sha256((repo / target).read_bytes()).hexdigest()
    commit_all(repo, "changed twice, committed once")
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, err) == (0, ""), out


def test_a_file_encrypted_and_deleted_before_its_commit_verifies_after_adopt(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 19: encrypt (recorded), then rm before any commit: log --verify failed for ever,
    # and its hint (log --adopt) said there was nothing to adopt
    from tests.rotate.helpers import commit_all

    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    run(["--repo", str(repo), "log", "--adopt", "--reason", "start"], capsys, expect=0)
    commit_all(repo, "adopt")
    target = repo / "gitops" / "apps" / "authentik" / "extra.enc.yaml"
    target.write_text(secret("extra", {"token": "Xq9vLw2pTr0ub4dor3"}))
    run(["--repo", str(repo), "encrypt", "-i", str(target)], capsys, expect=0)
    target.unlink()
    commit_all(repo, "abandoned before commit")
    code, _, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 1 and "is in no commit" in err and "or deleted since" in err
    code, out, err = run(["--repo", str(repo), "log", "--adopt", "--reason", "abandoned"], capsys)
    assert (code, err) == (0, "")
    assert out == (
        "adopted 1 recorded file gone from the working tree: recorded as removed "
        "(changelog seq 3)\n"
    )
    (removal,) = json.loads((repo / LOG).read_text().splitlines()[-1])["files"]
    assert removal["path"] == "gitops/apps/authentik/extra.enc.yaml"
    assert removal["sha256_after"] == "" and removal["recipients_after"] == []
    commit_all(repo, "record the removal")
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, err) == (0, ""), out
    code, out, _ = run(["--repo", str(repo), "log", "--adopt", "--reason", "again"], capsys)
    assert out.startswith("nothing to adopt")
    # a removal recorded for a file that is there after all is no cover for it
    target.write_text(secret("extra", {"token": "Xq9vLw2pTr0ub4dor3"}))
    run(["--repo", str(repo), "encrypt", "-i", str(target)], capsys, expect=0)
    lines = (repo / LOG).read_text().splitlines()
    (repo / LOG).write_text("\n".join(lines[:-1]) + "\n")  # the encrypt entry dropped
    commit_all(repo, "the file is back, unrecorded")
    code, _, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 1 and "extra.enc.yaml" in err


def test_a_tracked_file_missing_from_the_working_tree_is_not_recorded_as_removed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the second review: a sparse checkout (or an rm not staged yet) left committed files out
    # of the working tree, and adopt recorded them as removed
    from tests.conftest import git
    from tests.rotate.helpers import commit_all

    run(["--repo", str(repo), "log", "--adopt", "--reason", "start"], capsys, expect=0)
    commit_all(repo, "adopt")
    target = repo / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    target.unlink()
    code, out, _ = run(["--repo", str(repo), "log", "--adopt", "--reason", "again"], capsys)
    assert (code, out) == (0, "nothing to adopt: every SOPS file's state has a changelog entry\n")
    git(repo, "rm", "-q", "--cached", str(target.relative_to(repo)))  # now it is gone
    code, out, _ = run(["--repo", str(repo), "log", "--adopt", "--reason", "removed"], capsys)
    assert "1 recorded file gone from the working tree: recorded as removed" in out


def test_a_file_replaced_in_the_commit_that_adds_the_adopt_line_verifies(
    repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 72 (Diaoul/home-ops, ahgraber/homelab-gitops-k3s): adopt, then a secret replaced
    # (git rm, a new file encrypted at the same path), then one commit of everything:
    # log --verify failed for good, the adopted state being only in the commit before, and
    # the adopt its hint named had nothing to record
    import subprocess

    from tests.rotate.helpers import commit_all

    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    run(["--repo", str(repo), "log", "--adopt", "--reason", "start"], capsys, expect=0)
    target = repo / "gitops/apps/postgresql/credentials.enc.yaml"
    subprocess.run(["git", "-C", str(repo), "rm", "-q", str(target)], check=True)
    target.write_text(secret("credentials", {"password": "Xq9vLw2pTr0ub4dor3"}))
    run(["--repo", str(repo), "encrypt", "-i", str(target)], capsys, expect=0)
    commit_all(repo, "adopt, with one secret replaced")
    code, _, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, err) == (0, ""), err
    # the adopted state is the replaced file's, which only the commit before held
    lines = (repo / LOG).read_text().splitlines()
    entry = json.loads(lines[0])
    record = next(r for r in entry["files"] if r["path"].endswith("credentials.enc.yaml"))
    assert record["sha256_after"] != hashlib.sha256(target.read_bytes()).hexdigest()


def test_adopt_records_a_file_changed_outside_sops_unverified_and_says_so(repo: Path) -> None:
    # the attack review of stop 52: two ENC values swapped (sops -d refuses the file) were
    # adopted with the data key's id, vouching for them; then (the review that followed)
    # refusing stopped init on a repository where one file was edited by hand
    import re

    from secretsmgr.changelog.adopt import adopt_summary

    inv = load_inventory(repo)
    target = next(e for e in inv.sops_files if e.sops_file is not None)
    path = repo / target.path
    text = path.read_text()
    values = re.findall(r"ENC\[AES256_GCM,data:[^\]]*\]", text.split("\nsops:")[0])
    assert len(values) >= 2
    swapped = text.replace(values[0], "\0").replace(values[1], values[0]).replace("\0", values[1])
    path.write_text(swapped)
    plan = adopt(repo, "start the changelog", demo_identity())  # type: ignore[arg-type]
    assert plan.entry is not None and plan.tampered == (target.path,)
    record = next(r for r in plan.files if r.path == target.path)
    assert record.datakey_id is None
    assert all(r.datakey_id is not None for r in plan.files if r.path != target.path)
    said = adopt_summary(plan, plan.entry.seq)
    assert f"1 file failing its MAC (changed outside sops: {target.path})" in said
    assert "recorded unverified, without a datakey_id" in said
    assert path.read_text() == swapped
