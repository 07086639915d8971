"""What pre-commit shows of ``secretsmgr check``: nothing on a pass, even with a pty and
``--verbose`` (pre-commit gives hooks a pty for colour and sets PRE_COMMIT=1); the findings on
a failure. A local ``language: system`` hook: offline, no hook environment to build."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, copy_tree, git

VENV_BIN = Path(sys.executable).parent
CONFIG = f"""repos:
  - repo: local
    hooks:
      - id: secretsmgr-check
        name: secretsmgr check
        entry: {VENV_BIN / "secretsmgr"} check
        language: system
"""


def pre_commit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    env.update(PRE_COMMIT_HOME=str(repo.parent / "pre-commit-home"), NO_COLOR="")
    return subprocess.run(
        [str(VENV_BIN / "pre-commit"), "run", "--all-files", "--verbose", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_a_passing_check_says_nothing_under_pre_commit(tmp_path: Path) -> None:
    repo = copy_tree(FIXTURES / "demo", tmp_path / "repo")
    (repo / ".pre-commit-config.yaml").write_text(CONFIG, encoding="utf-8")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    for color in ("always", "never"):  # always: the hook runs on a pty
        done = pre_commit(repo, "--color", color)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Passed" in done.stdout
        assert "ok:" not in done.stdout and "checked" not in done.stdout, done.stdout
    (repo / "gitops" / "leak.yaml").write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n  token: hunter2\n",
        encoding="utf-8",
    )
    git(repo, "add", "-A")
    failed = pre_commit(repo, "--color", "never")
    assert failed.returncode == 1
    assert "gitops/leak.yaml: SM001 plaintext-secret" in failed.stdout
