"""``rotate`` of a SOPS file that no layer applies yet takes its recipients from the
`.sops.yaml` rule governing it, as ``encrypt`` does (op24 problem 8)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.runner import run
from tests.init.helpers import SECRET, commit, two_cluster_repo, write

KEY = re.compile(r"recipient: (age1[0-9a-z]{58})")


def recipients(path: Path) -> list[str]:
    return KEY.findall(path.read_text(encoding="utf-8"))


def test_rotate_keeps_every_cluster_key_the_shared_rule_names_on_an_unlisted_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # init's 2-cluster repository: clusters: pins each cluster's key, the shared apps/base rule
    # names both. A file there that no kustomization lists yet was encrypted to both keys, and
    # `rotate FILE` dropped staging's (SM011 then offered the same rotate as its fix).
    repo = two_cluster_repo(tmp_path / "fleet")
    keys = tmp_path / "keys" / "cluster.agekey"
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keys))
    run(["--repo", str(repo), "init", "-o", str(keys)], capsys, expect=0)
    commit(repo, "init")
    smtp = write(repo, "apps/base/smtp.enc.yaml", SECRET.format(name="smtp", value="x-1"))
    run(["--repo", str(repo), "encrypt", "-i", str(smtp)], capsys, expect=0)
    both = recipients(smtp)
    assert len(both) == 2
    commit(repo, "smtp")
    run(["--repo", str(repo), "rotate", str(smtp)], capsys, expect=0, may_warn=["no layer"])
    assert sorted(recipients(smtp)) == sorted(both)
    audit = run(["--repo", str(repo), "audit"], capsys)
    assert "SM011" not in audit.out and "SM005" not in audit.out, audit.out
