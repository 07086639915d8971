"""A new repository, end to end, as the README walks an operator through it.

A bare Flux repository (``flux bootstrap`` output and one decrypting layer, no SOPS file), then:
``init`` → the key to the cluster → ``encrypt`` → ``set`` → ``audit`` clean → a commit through
the real pre-commit hook → ``rotate --layer`` → ``key rotate --begin`` / ``--finish`` against a
real kube-apiserver whose Flux Kustomization status the test writes as kustomize-controller
would. Real gnome-keyring, real git, real sops for the last word. At the end neither git's
history nor the keyring holds a value it should not.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from secretsmgr import __version__
from tests.cli.runner import Result, run_process
from tests.cluster.conftest import KubeAPI, operator_env
from tests.conftest import git, run_sops
from tests.init.helpers import one_cluster_repo
from tests.secret_service import SecretService

pytestmark = [pytest.mark.kube, pytest.mark.keyring, pytest.mark.interop]

PROJECT = Path(__file__).resolve().parents[2]
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")
NAMESPACE = "flux-system"
FILE = "apps/podinfo/db.enc.yaml"
FIRST_VALUE = "first-password-5d1c"  # what the operator typed into the plaintext file
SET_VALUE = "set-password-77e0a9"  # what `set` put there
PLAINTEXTS = (FIRST_VALUE, SET_VALUE)


class Operator:
    """A shell with a keyring, a kubeconfig, git and pre-commit on PATH, in the repository."""

    def __init__(self, repo: Path, service: SecretService, kube: KubeAPI) -> None:
        self.repo = repo
        self.service = service
        path = f"{Path(sys.executable).parent}:{service.env.get('PATH', '/usr/bin:/bin')}"
        self.env = operator_env(
            service, kube, PATH=path, PRE_COMMIT_HOME=str(repo.parent / "pre-commit-home")
        )

    def run(
        self, *args: str, expect: int = 0, stdin: str | None = None, warnings: tuple[str, ...] = ()
    ) -> Result:
        if args[:2] == ("key", "export"):
            warnings = ("exported the private key of", *warnings)
        done = run_process(
            args,
            env=self.env,
            cwd=self.repo,
            expect=expect,
            stdin=stdin,
            warnings=warnings,
            secrets=[*PLAINTEXTS, SECRET],
        )
        return done

    def shell(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=self.repo, env=self.env, capture_output=True, text=True, check=False
        )

    def keyring(self) -> dict[str, str]:
        """Every secret the keyring holds for service secretsmgr: {public key: secret}."""
        found = self.service.secret_tool("search", "--all", "--unlock", "service", "secretsmgr")
        secrets = re.findall(r"^secret = (.*)$", found.stdout, re.M)
        # secret-tool prints each item's attributes on stderr, in the same order
        users = re.findall(r"^attribute\.username = (.*)$", found.stderr, re.M)
        return dict(zip(users, secrets, strict=True))


def live(kube: KubeAPI) -> set[str]:
    """The public keys the live sops-age Secret holds."""
    from secretsmgr.keys.age import parse_identities

    data = kube.get_secret_data(NAMESPACE, "sops-age") or {}
    return {parse_identities(text, name).publics[0] for name, text in data.items()}


def recipients(path: Path) -> set[str]:
    return set(re.findall(r"recipient: (age1[0-9a-z]+)", path.read_text(encoding="utf-8")))


def findings(report: Result) -> list[dict[str, str]]:
    got: list[dict[str, str]] = json.loads(report.out)["findings"]
    return got


def local_hook_config() -> str:
    """The shipped hook (.pre-commit-hooks.yaml) as a ``repo: local`` hook: the same entry and
    settings, run from this checkout (the documented remote config is tested in
    tests/precommit/test_documented_config.py)."""
    (hook,) = YAML(typ="safe").load((PROJECT / ".pre-commit-hooks.yaml").read_text())
    hook = {k: v for k, v in hook.items() if k not in ("description", "minimum_pre_commit_version")}
    hook["language"] = "system"
    return json.dumps({"repos": [{"repo": "local", "hooks": [hook]}]}, indent=2) + "\n"


def test_a_new_repository_from_init_to_a_rotated_cluster_key(
    tmp_path: Path, kube_api: KubeAPI, service: SecretService
) -> None:
    kube_api.install_flux()
    kube_api.delete_kustomizations()
    kube_api.create_namespace(NAMESPACE)
    kube_api.delete_secret(NAMESPACE, "sops-age")
    repo = one_cluster_repo(tmp_path / "fleet")
    ops = Operator(repo, service, kube_api)

    # 1. init: a new cluster key in the keyring, .sops.yaml, .secretsmgr.yaml, the hook config
    #    and an adopt entry; nothing else changes and no private key lands in the repository.
    init = ops.run("init")
    settings = (repo / ".secretsmgr.yaml").read_text()
    first = re.search(r"^cluster_key: (age1[0-9a-z]+)$", settings, re.M)
    assert first is not None, settings
    key1 = first.group(1)
    assert key1 in init.out and "OS keyring" in init.out
    assert ops.keyring()[key1].startswith("AGE-SECRET-KEY-1")
    rules = (repo / ".sops.yaml").read_text()
    assert key1 in rules and "^(data|stringData)$" in rules
    hook_config = (repo / ".pre-commit-config.yaml").read_text()
    assert "secretsmgr-check" in hook_config and f"rev: v{__version__}" in hook_config
    assert json.loads((repo / "secrets-changelog.jsonl").read_text())["action"] == "adopt"

    # 2. The cluster gets its key.
    ops.run("key", "export", "--apply")
    assert live(kube_api) == {key1}

    # 3. A secret, written in plaintext, encrypted in place, listed in the layer, then a value
    #    set from a script (stdin, never an argument).
    (repo / "apps/podinfo").mkdir()
    (repo / FILE).write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: podinfo-db\n  namespace: podinfo\n"
        f"stringData:\n  password: {FIRST_VALUE}\n",
        encoding="utf-8",
    )
    ops.run("encrypt", "-i", FILE)
    assert recipients(repo / FILE) == {key1}
    kustomization = repo / "apps/kustomization.yaml"
    kustomization.write_text(kustomization.read_text() + "  - podinfo/db.enc.yaml\n", "utf-8")
    ops.run("set", FILE, "stringData.password", stdin=SET_VALUE)
    opened = run_sops(["decrypt", FILE], cwd=repo, key_text=ops.keyring()[key1])
    assert opened.returncode == 0 and f"password: {SET_VALUE}" in opened.stdout

    # 4. The audit against the live cluster is clean; the changelog verifies.
    assert findings(ops.run("audit", "--from-cluster", "--format", "json")) == []
    ops.run("log", "--verify")

    # 5. A commit through the real pre-commit hook: a plaintext Secret is stopped, the
    #    encrypted one passes.
    (repo / ".pre-commit-config.yaml").write_text(local_hook_config(), encoding="utf-8")
    installed = ops.shell("pre-commit", "install")
    assert installed.returncode == 0, installed.stderr
    leak = repo / "apps/podinfo/leak.yaml"
    leak.write_text(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: leak\nstringData:\n"
        f"  password: {FIRST_VALUE}\n",
        encoding="utf-8",
    )
    ops.shell("git", "add", "-A")
    blocked = ops.shell("git", "commit", "-q", "-m", "podinfo: database secret")
    assert blocked.returncode != 0, blocked.stdout + blocked.stderr
    said = blocked.stdout + blocked.stderr
    assert "SM001" in said and FIRST_VALUE not in said
    leak.unlink()
    ops.shell("git", "add", "-A")
    passed = ops.shell("git", "commit", "-q", "-m", "podinfo: database secret")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "secretsmgr check" in passed.stdout + passed.stderr  # the hook ran

    # 6. Rotate the layer: a new data key, same value, one commit.
    before = (repo / FILE).read_text()
    ops.run("rotate", "--layer", "apps", "--reason", "first rotation", "--commit")
    assert (repo / FILE).read_text() != before
    opened = run_sops(["decrypt", FILE], cwd=repo, key_text=ops.keyring()[key1])
    assert f"password: {SET_VALUE}" in opened.stdout

    # 7. Flux in the cluster: the decrypting layer and the bootstrap one have applied HEAD.
    head = git(repo, "rev-parse", "HEAD").strip()
    for name, decrypts in (("flux-system", False), ("apps", True)):
        kube_api.put_kustomization(NAMESPACE, name, decryption=decrypts)
        kube_api.set_kustomization_status(NAMESPACE, name, ready=True, revision=f"main@sha1:{head}")

    # 8. Begin: a second key, every file on both, the overlap Secret applied, one commit.
    begun = ops.run("key", "rotate", "--begin", "--apply", "--from-cluster", "--commit")
    second = re.search(r"new cluster key (age1[0-9a-z]+)", begun.out)
    assert second is not None, begun.out
    key2 = second.group(1)
    begin_commit = git(repo, "rev-parse", "HEAD").strip()
    assert live(kube_api) == {key1, key2}
    assert recipients(repo / FILE) == {key1, key2}
    assert key2 in (repo / ".sops.yaml").read_text()

    # 9. Finish before Flux applied the begin commit: refused, nothing changes.
    state = git(repo, "rev-parse", "HEAD"), (repo / FILE).read_bytes()
    early = ops.run("key", "rotate", "--finish", "--apply", "--commit", expect=1)
    assert "kustomization flux-system/apps" in early.err
    assert (git(repo, "rev-parse", "HEAD"), (repo / FILE).read_bytes()) == state
    assert live(kube_api) == {key1, key2}

    # 10. Flux reconciles the begin commit; finish goes through.
    kube_api.set_kustomization_status(
        NAMESPACE, "apps", ready=True, revision=f"main@sha1:{begin_commit}"
    )
    ops.run("key", "rotate", "--finish", "--apply", "--commit")
    assert live(kube_api) == {key2}
    assert recipients(repo / FILE) == {key2}
    assert key1 not in (repo / ".sops.yaml").read_text()
    assert findings(ops.run("audit", "--from-cluster", "--format", "json")) == []
    verified = ops.run("log", "--verify")
    assert "chain ok" in verified.out and "anchored in git" in verified.out

    # The real sops: the new key opens the file, the old one does not.
    keys = ops.keyring()
    assert run_sops(["decrypt", FILE], cwd=repo, key_text=keys[key2]).returncode == 0
    assert run_sops(["decrypt", FILE], cwd=repo, key_text=keys[key1]).returncode != 0

    # Nothing in git's history or in the keyring holds a plaintext value or a private key.
    history = git(repo, "log", "-p", "--all", "--format=%H %s%n%b")
    for value in PLAINTEXTS:
        assert value not in history
    assert SECRET.search(history) is None
    assert set(keys) == {key1, key2}
    assert all(SECRET.fullmatch(secret) for secret in keys.values())
    kube_api.delete_kustomizations()
