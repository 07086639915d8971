"""sops 3.11 keeps a comment inside a list as a list item (``- ENC[…,type:comment]``); decrypted
it is a comment again, and key paths count list items without comments. The places of values
added in clear were counted on the encrypted items, so every index after a list comment was off
by one: ``unset users.1`` sealed the clear value of ``users[0]`` under a fresh MAC, and
``rotate --regenerate users.0.token_unencrypted`` wrote a new credential in clear (the second
review of this session)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import TEST_KEY, run_sops

from tests.cli.runner import run_process
from tests.rotate.helpers import commit_all, subprocess_env

pytestmark = pytest.mark.interop

PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
PLAIN = (
    "users:\n    # first\n    - name: a\n      token: t0\n"
    "    # second\n    - name: b\n      token: t1\n"
)


def _repo(tmp_path: Path, rule: str) -> tuple[Path, dict[str, str]]:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - age: {PUB}\n{rule}")
    (repo / "f.enc.yaml").write_text(PLAIN.replace("token", "token_unencrypted"))
    assert run_sops(["encrypt", "-i", "f.enc.yaml"], cwd=repo).returncode == 0
    assert "type:comment]" in (repo / "f.enc.yaml").read_text()  # sops's list-item comment
    return repo, subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))


def test_unset_after_a_list_comment_never_seals_the_clear_value_of_another_item(
    tmp_path: Path,
) -> None:
    repo, env = _repo(tmp_path, "")
    path = repo / "f.enc.yaml"
    text = path.read_text()
    at = text.index("token_unencrypted")  # the first user's line: add a value in clear below it
    end = text.index("\n", at) + 1
    path.write_text(text[:end] + "      extra: leaked-in-clear\n" + text[end:])
    before = path.read_bytes()
    done = run_process(["unset", "f.enc.yaml", "users.1"], repo=repo, cwd=repo, env=env)
    assert done.code == 1 and '["users"][0]["extra"] is in clear' in done.err
    assert path.read_bytes() == before
    args = ["set", "f.enc.yaml", '["users"][0]["extra"]']
    run_process(args, repo=repo, cwd=repo, env=env, stdin="now-sealed", expect=0)
    opened = run_sops(["decrypt", "f.enc.yaml"], cwd=repo, key_file=TEST_KEY)
    assert opened.returncode == 0 and "extra: now-sealed" in opened.stdout


def test_regenerate_after_a_list_comment_never_writes_a_credential_in_clear(
    tmp_path: Path,
) -> None:
    repo, env = _repo(tmp_path, "    unencrypted_suffix: _unencrypted\n")
    commit_all(repo, "encrypted")
    before = (repo / "f.enc.yaml").read_bytes()
    args = ["rotate", "f.enc.yaml", "--regenerate", "users.0.token_unencrypted", "--reason", "t"]
    done = run_process(args, repo=repo, cwd=repo, env=env)
    assert done.code == 1 and "leaves users.0.token_unencrypted in plaintext" in done.err
    assert (repo / "f.enc.yaml").read_bytes() == before
