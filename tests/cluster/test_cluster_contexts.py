"""Several clusters, each with its own kube context: ``--from-cluster`` reads each cluster's
``sops-age`` Secret through that context, against the real API server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from secretsmgr.keys.age import generate_identity
from tests.cli.runner import Result, run_inline
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


ADMIN_KEY = FIXTURES / "keys" / "demo-only-admin.agekey"
ADMIN_PUBLIC = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
STRANGER_KEY = FIXTURES / "keys" / "demo-only-stranger.agekey"
STRANGER_PUBLIC = "age1uue76tehvt32fqn3fnjtzemtejqdjdtthsd284tqz67sydch0uhskcn3c3"


def _export(
    kube: KubeAPI, repo: Path, key_file: Path, *args: str, expect: int, **checks: list[str]
) -> Result:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo.parent / "home"),
        "KUBECONFIG": str(kube.kubeconfig),
        "SOPS_AGE_KEY_FILE": str(key_file),
    }
    argv = ["--repo", str(repo), "key", "export", "--apply", *args]
    done = run_inline(argv, env=env, expect=expect, **checks)  # type: ignore[arg-type]
    assert "Traceback" not in done.err and kube.token not in done.out + done.err
    return done


def _held(kube: KubeAPI) -> str | None:
    data = kube.get_secret_data("flux-system", "sops-age")
    return None if data is None else data["age.agekey"]


def test_key_export_refuses_a_named_key_flux_could_not_decrypt_with(
    tmp_path: Path, kube_api: KubeAPI
) -> None:
    # op24 problem 5: `key export --apply --cluster-key K` replaced the live Secret with any
    # key (exit 0, one warning); Flux could open no file after it. Nothing is sent now.
    kube_api.create_namespace("flux-system")
    repo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": _demo_secret() + "\n"})
    before = _held(kube_api)
    refused = _export(kube_api, repo, STRANGER_KEY, "--cluster-key", STRANGER_PUBLIC, expect=1)
    assert "refusing to export age1uue7…n3c3 (--cluster-key): it is not a cluster key" in (
        refused.err
    )
    assert "add --force" in refused.err and refused.out == ""
    assert _held(kube_api) == before
    forced = _export(
        kube_api,
        repo,
        STRANGER_KEY,
        *("--cluster-key", STRANGER_PUBLIC, "--force"),
        expect=0,
        warnings=["--force: exporting age1uue7…n3c3", "exported the private key of"],
    )
    assert forced.out.startswith("replaced secret flux-system/sops-age")
    assert STRANGER_PUBLIC in (_held(kube_api) or "")


def _lab2(repo: Path, homelab_context: str | None) -> None:
    """A second cluster, lab2, applying the demo's redis folder, with the admin key as its own
    (every demo file is encrypted to it): one Secret must never get the other cluster's key."""
    context = f", context: {homelab_context}" if homelab_context else ""
    (repo / ".secretsmgr.yaml").write_text(
        "clusters:\n"
        f"  homelab: {{path: clusters/homelab, cluster_key: {DEMO_PUBLIC}{context}}}\n"
        f"  lab2: {{path: clusters/lab2, cluster_key: {ADMIN_PUBLIC}}}\n",
        encoding="utf-8",
    )
    (repo / "clusters/lab2").mkdir(parents=True, exist_ok=True)
    (repo / "clusters/lab2/apps.yaml").write_text(
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata:\n  name: apps2\n  namespace: flux-system\n"
        "spec:\n  path: ./gitops/apps/redis\n  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n"
        "  decryption:\n    provider: sops\n    secretRef:\n      name: sops-age\n",
        encoding="utf-8",
    )


def test_key_export_never_puts_one_clusters_key_in_the_others_secret(
    tmp_path: Path, kube_api: KubeAPI
) -> None:
    # op24 problem 6 leading into 5: the current context is homelab's cluster, but nothing
    # says so; naming lab2's key put it into homelab's Secret. The Secret there holds
    # homelab's key, which tells which cluster the context reaches.
    kube_api.create_namespace("flux-system")
    repo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    _lab2(repo, None)
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": _demo_secret() + "\n"})
    before = _held(kube_api)
    refused = _export(kube_api, repo, ADMIN_KEY, "--cluster-key", ADMIN_PUBLIC, expect=1)
    assert refused.err.startswith(
        "secretsmgr: error: refusing to export age1xfmf…jp0u (--cluster-key): it is not a "
        "cluster key this repository names for cluster homelab (the Secret there holds "
        "age1fq08…n3qw)"
    )
    assert f"cluster homelab's key: secretsmgr key export --cluster-key {DEMO_PUBLIC}" in (
        refused.err
    )
    assert _held(kube_api) == before
    # no Secret yet and no context named: sent, with a note saying which cluster was assumed
    kube_api.delete_secret("flux-system", "sops-age")
    sent = _export(
        kube_api,
        repo,
        ADMIN_KEY,
        *("--cluster-key", ADMIN_PUBLIC),
        expect=0,
        warnings=["exported the private key of", "took context test for cluster lab2"],
    )
    assert "clusters.lab2.context: test" in sent.err
    # once homelab names its context, lab2's key is refused there even with no Secret to read
    kube_api.delete_secret("flux-system", "sops-age")
    _lab2(repo, "test")
    refused = _export(kube_api, repo, ADMIN_KEY, "--cluster-key", ADMIN_PUBLIC, expect=1)
    assert "for cluster homelab (clusters.homelab.context: test)" in refused.err
    assert _held(kube_api) is None


def test_audit_says_which_cluster_the_current_context_was_taken_for(
    tmp_path: Path, kube_api: KubeAPI
) -> None:
    # op24 problem 6: with two clusters and no context:, the current context's Secret was
    # taken for every cluster: an SM016 error on lab2, whose fix led to exporting lab2's key
    # into homelab's cluster. The Secret holds homelab's key: it is taken for homelab alone.
    kube_api.create_namespace("flux-system")
    repo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    _lab2(repo, None)
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": _demo_secret() + "\n"})
    result = run(kube_api, repo, "audit", "--from-cluster", "--format", "json", expect=0)
    report = json.loads(result.stdout)
    assert not [f for f in report["findings"] if f["rule"] == "SM016"]
    assert (
        "took context test for cluster homelab (its Secret holds that cluster's key); lab2 not "
        "read: set clusters.<name>.context: test for each cluster"
    ) in report["summary"]["notes"]
    # a Secret holding neither cluster's key: still read for both, and the note says so
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": generate_identity()[0] + "\n"})
    result = run(kube_api, repo, "audit", "--from-cluster", "--format", "json", expect=1)
    notes = json.loads(result.stdout)["summary"]["notes"]
    assert any(n.startswith("took context test for every cluster (homelab, lab2)") for n in notes)
