"""A cluster-key rotation end to end: real keyring, real API server, real sops.

The operator's only key store is the OS keyring (gnome-keyring on a private D-Bus); the
cluster is a real kube-apiserver with Flux's Kustomization API, whose status the test writes as
kustomize-controller would; every file at the end is checked with the real sops binary, given
nothing but the new key (it must decrypt) or nothing but the old one (it must not).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from secretsmgr.keys.age import parse_identities
from tests.cli.runner import run_process
from tests.cluster.conftest import KubeAPI, operator_env
from tests.conftest import FIXTURES, copy_tree, git, run_sops
from tests.secret_service import SecretService

pytestmark = [pytest.mark.kube, pytest.mark.keyring, pytest.mark.interop]

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
DEMO_PUBLIC = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")
NAMESPACE = "flux-system"


class Operator:
    """Runs secretsmgr as an operator would: a shell with a keyring and a kubeconfig."""

    def __init__(self, repo: Path, service: SecretService, kube: KubeAPI) -> None:
        self.repo = repo
        self.service = service
        self.env = operator_env(service, kube)

    def run(
        self, *args: str, extra: dict[str, str] | None = None, expect: int = 0
    ) -> subprocess.CompletedProcess[str]:
        env = dict(self.env, **(extra or {}))
        # key export names each private key it sends in a warning
        warnings = ["exported the private key of"] if args[:2] == ("key", "export") else []
        done = run_process(args, env=env, cwd=self.repo, expect=expect, warnings=warnings)
        return subprocess.CompletedProcess(args, done.code, done.out, done.err)

    def audit_json(self, *args: str) -> dict[str, object]:
        result = self.run("audit", "--from-cluster", "--format", "json", *args)
        assert SECRET.search(result.stdout + result.stderr) is None
        parsed: dict[str, object] = json.loads(result.stdout)
        return parsed

    def keyring_secret(self, public: str) -> str:
        found = self.service.secret_tool("lookup", "service", "secretsmgr", "username", public)
        assert found.returncode == 0, found.stderr
        return found.stdout.strip()


def findings(report: dict[str, object]) -> list[dict[str, str]]:
    got = report["findings"]
    assert isinstance(got, list)
    return got


def sops_files(repo: Path) -> list[Path]:
    return sorted(repo.rglob("*.enc.yaml"))


def recipients(path: Path) -> set[str]:
    return set(re.findall(r"recipient: (age1[0-9a-z]+)", path.read_text(encoding="utf-8")))


def live_publics(kube: KubeAPI) -> dict[str, str]:
    data = kube.get_secret_data(NAMESPACE, "sops-age")
    assert data is not None
    return {name: parse_identities(text, name).publics[0] for name, text in data.items()}


def test_cluster_key_rotation_end_to_end(
    tmp_path: Path, kube_api: KubeAPI, service: SecretService
) -> None:
    kube_api.create_namespace(NAMESPACE)
    kube_api.delete_secret(NAMESPACE, "sops-age")
    repo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "demo")
    ops = Operator(repo, service, kube_api)

    # 1. A fresh cluster key, only ever in the keyring. The repository moves to it with a plain
    #    rotation (the demo key opens the files this once), then forgets the demo key.
    first = ops.run("key", "generate", "--keyring").stdout.strip()
    for config in (".secretsmgr.yaml", ".sops.yaml"):
        path = repo / config
        path.write_text(path.read_text().replace(DEMO_PUBLIC, first), encoding="utf-8")
    git(repo, "commit", "-q", "-am", "cluster key: a new one")
    ops.run("rotate", "--all", "--commit", extra={"SOPS_AGE_KEY_FILE": str(DEMO_KEY)})
    for path in sops_files(repo):
        assert recipients(path) == {first, ADMIN}

    # 2. The cluster gets it; the audit against the live cluster is clean.
    applied = ops.run("key", "export", "--apply")
    assert f"created secret {NAMESPACE}/sops-age" in applied.stdout
    assert SECRET.search(applied.stdout + applied.stderr) is None
    assert live_publics(kube_api) == {"age.agekey": first}
    report = ops.audit_json()
    assert findings(report) == []

    # Flux in the cluster: two Kustomizations decrypt with the Secret, one does not; all three
    # have applied the commit before the rotation (what kustomize-controller would report).
    kube_api.install_flux()
    kube_api.delete_kustomizations()
    before_begin = git(repo, "rev-parse", "HEAD").strip()
    flux = {("flux-system", "flux-system"): True, ("apps", "apps"): True, ("docs", "docs"): False}
    for (namespace, name), decrypts in flux.items():
        kube_api.put_kustomization(namespace, name, decryption=decrypts)
        kube_api.set_kustomization_status(
            namespace, name, ready=True, revision=f"main@sha1:{before_begin}"
        )

    # 3. Begin: new key into the keyring, every file on old + new, the overlap Secret applied,
    #    and the new key beside the old one in the .sops.yaml rule.
    begun = ops.run("key", "rotate", "--begin", "--apply", "--from-cluster", "--commit")
    new = re.search(r"new cluster key (age1[0-9a-z]+)", begun.stdout)
    assert new is not None, begun.stdout
    second = new.group(1)
    begin_commit = git(repo, "rev-parse", "HEAD").strip()
    assert ops.keyring_secret(second).startswith("AGE-SECRET-KEY-1")
    assert SECRET.search(begun.stdout + begun.stderr) is None
    assert live_publics(kube_api) == {"old.agekey": first, "new.agekey": second}
    for path in sops_files(repo):
        assert recipients(path) == {first, second, ADMIN}
    assert f"next_cluster_key: {second}" in (repo / ".secretsmgr.yaml").read_text()
    assert f"age: {first},{second},{ADMIN}" in (repo / ".sops.yaml").read_text()
    # apps/apps decrypts with apps/sops-age (its secretRef, in its own namespace): the overlap
    # Secret goes there too; a re-run of begin re-encrypts nothing and only sends it.
    again = ops.run("key", "rotate", "--begin", "--apply", "--namespace", "apps")
    assert "re-encrypted 0 files" in again.stdout or "pending new cluster key" in again.stdout
    assert set(kube_api.get_secret_data("apps", "sops-age") or {}) == {"old.agekey", "new.agekey"}

    # 4. During the overlap someone adds a secret with plain sops: .sops.yaml puts it on both keys.
    added = repo / "gitops/apps/redis/late.enc.yaml"
    added.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: late\n  namespace: redis\n"
        "stringData:\n  token: made-during-the-overlap\n",
        encoding="utf-8",
    )
    made = run_sops(["encrypt", "-i", "gitops/apps/redis/late.enc.yaml"], cwd=repo)
    assert made.returncode == 0, made.stderr
    assert recipients(added) == {first, second, ADMIN}
    resources = repo / "gitops/apps/redis/kustomization.yaml"
    resources.write_text(resources.read_text() + "  - late.enc.yaml\n", encoding="utf-8")
    ops.run("log", "--adopt", "--reason", "a secret made with sops")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "a late secret")

    # The overlap is reported, not failed: both keys expected, every file ready.
    overlap = findings(ops.audit_json())
    assert {f["rule"] for f in overlap} == {"SM017"}
    assert {f["path"] for f in overlap} == {
        p.relative_to(repo).as_posix() for p in sops_files(repo)
    }
    assert all("this file is ready;" in f["message"] for f in overlap)

    # 5. Finish waits for Flux: the decrypting Kustomizations still report the commit before
    #    the begin step, so it is refused and nothing changes.
    state = git(repo, "rev-parse", "HEAD").strip(), (repo / ".secretsmgr.yaml").read_text()
    early = ops.run("key", "rotate", "--finish", "--apply", "--commit", expect=1)
    assert early.stderr.startswith("secretsmgr: error: the cluster is not ready for key rotate")
    assert "kustomization apps/apps: applied main@sha1:" in early.stderr
    assert "kustomization flux-system/flux-system: applied main@sha1:" in early.stderr
    assert "docs" not in early.stderr  # it decrypts nothing
    assert "flux reconcile kustomization apps -n apps --with-source" in early.stderr
    assert (git(repo, "rev-parse", "HEAD").strip(), (repo / ".secretsmgr.yaml").read_text()) == (
        state
    )
    assert live_publics(kube_api) == {"old.agekey": first, "new.agekey": second}

    # Flux reconciles: one Kustomization at the begin commit itself (Flux >= 0.33 revision),
    # the other at the later commit (an older Flux's branch/sha form).
    kube_api.set_kustomization_status(
        "flux-system", "flux-system", ready=True, revision=f"main@sha1:{begin_commit}"
    )
    kube_api.set_kustomization_status("apps", "apps", ready=True, revision=f"main/{state[0]}")

    # Finish: every file to the new key only, configuration switched, new-only Secret.
    finished = ops.run("key", "rotate", "--finish", "--apply", "--commit")
    assert SECRET.search(finished.stdout + finished.stderr) is None
    assert live_publics(kube_api) == {"age.agekey": second}
    settings = (repo / ".secretsmgr.yaml").read_text()
    assert f"cluster_key: {second}" in settings
    assert "next_cluster_key" not in settings
    assert first not in (repo / ".sops.yaml").read_text()
    assert f"age: {second},{ADMIN}" in (repo / ".sops.yaml").read_text()
    assert findings(ops.audit_json()) == []
    kube_api.delete_kustomizations()

    # 6. The real sops: the new key alone opens every file, the old key alone none.
    new_key = ops.keyring_secret(second)
    old_key = ops.keyring_secret(first)
    for path in sops_files(repo):
        assert recipients(path) == {second, ADMIN}
        opened = run_sops(["decrypt", str(path)], key_text=new_key)
        assert opened.returncode == 0, (path, opened.stderr)
        assert "kind: Secret" in opened.stdout
        refused = run_sops(["decrypt", str(path)], key_text=old_key)
        assert refused.returncode != 0, path

    # 7. The changelog has both steps, git has a commit for each, and the chain verifies.
    log = [json.loads(line) for line in (repo / "secrets-changelog.jsonl").read_text().splitlines()]
    actions = [entry["action"] for entry in log]
    assert actions[-3:] == ["key-rotate-begin", "adopt", "key-rotate-finish"]
    assert all(entry["actor"] == "Ops Person <ops@example.invalid>" for entry in log[-3:])
    subjects = git(repo, "log", "--format=%s", "-3").splitlines()
    assert subjects[0].startswith("secrets: key-rotate-finish")
    assert subjects[1] == "a late secret"
    assert subjects[2].startswith("secrets: key-rotate-begin")
    verified = ops.run("log", "--verify")
    assert "ok" in verified.stdout.lower() or verified.returncode == 0
    assert git(repo, "status", "--porcelain") == ""
