"""Fixtures for the pre-commit tests: the hook repository built once, a demo repo per test.

pre-commit installs a hook repository from a git *commit*. The project's HEAD may lag behind the
working tree (new modules are untracked until the lead commits, and ``try-repo`` only snapshots
tracked changes), so the session builds a snapshot repository of the working tree's package files
and points ``repo:``/``rev:`` at it. That needs PyPI (or a pip wheelhouse via ``PIP_FIND_LINKS``)
for the build backend and the dependencies: about 10-30 s once per run (the xdist workers share
it).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from filelock import FileLock

PROJECT = Path(__file__).resolve().parents[2]
DEMO = PROJECT / "fixtures" / "demo"
VENV_BIN = Path(sys.executable).parent
# what `pip install .` of the hook repository needs
PACKAGE_PARTS = ("pyproject.toml", "README.md", "LICENSE", ".pre-commit-hooks.yaml", "secretsmgr")
AUTHOR = {
    "GIT_AUTHOR_NAME": "secretsmgr tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "secretsmgr tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_AUTHOR_DATE": "2026-11-26T10:00:00Z",
    "GIT_COMMITTER_DATE": "2026-11-26T10:00:00Z",
}
PLAIN_SECRET = """apiVersion: v1
kind: Secret
metadata:
  name: redis-acl
  namespace: cache
type: Opaque
stringData:
  acl-password: Zq8vR4m2-acl-pass
"""


def _env(home: Path, pre_commit_home: Path) -> dict[str, str]:
    keep = ("PATH", "LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_FIND_LINKS", "PIP_NO_INDEX")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(AUTHOR)
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        PRE_COMMIT_HOME=str(pre_commit_home),
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_CONFIG_NOSYSTEM="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        NO_COLOR="1",
        PRE_COMMIT_COLOR="never",
        PATH=f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
    )
    return env


def _run(
    args: list[str], cwd: Path, env: dict[str, str], *, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, check=False, timeout=300
    )
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {result.returncode}:\n{result.stdout}{result.stderr}")
    return result


def _tracked_or_new(root: Path, env: dict[str, str]) -> list[str]:
    """Files git would ship from the working tree: tracked plus untracked, not ignored."""
    out = _run(["git", "ls-files", "-z", "-co", "--exclude-standard"], root, env).stdout
    return sorted({p for p in out.split("\0") if p and (root / p).is_file()})


def _run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test run's temporary folder, the same for every xdist worker (each worker's own
    base is ``<run>/popen-gwN``)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def hook_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """One HOME and one PRE_COMMIT_HOME for the run, shared by the xdist workers: the hook
    env is built once (pre-commit locks its store while it installs; the other waits)."""
    base = _run_folder(tmp_path_factory) / "precommit"
    base.mkdir(exist_ok=True)
    return _env(base / "home", base / "pre-commit-home")


@pytest.fixture(scope="session")
def hook_repo(
    tmp_path_factory: pytest.TempPathFactory, hook_env: dict[str, str]
) -> tuple[Path, str]:
    """A git repo holding the working tree's package files in one commit: (path, sha). One
    for the run (made under a lock by the first worker to need it), so that pre-commit,
    which keys its hook envs by repository and revision, builds the env once."""
    repo = _run_folder(tmp_path_factory) / "hook-repo"
    with FileLock(f"{repo}.lock"):
        if not (repo / ".git").is_dir():
            building = repo.with_name("hook-repo.building")
            shutil.rmtree(building, ignore_errors=True)
            for rel in _tracked_or_new(PROJECT, hook_env):
                if rel.split("/")[0] in PACKAGE_PARTS:
                    (building / rel).parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(PROJECT / rel, building / rel)
            assert (building / ".pre-commit-hooks.yaml").is_file()
            _run(["git", "init", "-q", "-b", "main"], building, hook_env)
            _run(["git", "add", "-A"], building, hook_env)
            _run(["git", "commit", "-q", "--no-gpg-sign", "-m", "snapshot"], building, hook_env)
            building.rename(repo)
        sha = _run(["git", "rev-parse", "HEAD"], repo, hook_env).stdout.strip()
    return repo, sha


@pytest.fixture
def gitops(tmp_path: Path, hook_repo: tuple[Path, str], hook_env: dict[str, str]) -> Iterator[Path]:
    """A copy of fixtures/demo as a git repo with the hook installed and a first commit."""
    repo = tmp_path / "gitops"
    shutil.copytree(DEMO, repo)
    path, sha = hook_repo
    (repo / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {path}\n    rev: {sha}\n    hooks:\n      - id: secretsmgr-check\n",
        encoding="utf-8",
    )
    _run(["git", "init", "-q", "-b", "main"], repo, hook_env)
    _run([str(VENV_BIN / "pre-commit"), "install"], repo, hook_env)
    _run(["git", "add", "-A"], repo, hook_env)
    first = _run(["git", "commit", "--no-gpg-sign", "-m", "demo"], repo, hook_env, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "secretsmgr check" in first.stdout + first.stderr  # the hook really ran
    yield repo
