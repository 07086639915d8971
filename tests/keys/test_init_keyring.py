"""``init`` keeps a new cluster key in the real OS keyring, where ``key export`` finds it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from secretsmgr.keys.age import parse_identities
from secretsmgr.repo.settings import load_settings
from tests.cli.runner import Result, run_process
from tests.conftest import GIT_ENV
from tests.init.helpers import one_cluster_repo
from tests.secret_service import SecretService

pytestmark = pytest.mark.keyring

SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


@pytest.fixture
def service(tmp_path: Path) -> Iterator[SecretService]:
    svc = SecretService(tmp_path / "home").start()
    yield svc
    svc.stop()


def run(svc: SecretService, repo: Path, *args: str, warnings: tuple[str, ...] = ()) -> Result:
    """``secretsmgr --repo REPO ARGS`` as a process (keyring picks its backend once per process)."""
    return run_process(
        ["--repo", str(repo), *args],
        env={**svc.env, **GIT_ENV},
        expect=0,
        warnings=warnings,
        timeout=60,
    )


def test_init_stores_the_new_key_in_the_keyring_by_default(
    service: SecretService, tmp_path: Path
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    done = run(service, repo, "init")
    assert done.err == ""
    assert SECRET.search(done.out) is None
    public = load_settings(repo).cluster_key
    assert public is not None
    assert "(new; its private key is in OS keyring (service secretsmgr))" in done.out
    found = service.secret_tool("lookup", "service", "secretsmgr", "username", public)
    assert found.returncode == 0
    assert parse_identities(found.stdout, "keyring").publics == (public,)
    # key export finds it there: the manifest for Flux holds exactly that key
    exported = run(service, repo, "key", "export", warnings=("holds a private key",))
    assert SECRET.search(exported.err) is None
    assert f"# public key: {public}" in exported.out
    assert SECRET.findall(exported.out) == [found.stdout.splitlines()[0]]  # the keyring's key
    # a second init makes no other key
    again = run(service, repo, "init")
    assert "nothing changed" in again.out
    listed = service.secret_tool("search", "--all", "service", "secretsmgr")
    assert listed.stdout.count("username = ") + listed.stderr.count("username = ") == 1
