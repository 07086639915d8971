"""No third-party warning reaches the user: an insecure kubeconfig makes urllib3 warn on every
request (InsecureRequestWarning); secretsmgr's stderr stays clean unless --debug asks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.runner import run_process
from tests.cluster.conftest import KubeAPI
from tests.conftest import FIXTURES, copy_tree

pytestmark = pytest.mark.kube

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"


def insecure_kubeconfig(kube: KubeAPI, path: Path) -> Path:
    """The fixture's kubeconfig with TLS verification switched off (as some homelabs run)."""
    config = json.loads(kube.kubeconfig.read_text(encoding="utf-8"))
    for cluster in config["clusters"]:
        cluster["cluster"].pop("certificate-authority", None)
        cluster["cluster"]["insecure-skip-tls-verify"] = True
    path.write_text(json.dumps(config), encoding="utf-8")
    path.chmod(0o600)
    return path


def test_an_insecure_kubeconfig_leaks_no_urllib3_warning(tmp_path: Path, kube_api: KubeAPI) -> None:
    kube_api.create_namespace("flux-system")
    repo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "KUBECONFIG": str(insecure_kubeconfig(kube_api, tmp_path / "kubeconfig")),
        "SOPS_AGE_KEY_FILE": str(DEMO_KEY),
    }
    args = ["--repo", str(repo), "key", "export", "--apply"]
    exported = "exported the private key of age1fq08…n3qw (cluster_key) as age.agekey"
    sent = run_process(args, env=env, expect=0, secrets=[kube_api.token], warnings=[exported])
    assert sent.err == f"secretsmgr: warning: {exported}\n" and "sops-age" in sent.out
    shown = run_process([*args[:2], "key", "show", "--from-cluster"], env=env, expect=0)
    assert shown.err == "" and "cluster (" in shown.out
    # the same request with --debug: the library's own warning is there for whoever asked
    debug = run_process([*args[:2], "key", "show", "--from-cluster", "--debug"], env=env)
    assert debug.code == 0 and "InsecureRequestWarning" in debug.err
