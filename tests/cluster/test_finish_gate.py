"""``key rotate --finish`` asks the live cluster first: a real API server with the Flux
Kustomization CRD (tests/cluster/kustomization-crd.yaml), objects and statuses written with
kubectl, and a real git repository whose begin commit the revisions are compared with."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from secretsmgr.cluster.flux import list_kustomizations
from secretsmgr.errors import ClusterError
from secretsmgr.keys.age import parse_identities
from tests.cli.runner import Result, assert_user_error, run_inline
from tests.cluster.conftest import KubeAPI
from tests.conftest import FIXTURES, copy_tree, git
from tests.rotate.helpers import snapshot

pytestmark = pytest.mark.kube

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
NS = "flux-system"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.invalid",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


@dataclass
class Rotation:
    """A demo repository with a committed begin step, and the keys of both sides."""

    repo: Path
    kube: KubeAPI
    keys: Path  # old + new private keys (the operator's)
    old_text: str
    new_text: str
    new: str
    begin: str  # the begin commit
    before: str  # its parent

    def finish(self, *args: str, expect: int, warnings: tuple[str, ...] = ()) -> Result:
        env = {
            "PATH": "/usr/bin:/bin",
            "HOME": str(self.repo.parent / "home"),
            "KUBECONFIG": str(self.kube.kubeconfig),
            "SOPS_AGE_KEY_FILE": str(self.keys),
            **GIT_ENV,
        }
        return run_inline(
            ["key", "rotate", "--finish", "--apply", *args],
            repo=self.repo,
            env=env,
            expect=expect,
            warnings=warnings,
            secrets=[self.kube.token, "AGE-SECRET-KEY-1"],
        )

    def secret(self, *, new: bool = True, ns: str = NS) -> None:
        entries = {"old.agekey": self.old_text}
        if new:
            entries["new.agekey"] = self.new_text
        self.kube.create_namespace(ns)
        self.kube.put_secret(ns, "sops-age", entries)

    def ready(self, name: str, revision: str | None, *, ready: bool = True, ns: str = NS) -> None:
        self.kube.put_kustomization(ns, name)
        self.kube.set_kustomization_status(ns, name, ready=ready, revision=revision)


@pytest.fixture
def rotation(tmp_path: Path, kube_api: KubeAPI) -> Iterator[Rotation]:
    kube_api.install_flux()
    kube_api.delete_kustomizations()
    kube_api.create_namespace(NS)
    repo = copy_tree(FIXTURES / "demo", tmp_path / "demo")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "demo")
    before = git(repo, "rev-parse", "HEAD").strip()
    new_file = tmp_path / "new.agekey"
    run_inline(
        ["key", "rotate", "--begin", "-o", str(new_file), "--commit"],
        repo=repo,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path / "home"), **GIT_ENV}
        | {"SOPS_AGE_KEY_FILE": str(DEMO_KEY)},
        expect=0,
        warnings=("the manifest on stdout holds a private key",),
    )
    keys = tmp_path / "both.txt"
    keys.write_text(DEMO_KEY.read_text() + new_file.read_text(), encoding="utf-8")
    yield Rotation(
        repo=repo,
        kube=kube_api,
        keys=keys,
        old_text=DEMO_KEY.read_text(),
        new_text=new_file.read_text(),
        new=parse_identities(new_file.read_text(), "new").publics[0],
        begin=git(repo, "rev-parse", "HEAD").strip(),
        before=before,
    )
    kube_api.delete_kustomizations()


def test_refused_while_the_secret_lacks_the_new_key(rotation: Rotation) -> None:
    rotation.secret(new=False)
    rotation.ready("apps", f"main@sha1:{rotation.begin}")
    state = snapshot(rotation.repo)
    refused = rotation.finish(expect=1)
    assert_user_error(
        refused.err,
        "the cluster is not ready for key rotate --finish",
        "the cluster (context test: flux-system/sops-age) does not hold the new key",
    )
    assert "kustomization" not in refused.err.splitlines()[0]  # apps is fine
    assert (
        "secretsmgr: hint: send the overlap Secret first: secretsmgr key rotate --begin --apply\n"
        in refused.err
    )
    assert snapshot(rotation.repo) == state
    assert sorted(rotation.kube.get_secret_data(NS, "sops-age") or {}) == ["old.agekey"]


def test_refused_while_a_decrypting_kustomization_is_not_ready(rotation: Rotation) -> None:
    rotation.secret()
    rotation.ready("apps", f"main@sha1:{rotation.begin}", ready=False)
    rotation.ready("infra", f"main@sha1:{rotation.begin}")
    state = snapshot(rotation.repo)
    refused = rotation.finish(expect=1)
    assert_user_error(
        refused.err, "kustomization flux-system/apps: not Ready (ReconciliationFailed"
    )
    assert "infra" not in refused.err
    assert (
        "secretsmgr: hint: flux reconcile kustomization apps -n flux-system --with-source\n"
        in refused.err
    )
    assert snapshot(rotation.repo) == state


@pytest.mark.parametrize("form", ["main@sha1:{}", "main/{}", "{}"])
def test_refused_while_the_applied_revision_predates_the_begin_commit(
    rotation: Rotation, form: str
) -> None:
    rotation.secret()
    old = form.format(rotation.before)
    rotation.ready("apps", old, ns="apps")
    state = snapshot(rotation.repo)
    refused = rotation.finish(expect=1)
    assert_user_error(
        refused.err,
        f"kustomization apps/apps: applied {old} (older than the begin commit "
        f"{rotation.begin[:12]})",
    )
    assert (
        "secretsmgr: hint: push the begin commit (git push), then "
        "flux reconcile kustomization apps -n apps --with-source\n"
    ) in refused.err
    assert snapshot(rotation.repo) == state


def test_refused_for_a_commit_this_clone_lacks(rotation: Rotation) -> None:
    rotation.secret()
    rotation.ready("apps", "main@sha1:" + "0123456789abcdef" * 2 + "01234567")
    refused = rotation.finish(expect=1)
    assert_user_error(refused.err, "applied commit 0123456789ab (not in this clone)")
    assert "secretsmgr: hint: git fetch, then run secretsmgr key rotate --finish again" in (
        refused.err
    )


def test_allowed_when_all_is_applied_and_plain_kustomizations_are_ignored(
    rotation: Rotation,
) -> None:
    git(rotation.repo, "commit", "-q", "--allow-empty", "-m", "after begin")
    later = git(rotation.repo, "rev-parse", "HEAD").strip()
    rotation.secret()
    rotation.secret(ns="infra")  # the Secret infra/infra decrypts with (its own namespace)
    rotation.ready("apps", f"main@sha1:{rotation.begin}")  # Flux >= 0.33
    rotation.ready("infra", f"main/{later}", ns="infra")  # older Flux, a later commit
    # no decryption: neither its state nor its revision matter
    rotation.kube.put_kustomization(NS, "plain", decryption=False)
    rotation.kube.set_kustomization_status(
        NS, "plain", ready=False, revision=f"main@sha1:{rotation.before}"
    )
    done = rotation.finish("--commit", expect=0)
    assert "re-encrypted 4 files" in done.out
    assert "replaced secret flux-system/sops-age" in done.out
    assert sorted(rotation.kube.get_secret_data(NS, "sops-age") or {}) == ["age.agekey"]
    assert f"cluster_key: {rotation.new}" in (rotation.repo / ".secretsmgr.yaml").read_text()


def test_skip_cluster_check_proceeds_with_a_warning(rotation: Rotation) -> None:
    rotation.secret(new=False)  # the check would refuse
    rotation.ready("apps", f"main@sha1:{rotation.before}", ready=False)
    warning = "--skip-cluster-check: not checking that the cluster holds the new key"
    done = rotation.finish("--skip-cluster-check", expect=0, warnings=(warning,))
    assert done.err.startswith(f"secretsmgr: warning: {warning}")
    assert sorted(rotation.kube.get_secret_data(NS, "sops-age") or {}) == ["age.agekey"]


def test_list_kustomizations_reads_every_namespace(rotation: Rotation) -> None:
    rotation.ready("apps", f"main@sha1:{rotation.begin}", ns="apps")
    rotation.kube.put_kustomization(NS, "plain", decryption=False)
    env = {"KUBECONFIG": str(rotation.kube.kubeconfig)}
    found = list_kustomizations(None, env)
    assert (found.context, found.version) == ("test", "v1")
    names = {(k["metadata"]["namespace"], k["metadata"]["name"]) for k in found.items}  # type: ignore[index]
    assert names == {("apps", "apps"), (NS, "plain")}
    with pytest.raises(ClusterError) as caught:
        list_kustomizations("nobody", env)
    assert caught.value.message == (
        'forbidden: context "nobody" may not list '
        "kustomizations.kustomize.toolkit.fluxcd.io in all namespaces (403)"
    )
    assert rotation.kube.token not in caught.value.message


def test_refused_while_the_secret_a_kustomization_reads_lacks_the_new_key(
    rotation: Rotation,
) -> None:
    # infra/infra decrypts with infra/sops-age (secretRef resolves in its own namespace): the
    # overlap Secret sent to flux-system does not help it.
    rotation.secret()
    rotation.secret(new=False, ns="infra")
    rotation.ready("infra", f"main@sha1:{rotation.begin}", ns="infra")
    state = snapshot(rotation.repo)
    refused = rotation.finish(expect=1)
    assert_user_error(
        refused.err, "kustomization infra/infra decrypts with Secret infra/sops-age, which does"
    )
    assert "--begin --apply --namespace infra --secret sops-age" in refused.err
    assert snapshot(rotation.repo) == state


def test_one_clusters_finish_reads_that_clusters_own_context(
    tmp_path: Path, kube_api: KubeAPI
) -> None:
    """``key rotate --cluster staging``: the finish gate reads staging through
    ``clusters.staging.context`` (the kubeconfig's current context is a cluster that is down),
    refuses while its Secret lacks the new key, and passes once its Kustomization is Ready at
    the begin commit; production's key stays on the file both clusters apply."""
    import json

    from secretsmgr.repo.settings import load_settings
    from secretsmgr.rotate.settingsedit import set_cluster_setting
    from tests.init.helpers import SECRET, kustomization, two_cluster_repo, write
    from tests.rotate.helpers import age_recipients

    kube_api.install_flux()
    kube_api.delete_kustomizations()
    kube_api.create_namespace(NS)
    repo = two_cluster_repo(tmp_path / "repo")
    keyfile = tmp_path / "clusters.agekey"
    config = json.loads(kube_api.kubeconfig.read_text())
    config["current-context"] = "down"
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps(config))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path / "home"),
        "KUBECONFIG": str(kubeconfig),
        "SOPS_AGE_KEY_FILE": str(keyfile),
        **GIT_ENV,
    }
    private = ["AGE-SECRET-KEY-1", kube_api.token]

    def run(*args: str, expect: int = 0) -> Result:
        may = ("holds a private key", "exported the private key of")
        return run_inline(args, repo=repo, env=env, expect=expect, may_warn=may)

    run("init", "-o", str(keyfile))
    settings = repo / ".secretsmgr.yaml"
    settings.write_text(set_cluster_setting(settings.read_text(), "staging", "context", '"test"'))
    write(repo, "apps/base/shared.enc.yaml", SECRET.format(name="db", value="sh4red-value"))
    kustomization(repo, "apps/base", "shared.yaml", "shared.enc.yaml")
    run("encrypt", "-i", "apps/base/shared.enc.yaml")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "secrets")
    keys = {c.name: c.cluster_key for c in load_settings(repo).clusters}
    new_file = tmp_path / "staging-next.agekey"
    run("key", "rotate", "--begin", "--cluster", "staging", "-o", str(new_file), "--commit")
    new = parse_identities(new_file.read_text(), "new").publics[0]
    begin = git(repo, "rev-parse", "HEAD").strip()
    env["SOPS_AGE_KEY_FILE"] = str(tmp_path / "both.agekey")
    (tmp_path / "both.agekey").write_text(keyfile.read_text() + new_file.read_text())
    old_text = [b for b in keyfile.read_text().split("\n\n") if str(keys["staging"]) in b]
    kube_api.put_secret(NS, "sops-age", {"age.agekey": "".join(old_text) + "\n"})
    kube_api.put_kustomization(NS, "apps")
    kube_api.set_kustomization_status(NS, "apps", ready=True, revision=f"main@sha1:{begin}")
    state = snapshot(repo)
    refused = run("key", "rotate", "--finish", "--cluster", "staging", "--apply", expect=1)
    assert "context test: flux-system/sops-age) does not hold the new key" in refused.err
    assert not any(p in refused.out + refused.err for p in private)
    assert snapshot(repo) == state
    run("key", "export", "--cluster", "staging", "--apply")  # the overlap Secret, to "test"
    live = kube_api.get_secret_data(NS, "sops-age") or {}
    assert sorted(live) == ["new.agekey", "old.agekey"]
    done = run("key", "rotate", "--finish", "--cluster", "staging", "--apply")
    assert not any(p in done.out + done.err for p in private)
    assert sorted(kube_api.get_secret_data(NS, "sops-age") or {}) == ["age.agekey"]
    assert set(age_recipients(repo / "apps/base/shared.enc.yaml")) == {new, keys["production"]}
    kube_api.delete_kustomizations()
