"""The shipped ``secretsmgr-check`` hook, for real: pre-commit builds its env and gates commits."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.cli.runner import run_process

from .conftest import PLAIN_SECRET, PROJECT, VENV_BIN, _run

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("secretsmgr.audit.engine") is None,
    reason="secretsmgr.audit.engine is not there yet",
)


def test_manifest_is_valid(hook_env: dict[str, str]) -> None:
    _run(
        [str(VENV_BIN / "pre-commit"), "validate-manifest", ".pre-commit-hooks.yaml"],
        PROJECT,
        hook_env,
    )


def test_commit_of_a_plaintext_secret_is_blocked_and_the_encrypted_one_passes(
    gitops: Path, hook_env: dict[str, str]
) -> None:
    plain = gitops / "gitops" / "apps" / "redis" / "redis-acl.yaml"
    plain.write_text(PLAIN_SECRET, encoding="utf-8")
    _run(["git", "add", "gitops/apps/redis/redis-acl.yaml"], gitops, hook_env)
    blocked = _run(["git", "commit", "--no-gpg-sign", "-m", "acl"], gitops, hook_env, check=False)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "gitops/apps/redis/redis-acl.yaml: SM001 plaintext-secret" in output
    assert "1 file blocked — fix it with: mv gitops/apps/redis/redis-acl.yaml " in output
    assert "Zq8vR4m2-acl-pass" not in output
    assert _run(["git", "rev-list", "--count", "HEAD"], gitops, hook_env).stdout.strip() == "1"

    # the fix the hook names: encrypt (public key only), rename, commit again
    _run(["git", "rm", "-q", "--cached", "gitops/apps/redis/redis-acl.yaml"], gitops, hook_env)
    encrypted = plain.with_name("redis-acl.enc.yaml")
    plain.rename(encrypted)
    args = ["encrypt", "-i", "gitops/apps/redis/redis-acl.enc.yaml"]
    run_process(args, env=hook_env, cwd=gitops, expect=0, secrets=["Zq8vR4m2-acl-pass"])
    assert "ENC[AES256_GCM," in encrypted.read_text(encoding="utf-8")
    _run(["git", "add", "gitops/apps/redis/redis-acl.enc.yaml"], gitops, hook_env)
    passed = _run(["git", "commit", "--no-gpg-sign", "-m", "acl"], gitops, hook_env, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert _run(["git", "rev-list", "--count", "HEAD"], gitops, hook_env).stdout.strip() == "2"


def test_commit_of_an_age_private_key_is_blocked(gitops: Path, hook_env: dict[str, str]) -> None:
    key_line = next(
        line
        for line in (PROJECT / "fixtures" / "keys" / "demo-only-stranger.agekey")
        .read_text(encoding="utf-8")
        .splitlines()
        if line.startswith("AGE-SECRET-KEY-1")
    )
    notes = gitops / "notes.txt"
    notes.write_text(f"scratch\n{key_line}\n", encoding="utf-8")
    _run(["git", "add", "notes.txt"], gitops, hook_env)
    blocked = _run(["git", "commit", "--no-gpg-sign", "-m", "notes"], gitops, hook_env, check=False)
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "notes.txt: SM009 private-key-committed" in output
    assert key_line not in output


@pytest.mark.parametrize(
    "how", [["-a"], ["--", "gitops/apps/redis/auth.enc.yaml"]], ids=["a", "path"]
)
def test_a_commit_that_stages_for_itself_is_judged_as_it_commits(
    gitops: Path, hook_env: dict[str, str], how: list[str]
) -> None:
    # the attack review of stop 51: `git commit -a` (and `git commit -- FILE`) hands the hook
    # a temporary index holding what the commit takes; judged by .git/index, which still held
    # the encrypted file, a plaintext Secret written over it went into the commit
    target = gitops / "gitops" / "apps" / "redis" / "auth.enc.yaml"
    target.write_text(PLAIN_SECRET, encoding="utf-8")  # over the encrypted file, not staged
    blocked = _run(
        ["git", "commit", "--no-gpg-sign", "-m", "tweak", *how], gitops, hook_env, check=False
    )
    output = blocked.stdout + blocked.stderr
    assert blocked.returncode != 0, output
    assert "gitops/apps/redis/auth.enc.yaml: SM001 plaintext-secret" in output, output
    assert "Zq8vR4m2-acl-pass" not in output
    assert _run(["git", "rev-list", "--count", "HEAD"], gitops, hook_env).stdout.strip() == "1"
    # and a commit -a of nothing wrong still passes
    _run(["git", "checkout", "-q", "--", "gitops/apps/redis/auth.enc.yaml"], gitops, hook_env)
    (gitops / "README.md").write_text("notes\n", encoding="utf-8")
    _run(["git", "add", "README.md"], gitops, hook_env)
    passed = _run(
        ["git", "commit", "--no-gpg-sign", "-m", "notes", *how[:1]], gitops, hook_env, check=False
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr
