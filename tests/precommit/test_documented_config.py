"""The README's pre-commit configuration, as a user copies it: its ``rev`` is a tag of this
repository, and pre-commit, pointed at a clone of the repository, installs the hook from that
tag and gates a commit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from secretsmgr import __version__
from secretsmgr.init.texts import HOOK_REV

from .conftest import DEMO, PLAIN_SECRET, PROJECT, VENV_BIN, _run

UPSTREAM = "https://github.com/secretsmgr/secretsmgr"


def documented_config() -> dict[str, object]:
    """The ``.pre-commit-config.yaml`` block of the README's "Pre-commit and CI" section."""
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Pre-commit and CI", 1)[1]
    block = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block.startswith("# .pre-commit-config.yaml\n"), block
    loaded = YAML(typ="safe").load(block)
    assert isinstance(loaded, dict)
    return loaded


def test_the_documented_rev_is_this_release() -> None:
    config = documented_config()
    (repo,) = config["repos"]  # type: ignore[misc]
    assert repo["repo"] == UPSTREAM
    assert repo["rev"] == f"v{__version__}" == HOOK_REV  # what `secretsmgr init` writes too
    assert [h["id"] for h in repo["hooks"]] == ["secretsmgr-check"]
    hooks = (PROJECT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8")
    assert f"#     rev: v{__version__}\n" in hooks  # the manifest's own usage comment
    readme = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert f"@v{__version__}" in readme and "@v0.1.0" not in readme


def _git(*args: str, cwd: Path = PROJECT) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_the_documented_config_installs_from_a_clone_and_gates_a_commit(
    tmp_path: Path, hook_env: dict[str, str]
) -> None:
    if not (PROJECT / ".git").exists():
        pytest.skip("not a git checkout of secretsmgr: no tags to clone")
    if _git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        pytest.skip("a shallow checkout cannot be cloned whole")
    config = documented_config()
    (entry,) = config["repos"]  # type: ignore[misc]
    rev = entry["rev"]
    clone = tmp_path / "secretsmgr"
    _run(["git", "clone", "-q", "--no-local", str(PROJECT), str(clone)], tmp_path, hook_env)
    ref = f"refs/tags/{rev}^{{commit}}"
    if _git("rev-parse", "-q", "--verify", ref).returncode == 0:
        tagged = _git("rev-parse", "-q", "--verify", ref, cwd=clone)
        assert tagged.returncode == 0, f"the tag {rev} did not reach a clone"
    else:
        # A checkout fetched without tags (CI checks out the branch alone): tag the clone's
        # HEAD as the release would be tagged, so pre-commit still installs from a tag name.
        _run(["git", "tag", rev], clone, hook_env)

    repo = tmp_path / "gitops"
    shutil.copytree(DEMO, repo)
    documented = (PROJECT / "README.md").read_text(encoding="utf-8")
    block = documented.split("## Pre-commit and CI", 1)[1].split("```yaml\n", 1)[1]
    block = block.split("```", 1)[0].replace(UPSTREAM, str(clone))  # only the URL differs
    (repo / ".pre-commit-config.yaml").write_text(block, encoding="utf-8")
    _run(["git", "init", "-q", "-b", "main"], repo, hook_env)
    _run([str(VENV_BIN / "pre-commit"), "install"], repo, hook_env)
    _run(["git", "add", "-A"], repo, hook_env)
    first = _run(["git", "commit", "--no-gpg-sign", "-m", "demo"], repo, hook_env, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "secretsmgr check" in first.stdout + first.stderr  # the hook from the tag ran

    plain = repo / "gitops" / "apps" / "redis" / "redis-acl.yaml"
    plain.write_text(PLAIN_SECRET, encoding="utf-8")
    _run(["git", "add", "-A"], repo, hook_env)
    blocked = _run(["git", "commit", "--no-gpg-sign", "-m", "acl"], repo, hook_env, check=False)
    assert blocked.returncode != 0, blocked.stdout + blocked.stderr
    assert "SM001" in blocked.stdout + blocked.stderr
    assert "Zq8vR4m2-acl-pass" not in blocked.stdout + blocked.stderr


def test_the_documented_local_hook_gates_a_commit_without_fetching(
    tmp_path: Path, hook_env: dict[str, str]
) -> None:
    """An operator's acceptance run: offline, the first commit died fetching the hook's
    repository; the README's ``repo: local`` form runs the installed secretsmgr instead."""
    section = (PROJECT / "README.md").read_text(encoding="utf-8").split("## Pre-commit and CI")[1]
    block = next(b.split("```", 1)[0] for b in section.split("```yaml\n")[1:] if "repo: local" in b)
    repo = tmp_path / "gitops"
    shutil.copytree(DEMO, repo)
    (repo / ".pre-commit-config.yaml").write_text(block, encoding="utf-8")
    env = dict(hook_env, PATH=f"{VENV_BIN}:{hook_env.get('PATH', '/usr/bin:/bin')}")
    _run(["git", "init", "-q", "-b", "main"], repo, env)
    _run([str(VENV_BIN / "pre-commit"), "install"], repo, env)
    _run(["git", "add", "-A"], repo, env)
    first = _run(["git", "commit", "--no-gpg-sign", "-m", "demo"], repo, env, check=False)
    assert first.returncode == 0, first.stdout + first.stderr
    plain = repo / "gitops" / "apps" / "redis" / "redis-acl.yaml"
    plain.write_text(PLAIN_SECRET, encoding="utf-8")
    _run(["git", "add", "-A"], repo, env)
    blocked = _run(["git", "commit", "--no-gpg-sign", "-m", "acl"], repo, env, check=False)
    assert blocked.returncode != 0 and "SM001" in blocked.stdout + blocked.stderr
