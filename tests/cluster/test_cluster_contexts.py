"""Several clusters, each with its own kube context: ``--from-cluster`` reads each cluster's
``sops-age`` Secret through that context, against the real API server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secretsmgr.keys.age import generate_identity
from tests.cluster.conftest import KubeAPI
from tests.cluster.test_cluster_cli import DEMO_PUBLIC, run
from tests.conftest import FIXTURES, copy_tree

pytestmark = pytest.mark.kube


def _two_clusters(root: Path, staging_key: str, production_key: str) -> None:
    """The demo's homelab cluster becomes 'staging' (context test) beside 'production'."""
    (root / ".secretsmgr.yaml").write_text(
        "clusters:\n"
        f"  staging:\n    path: clusters/homelab\n    cluster_key: {staging_key}\n"
        "    context: test\n"
        f"  production:\n    path: clusters/production\n    cluster_key: {production_key}\n",
        encoding="utf-8",
    )


def test_each_cluster_is_compared_with_the_secret_its_own_context_holds(
    tmp_path: Path, kube_api: KubeAPI
) -> None:
    kube_api.create_namespace("flux-system")
    repo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    production = generate_identity()[1]
    _two_clusters(repo, DEMO_PUBLIC, production)
    held = generate_identity()
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": held[0] + "\n"})
    result = run(kube_api, repo, "audit", "--from-cluster", "--format", "json", expect=1)
    findings = json.loads(result.stdout)["findings"]
    drift = [f for f in findings if f["rule"] == "SM016"]
    assert len(drift) == 1
    assert "cluster staging's key" in drift[0]["message"]
    assert "context test: flux-system/sops-age" in drift[0]["message"]
    # the staging files are judged against what the staging cluster really holds
    missing = {f["path"] for f in findings if f["rule"] == "SM004"}
    assert missing and all(f["cluster"] == "staging" for f in findings if f["rule"] == "SM004")

    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": _demo_secret() + "\n"})
    clean = run(kube_api, repo, "audit", "--from-cluster", "--format", "json", expect=0)
    assert not [f for f in json.loads(clean.stdout)["findings"] if f["severity"] == "error"]


def _demo_secret() -> str:
    text = (FIXTURES / "keys" / "demo-only.agekey").read_text(encoding="utf-8")
    return next(line for line in text.splitlines() if line.startswith("AGE-SECRET-KEY-1"))
