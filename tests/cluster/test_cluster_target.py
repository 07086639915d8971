"""``key export --cluster NAME --apply`` and ``key rotate --cluster NAME --apply`` send one
cluster's keys to a context: where that context is another cluster of the repository (its
``clusters.<other>.context``, or a Secret holding the other cluster's key), sending them would
replace the key Flux decrypts that cluster with, so it is refused and nothing changes.

Before, ``--cluster`` sent them wherever the current context pointed: with the kubeconfig on
production, ``key export --cluster staging --apply`` replaced production's sops-age Secret with
staging's key (``--cluster-key`` refused the same export, through ``check_named_key``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Protocol

import pytest

from secretsmgr.repo.settings import load_settings
from secretsmgr.rotate.settingsedit import set_cluster_setting
from tests.cli.runner import Result, run_inline
from tests.cluster.conftest import KubeAPI
from tests.init.helpers import SECRET, kustomization, two_cluster_repo, write
from tests.rotate.helpers import snapshot

pytestmark = pytest.mark.kube

NS = "flux-system"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


class _Runner(Protocol):
    def __call__(self, *args: str, expect: int = 0, warnings: tuple[str, ...] = ()) -> Result: ...


def _initialised(tmp_path: Path, kube_api: KubeAPI) -> tuple[Path, _Runner]:
    """Two clusters, each with a key of its own (init -o), no sops-age Secret in the API
    server yet; and how to run secretsmgr there (current context "test")."""
    kube_api.create_namespace(NS)
    kube_api.delete_secret(NS, "sops-age")
    repo = two_cluster_repo(tmp_path / "repo")
    keyfile = tmp_path / "clusters.agekey"
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "KUBECONFIG": str(kube_api.kubeconfig),
        "SOPS_AGE_KEY_FILE": str(keyfile),
        **GIT_ENV,
    }

    def run(*args: str, expect: int = 0, warnings: tuple[str, ...] = ()) -> Result:
        may = ("holds a private key", "exported the private key of", *warnings)
        return run_inline(args, repo=repo, env=env, expect=expect, may_warn=may)

    run("init", "-o", str(keyfile))
    return repo, run


@pytest.mark.parametrize("known_by", ["secret", "context"])
def test_one_clusters_keys_are_not_sent_to_another_cluster(
    tmp_path: Path, kube_api: KubeAPI, known_by: str
) -> None:
    from tests.conftest import git

    repo, run = _initialised(tmp_path, kube_api)
    keys = {c.name: c.cluster_key or "" for c in load_settings(repo).clusters}
    settings = repo / ".secretsmgr.yaml"
    if known_by == "context":  # the kubeconfig's context is pinned as production's
        text = set_cluster_setting(settings.read_text(), "production", "context", '"test"')
        settings.write_text(text)
    write(repo, "apps/base/shared.enc.yaml", SECRET.format(name="db", value="sh4red-value"))
    kustomization(repo, "apps/base", "shared.yaml", "shared.enc.yaml")
    run("encrypt", "-i", "apps/base/shared.enc.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "secrets")
    if known_by == "secret":  # production's Secret, as key export --cluster production sent it
        # (a first export names its context: nothing else says it reaches production)
        run("key", "export", "--cluster", "production", "--apply", "--context", "test")
        held = json.dumps(kube_api.get_secret_data(NS, "sops-age"))
        assert keys["production"] in held and keys["staging"] not in held
    live = kube_api.get_secret_data(NS, "sops-age")
    state = snapshot(repo)

    refused = run("key", "export", "--cluster", "staging", "--apply", expect=1)
    assert "secretsmgr: error: refusing to send cluster staging's key" in refused.err, refused.err
    assert kube_api.get_secret_data(NS, "sops-age") == live
    new_file = tmp_path / "next.agekey"
    begin = ("key", "rotate", "--begin", "--cluster", "staging", "--apply", "-o", str(new_file))
    refused = run(*begin, expect=1)
    assert "refusing to send cluster staging's key" in refused.err, refused.err
    assert kube_api.get_secret_data(NS, "sops-age") == live
    assert snapshot(repo) == state and not new_file.exists()
    # the operator who means it says so
    forced = ("--force: sending cluster staging's key",)
    run("key", "export", "--cluster", "staging", "--apply", "--force", warnings=forced)
    assert keys["staging"] in json.dumps(kube_api.get_secret_data(NS, "sops-age"))


def test_a_first_export_goes_only_to_a_context_named_or_pinned_for_its_cluster(
    tmp_path: Path, kube_api: KubeAPI
) -> None:
    """The attack review of init's two-cluster steps: with no Secret there yet and no context
    pinned, `key export --cluster staging --apply` pasted in production's context put
    staging's key there, and production's own step was then refused. A first export needs
    the context named (--context) or pinned (clusters.NAME.context)."""
    repo, run = _initialised(tmp_path, kube_api)
    keys = {c.name: c.cluster_key or "" for c in load_settings(repo).clusters}
    refused = run("key", "export", "--cluster", "staging", "--apply", expect=1)
    assert "nothing says this context reaches cluster staging" in refused.err, refused.err
    assert "--context CONTEXT, or pin it as clusters.staging.context" in refused.err
    assert kube_api.get_secret_data(NS, "sops-age") is None
    run("key", "export", "--cluster", "staging", "--apply", "--context", "test")
    assert keys["staging"] in json.dumps(kube_api.get_secret_data(NS, "sops-age"))
    # now the Secret holds staging's key: the same step with no context is staging's again
    run("key", "export", "--cluster", "staging", "--apply")
    refused = run("key", "export", "--cluster", "production", "--apply", expect=1)
    assert "the key of cluster staging" in refused.err, refused.err
