"""``secretsmgr log`` through ``main([...])``: table, JSON, --layer and --verify."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from secretsmgr.changelog import FileRecord, append, datakey_id, next_entry
from secretsmgr.keys.age import AgeRecipient
from secretsmgr.sops import FileFormat, dump, encrypt, load, parse_plain
from secretsmgr.sops.model import EncryptionRule, RuleKind
from tests.audit.helpers import standard_repo
from tests.changelog.helpers import chain
from tests.conftest import git

from .runner import assert_user_error, hints_of, run

PUB1 = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
LOG = "secrets-changelog.jsonl"


def ok_line(n: int) -> str:
    noun = "entry" if n == 1 else "entries"
    return f"chain ok ({n} {noun}); every SOPS file's state has an entry\n"


HINT = f"secretsmgr: hint: restore {LOG} from git\n"
FLUX_RULE = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^(data|stringData)$")
SECRET = (
    "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"
    "stringData:\n  password: s3cr3t-Value-42\n"
)
TABLE = (
    "seq  time (UTC)           actor            action  layers     files  reason\n"
    "  1  2026-11-01 10:03:10  bob@example.org  rotate  databases      1  rotation 1\n"
    "  2  2026-11-02 10:03:10  bob@example.org  rotate  databases      1  rotation 2\n"
)


def sops_file(root: Path, rel: str, fmt: FileFormat = FileFormat.YAML) -> str:
    """Write an encrypted file at ``rel``; return its lastmodified."""
    plain = {
        FileFormat.YAML: SECRET,
        FileFormat.JSON: '{"password": "s3cr3t-Value-42"}\n',
        FileFormat.DOTENV: "PASSWORD=s3cr3t-Value-42\n",
    }[fmt]
    rule = FLUX_RULE if fmt is FileFormat.YAML else EncryptionRule()
    sf = encrypt(parse_plain(plain, fmt), fmt=fmt, groups=[[AgeRecipient(PUB1)]], rule=rule)
    target = root / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(dump(sf), encoding="utf-8")
    return load(target.read_text(encoding="utf-8"), fmt).metadata.lastmodified


def _sha256(path: Path) -> str:
    """What a writer records as ``sha256_after``: the digest of the file's bytes."""
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "1" * 64


def log_for(root: Path, *states: tuple[str, str], name: str = LOG) -> bytes:
    """A changelog with one rotate entry per (path, lastmodified), written to ``name``."""
    data = b""
    for i, (path, lastmodified) in enumerate(states, start=1):
        record = FileRecord(
            path=path,
            lastmodified=lastmodified,
            recipients_before=(PUB1,),
            recipients_after=(PUB1,),
            datakey_id=datakey_id(bytes([i]) * 32),
            sha256_before="0" * 64,
            sha256_after=_sha256(root / path),
        )
        entry = next_entry(
            data,
            time=f"2026-11-{i:02d}T10:03:10Z",
            actor="bob@example.org",
            action="rotate",
            reason=f"rotation {i}",
            layers=["databases"],
            files=[record],
        )
        data = append(data, entry)
    (root / name).write_bytes(data)
    return data


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    return root


# --- log -------------------------------------------------------------------------------------


def test_log_without_a_changelog(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--repo", str(repo), "log"], capsys) == (0, f"no changelog yet ({LOG})\n", "")


def test_log_json_without_a_changelog(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(repo), "log", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    assert json.loads(out) == {"version": 1, "entries": []}


def test_log_prints_the_table(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / LOG).write_bytes(chain(2))
    assert run(["--repo", str(repo), "log"], capsys) == (0, TABLE, "")


def test_log_json_holds_every_line_as_an_object(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = chain(2)
    (repo / LOG).write_bytes(data)
    code, out, err = run(["--repo", str(repo), "log", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    doc = json.loads(out)
    assert doc["version"] == 1
    assert doc["entries"] == [json.loads(line) for line in data.splitlines()]


def test_log_layer_filters_entries(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = chain(1, layers=("infrastructure",))
    entry = next_entry(
        data, time="2026-11-02T10:03:10Z", actor="alice@example.org", action="encrypt",
        reason="new app", layers=["apps", "databases"], files=[],
    )  # fmt: skip
    (repo / LOG).write_bytes(append(data, entry))
    code, out, err = run(["--repo", str(repo), "log", "--layer", "databases"], capsys)
    assert (code, err) == (0, "")
    assert out == (
        "seq  time (UTC)           actor              action   layers          files  reason\n"
        "  2  2026-11-02 10:03:10  alice@example.org  encrypt  apps,databases      0  new app\n"
    )
    code, out, _ = run(["--repo", str(repo), "log", "-f", "json", "-l", "infrastructure"], capsys)
    assert [e["seq"] for e in json.loads(out)["entries"]] == [1]
    code, out, err = run(["--repo", str(repo), "log", "--layer", "nope"], capsys, expect=2)
    assert out == ""
    assert_user_error(err, "unknown layer: nope")
    assert hints_of(err) == ["layers: infrastructure, apps, databases"]


def test_log_layer_of_the_repository_without_entries(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = standard_repo(tmp_path / "repo", {})  # one layer: apps
    (repo / LOG).write_bytes(chain(1, layers=("infrastructure",)))
    got = run(["--repo", str(repo), "log", "-l", "apps"], capsys)
    assert got == (0, "no changelog entry touches layer apps\n", "")


def test_log_neutralises_control_characters(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    entry = next_entry(
        b"", time="2026-11-02T10:03:10Z", actor="a", action="rotate",
        reason="evil \x1b[31mred\x1b[0m\nline", layers=[], files=[],
    )  # fmt: skip
    (repo / LOG).write_bytes(append(b"", entry))
    code, out, err = run(["--repo", str(repo), "log"], capsys)
    assert (code, err) == (0, "")
    assert "\x1b" not in out and out.count("\n") == 2
    assert out.splitlines()[1].endswith("rotate  -           0  evil ?[31mred?[0m?line")


def test_log_of_unparsable_changelog_fails(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / LOG).write_bytes(chain(1) + b"{oops\n")
    code, out, err = run(["--repo", str(repo), "log"], capsys)
    assert (code, out) == (1, "")
    assert err == "secretsmgr: error: changelog line 2 is not valid JSON\n" + HINT


def test_log_reads_the_configured_changelog(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / ".secretsmgr.yaml").write_text("changelog: audit/rotations.jsonl\n")
    (repo / "audit").mkdir()
    (repo / "audit" / "rotations.jsonl").write_bytes(chain(2))
    assert run(["--repo", str(repo), "log"], capsys) == (0, TABLE, "")
    (repo / "audit" / "rotations.jsonl").unlink()
    code, out, err = run(["--repo", str(repo), "log"], capsys)
    assert (code, out, err) == (0, "no changelog yet (audit/rotations.jsonl)\n", "")


# --- log --verify ----------------------------------------------------------------------------


def test_verify_ok(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = sops_file(repo, "gitops/apps/db.enc.yaml")
    b = sops_file(repo, "gitops/apps/app.json", FileFormat.JSON)
    c = sops_file(repo, "gitops/apps/app.env", FileFormat.DOTENV)
    (repo / "gitops" / "notes.yaml").write_text("sops: is a tool\nmac: a computer\n")
    states = [
        ("gitops/apps/db.enc.yaml", a),
        ("gitops/apps/app.json", b),
        ("gitops/apps/app.env", c),
    ]
    log_for(repo, *states)
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines(keepends=True)
    assert len(lines) == 6 and lines[0].startswith("seq  time (UTC)")
    assert lines[-2] == ok_line(3)
    assert lines[-1] == f"not anchored in git yet: 3 entries (commit {LOG} to anchor them)\n"
    log_for(repo, *states[:2])  # the dotenv file has no entry now
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"secretsmgr: error: gitops/apps/app.env: lastmodified {c} has no")


def test_verify_json_prints_only_json(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log_for(repo, ("gitops/db.enc.yaml", sops_file(repo, "gitops/db.enc.yaml")))
    code, out, err = run(["--repo", str(repo), "log", "--verify", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    assert len(json.loads(out)["entries"]) == 1


def test_verify_an_empty_repo(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out, err) == (0, f"no changelog yet ({LOG})\n" + ok_line(0), "")


def test_verify_names_the_edited_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / LOG).write_bytes(chain(3).replace(b"rotation 2", b"rotation X"))
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "")
    assert err == (
        "secretsmgr: error: changelog broken at seq 2: "
        "the entry does not match its hash (it was edited)\n" + HINT
    )


def test_verify_names_a_deleted_line(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lines = chain(3).splitlines(keepends=True)
    (repo / LOG).write_bytes(lines[0] + lines[2])
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith("secretsmgr: error: changelog broken at seq 2: seq 3 found where 2")
    assert err.endswith(HINT) and err.count("\n") == 2


def test_verify_names_the_first_uncovered_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = sops_file(repo, "gitops/a.enc.yaml")
    sops_file(repo, "gitops/b.enc.yaml")
    log_for(repo, ("gitops/a.enc.yaml", "2020-01-01T00:00:00Z"))
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "")
    lines = err.splitlines()
    assert (
        lines[0] == f"secretsmgr: error: gitops/a.enc.yaml: lastmodified {a} has no changelog entry"
    )
    assert lines[1] == "secretsmgr: hint: 1 more SOPS file has no entry"
    assert all(line.startswith("secretsmgr: hint: ") for line in lines[1:])


def test_verify_after_deleting_the_last_line(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = sops_file(repo, "gitops/a.enc.yaml")
    data = log_for(repo, ("gitops/old.enc.yaml", "2020-01-01T00:00:00Z"), ("gitops/a.enc.yaml", a))
    (repo / LOG).write_bytes(b"".join(data.splitlines(keepends=True)[:-1]))
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"secretsmgr: error: gitops/a.enc.yaml: lastmodified {a} has no")


def test_verify_without_changelog_names_the_first_sops_file(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # it said "lastmodified … has no changelog entry: it was changed outside secretsmgr, or its
    # changelog entry was removed" of a repository that never had a changelog
    sops_file(repo, "gitops/z.enc.yaml")
    sops_file(repo, "gitops/m.json", FileFormat.JSON)
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (1, "")
    assert err.splitlines()[0] == (
        f"secretsmgr: error: no changelog yet ({LOG}): 2 SOPS files not recorded "
        "(the first: gitops/m.json)"
    )
    assert "secretsmgr log --adopt --reason" in err and "removed" not in err


def test_verify_skips_malformed_and_plain_files(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "broken.enc.yaml").write_text("sops:\n  mac: [unterminated\n")
    (repo / "plain.yaml").write_text("kind: ConfigMap\ndata:\n  sops: x\n  mac: y\n")
    (repo / "binary.yaml").write_bytes(b"\xff\xfe sops mac")
    assert run(["--repo", str(repo), "log", "--verify"], capsys)[0] == 0


def test_verify_in_a_git_repo_counts_untracked_files(
    git_repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = sops_file(git_repo, "gitops/a.enc.yaml")
    log_for(git_repo, ("gitops/a.enc.yaml", a))
    git(git_repo, "add", "gitops/a.enc.yaml", LOG)
    git(git_repo, "commit", "-q", "--no-gpg-sign", "-m", "init")
    assert run(["--repo", str(git_repo), "log", "--verify"], capsys)[0] == 0
    b = sops_file(git_repo, "gitops/b.enc.yaml")  # untracked, not ignored
    code, _, err = run(["--repo", str(git_repo), "log", "--verify"], capsys)
    assert code == 1 and f"gitops/b.enc.yaml: lastmodified {b} has no" in err
    (git_repo / ".gitignore").write_text("gitops/b.enc.yaml\n")
    code, out, err = run(["--repo", str(git_repo), "log", "--verify"], capsys)
    assert (code, out.splitlines()[-2] + "\n", err) == (0, ok_line(1), "")
    assert out.splitlines()[-1] == "anchored in git: 1 entry (1 commit)"
    (git_repo / ".gitignore").unlink()
    log_for(git_repo, ("gitops/b.enc.yaml", b), ("gitops/a.enc.yaml", a))  # rewrites line 1
    code, _, err = run(["--repo", str(git_repo), "log", "--verify"], capsys)
    assert code == 1 and "changelog not anchored in git" in err


def test_log_rejects_an_unknown_format(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["--repo", str(repo), "log", "--format", "sarif"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("secretsmgr: error: ")


def test_verify_refuses_one_state_recorded_with_two_data_keys(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = sops_file(repo, "gitops/db.enc.yaml")
    log_for(repo, ("gitops/db.enc.yaml", a), ("gitops/db.enc.yaml", a))  # two key ids
    code, _, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 1 and "recorded with 2 different data keys" in err


@pytest.mark.parametrize("where", ["../x.jsonl", ".git/x.jsonl", "sub/../.git/secretsmgr/x"])
def test_a_changelog_outside_the_repository_is_never_read(
    repo: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    (repo.parent / "x.jsonl").write_text("not ours\n", encoding="utf-8")
    (repo / ".secretsmgr.yaml").write_text(f"changelog: {where}\n", encoding="utf-8")
    code, out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert (code, out) == (2, "")
    assert "changelog must be a file inside the repository" in err


@pytest.mark.parametrize("where", [".sops.yaml", "gitops/db.enc.yaml", "ops/log.YML"])
def test_a_yaml_changelog_is_refused_naming_the_setting(
    repo: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    # the attack review of stop 52: `changelog: .sops.yaml` said ".sops.yaml is broken at seq
    # 1 … restore .sops.yaml from git", which changed nothing, and never named the setting
    (repo / ".secretsmgr.yaml").write_text(f"changelog: {where}\n", encoding="utf-8")
    for args in (["log", "--verify"], ["log", "--adopt", "--reason", "r"]):
        code, out, err = run(["--repo", str(repo), *args], capsys)
        assert (code, out) == (2, "")
        assert f"changelog names {where}, a YAML file" in err
        assert "set changelog: secrets-changelog.jsonl" in err


def test_a_yaml_changelog_that_holds_a_chain_is_to_be_moved_not_dropped(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the review of stop 52: an older build accepted `changelog: audit/log.yml`; the hint to
    # set the default left its history behind
    (repo / "audit").mkdir()
    (repo / "audit" / "log.yml").write_text('{"seq":1}\n', encoding="utf-8")
    (repo / ".secretsmgr.yaml").write_text("changelog: audit/log.yml\n", encoding="utf-8")
    code, _out, err = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 2
    assert "git mv audit/log.yml secrets-changelog.jsonl" in err
