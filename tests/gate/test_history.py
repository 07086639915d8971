"""audit --history: what git already leaked, from real commits (real sops for updatekeys)."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from secretsmgr.audit.engine import load_context, run_rules
from secretsmgr.audit.history import Exposure, HistoryFacts
from secretsmgr.audit.registry import RULES, get_rule
from secretsmgr.cli.app import main
from secretsmgr.gate.history import walk_history, walk_repository
from secretsmgr.gate.judge import open_cache
from secretsmgr.keys.age import generate_identity
from tests.audit.helpers import K1, K2, KEYS, enc, secret, sops_yaml, write
from tests.conftest import git, run_sops

from .helpers import gitops


def commit(root: Path, message: str) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-gpg-sign", "-m", message)


def history_findings(root: Path) -> dict[tuple[str, str], list[str]]:
    facts = walk_repository(root)
    ctx = load_context(root, history=facts)
    report = run_rules(ctx)
    out: dict[tuple[str, str], list[str]] = {}
    for f in report.findings:
        out.setdefault((f.rule, f.path), []).append(f.message)
    return out


def test_sm019_fires_on_a_secret_committed_in_plaintext_then_encrypted(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r", {"apps/api.yaml": secret("api", {"token": "leaked-token-1"})})
    (root / "apps/api.yaml").unlink()
    write(root, "apps/api.enc.yaml", enc(secret("api", {"token": "leaked-token-1"})))
    commit(root, "encrypt it")
    found = history_findings(root)
    assert ("SM019", "apps/api.yaml") in found
    message = found[("SM019", "apps/api.yaml")][0]
    assert "stringData.token" in message and "leaked-token-1" not in message
    first = git(root, "rev-list", "--max-parents=0", "HEAD").strip()
    assert first[:12] in message


def test_a_plain_value_left_by_an_encryption_rule_is_exposed_after_the_fix(
    tmp_path: Path,
) -> None:
    from secretsmgr.sops import EncryptionRule, RuleKind

    data_only = EncryptionRule(RuleKind.ENCRYPTED_REGEX, "^data$")
    text = secret("db", {"password": "pw-in-clear"}) + "data:\n  x: eA==\n"
    root = gitops(tmp_path / "r", {"apps/x.enc.yaml": enc(text, rule=data_only)})
    write(root, "apps/x.enc.yaml", enc(text))
    commit(root, "encrypt everything")
    found = history_findings(root)
    assert ("SM019", "apps/x.enc.yaml") in found
    sm019 = [
        f
        for f in run_rules(load_context(root, history=walk_repository(root))).findings
        if f.rule == "SM019"
    ]
    assert sm019[0].fix == "secretsmgr rotate --regenerate stringData.password apps/x.enc.yaml"


def test_sm019_near_miss_regenerated_after_the_exposure(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r")
    ctx = load_context(root)
    exposure = Exposure(
        "apps/db.enc.yaml", "stringData.password", "a" * 40, "2026-01-01T00:00:00Z", "SM001"
    )
    facts = HistoryFacts(commits=1, blobs=1, exposures=(exposure,))
    rule = get_rule("SM019")

    def with_changelog(time: str, regenerated: tuple[str, ...]) -> list[object]:
        record = SimpleNamespace(path="apps/db.enc.yaml", regenerated=regenerated)
        entry = SimpleNamespace(time=time, files=(record,), action="rotate")
        from dataclasses import replace

        return list(rule.check(replace(ctx, history=facts, changelog=(entry,))))  # type: ignore[arg-type]

    assert len(with_changelog("2025-12-01T00:00:00Z", ("stringData.password",))) == 1  # before
    assert len(with_changelog("2026-02-01T00:00:00Z", ("stringData.username",))) == 1  # other
    assert with_changelog("2026-02-01T00:00:00Z", ("stringData.password",)) == []


def two_recipients(tmp_path: Path) -> tuple[Path, Path]:
    """A repository whose one SOPS file real sops encrypted to K1 and K2, committed; and the
    key file (both test identities)."""
    root = tmp_path / "r"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1, K2])))
    write(root, "apps/db.enc.yaml", secret("db", {"password": "pw-two"}))
    keys = tmp_path / "keys.txt"
    keys.write_text(
        (KEYS / "test-only-1.agekey").read_text() + (KEYS / "test-only-2.agekey").read_text()
    )
    done = run_sops(["encrypt", "-i", "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "two recipients")
    return root, keys


@pytest.mark.interop
def test_sm020_fires_after_updatekeys_until_a_rotate(tmp_path: Path) -> None:
    root, keys = two_recipients(tmp_path)
    write(root, ".sops.yaml", sops_yaml((r"\.enc\.yaml$", [K1])))
    done = run_sops(["updatekeys", "-y", "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "drop K2")
    removed = git(root, "rev-parse", "HEAD").strip()
    found = history_findings(root)
    assert ("SM020", "apps/db.enc.yaml") in found, found
    message = found[("SM020", "apps/db.enc.yaml")][0]
    assert K2[:7] in message and removed[:12] in message and "still decrypts" in message
    # a later edit keeps the data key: still readable
    done = run_sops(
        ["set", "apps/db.enc.yaml", '["stringData"]["username"]', '"root"'], cwd=root, key_file=keys
    )
    assert done.returncode == 0, done.stderr
    commit(root, "edit")
    assert ("SM020", "apps/db.enc.yaml") in history_findings(root)
    # a new data key cures it
    done = run_sops(["rotate", "-i", "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "rotate")
    assert ("SM020", "apps/db.enc.yaml") not in history_findings(root)


def test_a_private_key_in_a_past_commit_is_reported(tmp_path: Path) -> None:
    key, public = generate_identity()
    root = gitops(tmp_path / "r", {"notes/key.txt": f"my key\n{key}\n"})
    (root / "notes/key.txt").unlink()
    commit(root, "oops, remove it")
    found = history_findings(root)
    assert ("SM009", "notes/key.txt") in found
    message = found[("SM009", "notes/key.txt")][0]
    assert public[:7] in message and key not in message and "git history" in message


def test_a_warm_rerun_reads_no_blob_and_agrees(tmp_path: Path) -> None:
    root = gitops(tmp_path / "r", {"apps/api.yaml": secret("api", {"token": "leaked-token-2"})})
    for n in range(5):
        write(root, "apps/api.yaml", secret("api", {"token": f"leaked-token-{n}"}))
        commit(root, f"c{n}")
    cold = walk_repository(root)
    cache = open_cache(root)
    reads: list[str] = []
    warm = walk_history(root, cache, RULES)
    assert warm == cold and cold.commits == 6
    assert not cache.store._dirty and reads == []


def test_audit_history_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = gitops(tmp_path / "r", {"apps/api.yaml": secret("api", {"token": "leaked-token-3"})})
    shutil.move(root / "apps/api.yaml", tmp_path / "gone.yaml")
    commit(root, "remove")
    assert main(["--repo", str(root), "audit"]) == 0
    capsys.readouterr()
    assert main(["--repo", str(root), "audit", "--history", "--format", "json"]) == 1
    out = capsys.readouterr().out
    assert '"rule": "SM019"' in out and "leaked-token-3" not in out


@pytest.mark.interop
def test_sm020_near_miss_a_rotation_that_removes_the_recipient(tmp_path: Path) -> None:
    root, keys = two_recipients(tmp_path)
    done = run_sops(["rotate", "-i", "--rm-age", K2, "apps/db.enc.yaml"], cwd=root, key_file=keys)
    assert done.returncode == 0, done.stderr
    commit(root, "rotate K2 out")
    assert ("SM020", "apps/db.enc.yaml") not in history_findings(root)
