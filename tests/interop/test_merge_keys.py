"""YAML merge keys (``<<``) in SOPS files, as sops 3.11 keeps them: not merged, a literal key
``<<`` holding the expanded alias, written ``!!merge <<``. We refused such files, so a valid
sops file (Ansible group_vars beside a Flux tree) was an SM006 error and failed the gate
(sweep 17)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import TEST_KEY, run_sops

from secretsmgr import sops
from secretsmgr.keys.age import parse_identities
from tests.cli.runner import run_process
from tests.rotate.helpers import commit_all, subprocess_env

pytestmark = pytest.mark.interop

PUB = "age17m4zztwdtjwv5yastfc6v72cjnsrn7yuxlpmgwgr5c8s52lst4jq9x0tvy"
IDS = [parse_identities(TEST_KEY.read_text(encoding="utf-8"), "test-only-1")]
PLAIN = """\
common: &common
  user: admin
  pass: hunter2-merge
extra: &extra
  port: 5432
hosts:
  - name: db1
    <<: *common
  - name: db2
    <<: [*common, *extra]
    pass: other-pass
"""


def test_a_file_with_merge_keys_round_trips_and_rotates_with_sops(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=repo, check=True)
    (repo / ".sops.yaml").write_text(f"creation_rules:\n  - age: {PUB}\n")
    (repo / "vars.sops.yaml").write_text(PLAIN)
    assert run_sops(["encrypt", "-i", "vars.sops.yaml"], cwd=repo).returncode == 0
    text = (repo / "vars.sops.yaml").read_text()
    assert "!!merge <<:" in text and "hunter2" not in text
    sf = sops.load(text, sops.FileFormat.YAML)
    assert sops.dump(sf) == text  # byte for byte as sops wrote it
    theirs = run_sops(["decrypt", "vars.sops.yaml"], cwd=repo, key_file=TEST_KEY).stdout
    ours = sops.dump_plain(sops.decrypt(sf, IDS).docs, sops.FileFormat.YAML)
    assert ours == theirs  # every value and the MAC, as sops reads them

    env = subprocess_env(SOPS_AGE_KEY_FILE=str(TEST_KEY))
    commit_all(repo, "merge keys")
    audited = run_process(["audit", "--verify-mac"], repo=repo, cwd=repo, env=env)
    assert " SM006 " not in audited.out and " SM007 " not in audited.out
    run_process(
        ["rotate", "vars.sops.yaml", "--reason", "t"], repo=repo, cwd=repo, env=env, expect=0
    )
    run_process(
        ["set", "vars.sops.yaml", '["common"]["pass"]'],
        repo=repo,
        cwd=repo,
        env=env,
        stdin="new-pass",
        expect=0,
    )
    after = run_sops(["decrypt", "vars.sops.yaml"], cwd=repo, key_file=TEST_KEY)
    assert after.returncode == 0, after.stderr
    assert after.stdout == theirs.replace("pass: hunter2-merge", "pass: new-pass", 1)
