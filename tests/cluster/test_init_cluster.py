"""``init --from-cluster``: the cluster key read from the live sops-age Secret (real API server)."""

from __future__ import annotations

from pathlib import Path

import pytest

from secretsmgr.repo.settings import load_settings
from tests.cluster.conftest import KubeAPI
from tests.cluster.test_cluster_cli import run
from tests.conftest import FIXTURES
from tests.init.helpers import one_cluster_repo, tree

pytestmark = pytest.mark.kube

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
ADMIN_KEY = FIXTURES / "keys" / "demo-only-admin.agekey"
DEMO_PUBLIC = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"


def test_init_takes_the_key_the_cluster_holds(kube_api: KubeAPI, tmp_path: Path) -> None:
    kube_api.create_namespace("flux-system")
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": DEMO_KEY.read_text()})
    repo = one_cluster_repo(tmp_path / "repo")
    done = run(kube_api, repo, "init", "--from-cluster", expect=0)
    assert f"cluster prod: {DEMO_PUBLIC} (from cluster (context test: flux-system/sops-age))" in (
        done.stdout
    )
    assert "the cluster already holds its key" in done.stdout
    assert load_settings(repo).cluster_key == DEMO_PUBLIC


def test_a_secret_with_two_keys_asks_which(kube_api: KubeAPI, tmp_path: Path) -> None:
    kube_api.create_namespace("flux-system")
    kube_api.put_secret(
        "flux-system",
        "sops-age",
        {"old.agekey": DEMO_KEY.read_text(), "new.agekey": ADMIN_KEY.read_text()},
    )
    repo = one_cluster_repo(tmp_path / "repo")
    before = tree(repo)
    done = run(kube_api, repo, "init", "--from-cluster", expect=2)
    assert "holds 2 age keys" in done.stderr and "--cluster-key" in done.stderr
    assert tree(repo) == before


def test_each_cluster_is_read_through_its_own_context(kube_api: KubeAPI, tmp_path: Path) -> None:
    from tests.init.helpers import commit, two_cluster_repo, write

    kube_api.create_namespace("flux-system")
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": DEMO_KEY.read_text()})
    repo = two_cluster_repo(tmp_path / "repo")
    write(
        repo,
        ".secretsmgr.yaml",
        "clusters:\n"
        "  staging: {path: clusters/staging, context: test}\n"
        "  production: {path: clusters/production, context: test}\n",
    )
    commit(repo, "contexts")
    done = run(kube_api, repo, "init", "--from-cluster", expect=0)
    assert "does not pin the cluster key (--force rewrites it" in done.stdout
    done = run(kube_api, repo, "init", "--from-cluster", "--force", expect=0)
    for name in ("staging", "production"):
        assert f"cluster {name}: {DEMO_PUBLIC} (from cluster (context test:" in done.stdout
    settings = load_settings(repo)
    assert settings.cluster_key == DEMO_PUBLIC
    assert {(c.name, c.context) for c in settings.clusters} == {
        ("staging", "test"),
        ("production", "test"),
    }
    # without the contexts, one Secret cannot stand for two clusters
    other = two_cluster_repo(tmp_path / "other")
    refused = run(kube_api, other, "init", "--from-cluster", expect=2)
    assert "read no Secret for cluster" in refused.stderr
