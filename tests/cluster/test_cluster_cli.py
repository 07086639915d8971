"""``--from-cluster`` and ``key export --apply`` through the CLI, against the real API server."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

import pytest

from secretsmgr.keys.age import generate_identity, parse_identities
from tests.cli.runner import run_inline
from tests.cluster.conftest import KubeAPI
from tests.conftest import FIXTURES, GIT_ENV, copy_tree, git

pytestmark = pytest.mark.kube

DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"
DEMO_PUBLIC = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
SECRET = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


def run(
    kube: KubeAPI,
    repo: Path,
    *args: str,
    expect: int,
    key_file: Path | None = None,
    warnings: tuple[str, ...] = (),
) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(repo.parent / "home"),
        "KUBECONFIG": str(kube.kubeconfig),
        **GIT_ENV,
    }
    if key_file is not None:
        env["SOPS_AGE_KEY_FILE"] = str(key_file)
    # key export names each private key it sends (to stdout or to the cluster) in a warning
    if args[:2] == ("key", "export"):
        warnings = ("exported the private key of", *warnings)
    done = run_inline(["--repo", str(repo), *args], env=env, expect=expect, warnings=list(warnings))
    result = subprocess.CompletedProcess(args, done.code, done.out, done.err)
    text = result.stdout + result.stderr
    assert "Traceback" not in text
    assert SECRET.search(text) is None or args[:2] == ("key", "export")
    assert kube.token not in text
    return result


@pytest.fixture
def repo(tmp_path: Path, kube_api: KubeAPI) -> Path:
    kube_api.create_namespace("flux-system")
    kube_api.delete_secret("flux-system", "sops-age")
    return copy_tree(FIXTURES / "demo", tmp_path / "demo")


def rules(result: subprocess.CompletedProcess[str]) -> set[tuple[str, str]]:
    return {(f["rule"], f["path"]) for f in json.loads(result.stdout)["findings"]}


def test_audit_reports_drift_and_is_clean_once_the_key_is_applied(
    repo: Path, kube_api: KubeAPI
) -> None:
    stranger = generate_identity()[0]
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": stranger + "\n"})
    drift = run(kube_api, repo, "audit", "--from-cluster", "--format", "json", expect=1)
    found = rules(drift)
    assert ("SM016", ".secretsmgr.yaml") in found
    (sm016,) = [f for f in json.loads(drift.stdout)["findings"] if f["rule"] == "SM016"]
    assert sm016["severity"] == "error"
    assert "context test: flux-system/sops-age" in sm016["message"]
    # the live keys are the cluster key too: every file misses it (SM004)
    assert {r for r, _ in found} == {"SM016", "SM004", "SM005"}

    applied = run(kube_api, repo, "key", "export", "--apply", expect=0, key_file=DEMO_KEY)
    assert applied.stdout.startswith("replaced secret flux-system/sops-age")
    assert SECRET.search(applied.stdout + applied.stderr) is None
    data = kube_api.get_secret_data("flux-system", "sops-age")
    assert data is not None and list(data) == ["age.agekey"]
    assert SECRET.search(data["age.agekey"]).group(0) == SECRET.search(DEMO_KEY.read_text()).group(
        0
    )  # type: ignore[union-attr]
    clean = run(kube_api, repo, "audit", "--from-cluster", "--format", "json", expect=0)
    assert rules(clean) == set()
    summary = json.loads(clean.stdout)["summary"]
    assert summary["errors"] == 0


def test_check_and_key_show_read_the_cluster(repo: Path, kube_api: KubeAPI) -> None:
    kube_api.put_secret(
        "flux-system", "sops-age", {"age.agekey": DEMO_KEY.read_text(), "other": "x"}
    )
    run(kube_api, repo, "check", "--from-cluster", expect=0)
    shown = run(kube_api, repo, "key", "show", "--from-cluster", expect=0)
    assert f"{DEMO_PUBLIC}  cluster (context test: flux-system/sops-age, entry age.agekey)" in (
        shown.stdout
    )


def test_manifest_on_stdout_is_what_kubectl_applies(repo: Path, kube_api: KubeAPI) -> None:
    printed = run(kube_api, repo, "key", "export", expect=0, key_file=DEMO_KEY)
    assert "holds a private key" in printed.stderr
    done = kube_api.kubectl("apply", "-f", "-", stdin=printed.stdout)
    assert done.returncode == 0, done.stderr
    data = kube_api.get_secret_data("flux-system", "sops-age")
    assert data is not None
    assert DEMO_PUBLIC in data["age.agekey"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--context", "nobody"), "forbidden"),
        (("--context", "down"), "cannot reach the Kubernetes API"),
        (("--context", "no-such-context"), "no-such-context"),
        (("--secret", "missing"), "not found"),
        (("--namespace", "nowhere"), "not found"),
    ],
)
def test_cluster_errors_are_one_line_with_exit_2(
    repo: Path, kube_api: KubeAPI, args: tuple[str, ...], message: str
) -> None:
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": DEMO_KEY.read_text()})
    started = time.monotonic()
    result = run(kube_api, repo, "audit", "--from-cluster", *args, expect=2)
    assert time.monotonic() - started < 30
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("secretsmgr: error: ")
    assert message in lines[0].lower() or message in lines[0], lines[0]
    assert all(line.startswith("secretsmgr: hint: ") for line in lines[1:])


def test_key_rotate_checks_it_can_send_the_secret_before_changing_anything(
    repo: Path, kube_api: KubeAPI, tmp_path: Path
) -> None:
    from tests.conftest import git
    from tests.rotate.helpers import snapshot

    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "demo")
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": DEMO_KEY.read_text()})
    before = snapshot(repo)
    out = tmp_path / "new.agekey"
    args = ("key", "rotate", "--begin", "--apply", "-o", str(out))
    refused = run(kube_api, repo, *args, "--context", "nobody", expect=2, key_file=DEMO_KEY)
    assert "forbidden" in refused.stderr.splitlines()[0].lower()
    assert snapshot(repo) == before and not out.exists()
    # the same with a context that may: the overlap Secret lands in the cluster
    done = run(kube_api, repo, *args, "--context", "test", expect=0, key_file=DEMO_KEY)
    assert "replaced secret flux-system/sops-age in context test (old.agekey, new.agekey)" in (
        done.stdout
    )
    data = kube_api.get_secret_data("flux-system", "sops-age")
    assert data is not None and sorted(data) == ["new.agekey", "old.agekey"]


def test_finish_refuses_while_the_cluster_lacks_the_new_key(
    repo: Path, kube_api: KubeAPI, tmp_path: Path
) -> None:
    from tests.conftest import git
    from tests.rotate.helpers import snapshot

    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "demo")
    kube_api.put_secret("flux-system", "sops-age", {"age.agekey": DEMO_KEY.read_text()})
    new_file = tmp_path / "new.agekey"
    args = ("key", "rotate", "--begin", "-o", str(new_file), "--commit")
    run_inline(
        ["--repo", str(repo), *args],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path / "home"),
            "SOPS_AGE_KEY_FILE": str(DEMO_KEY),
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.invalid",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.invalid",
        },
        expect=0,  # printed, never applied
        warnings=["holds a private key"],
    )
    drift = run(kube_api, repo, "audit", "--from-cluster", "--format", "json", expect=1)
    (sm016,) = [f for f in json.loads(drift.stdout)["findings"] if f["rule"] == "SM016"]
    assert "pending new cluster key" in sm016["message"]
    both = tmp_path / "both.txt"
    both.write_text(DEMO_KEY.read_text() + new_file.read_text(), encoding="utf-8")
    before = snapshot(repo)
    refused = run(
        kube_api, repo, "key", "rotate", "--finish", "--from-cluster", expect=1, key_file=both
    )
    assert "the cluster (context test: flux-system/sops-age) does not hold the new key" in (
        refused.stderr
    )
    assert "key rotate --begin --apply" in refused.stderr
    if "kustomize.toolkit.fluxcd.io" not in kube_api.kubectl("api-versions").stdout:
        # no Flux in this cluster (the CRD of test_finish_gate.py is not installed yet)
        assert "context test serves no Flux Kustomization API" in refused.stderr
    assert snapshot(repo) == before


def test_export_add_keeps_the_pgp_key_beside_the_age_key(repo: Path, kube_api: KubeAPI) -> None:
    # sweep 18: init's step for a PGP repository's sops-gpg Secret; --apply alone replaces the
    # Secret whole (the PGP key Flux needs for the other files went), and --add without
    # --apply has nothing to keep entries in
    armored = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n(test)\n-----END PGP PRIVATE KEY BLOCK-----\n"
    kube_api.delete_secret("flux-system", "sops-gpg")
    kube_api.put_secret("flux-system", "sops-gpg", {"sops.asc": armored})
    refused = run(kube_api, repo, "key", "export", "--name", "sops-gpg", "--add", expect=2)
    assert "--add needs --apply" in refused.stderr
    added = run(
        kube_api,
        repo,
        "key",
        "export",
        "--name",
        "sops-gpg",
        "--apply",
        "--add",
        expect=0,
        key_file=DEMO_KEY,
    )
    assert added.stdout.startswith("updated secret flux-system/sops-gpg")
    data = kube_api.get_secret_data("flux-system", "sops-gpg")
    assert data is not None and sorted(data) == ["age.agekey", "sops.asc"]
    assert data["sops.asc"] == armored


def test_a_key_rotation_never_drops_the_pgp_key_of_a_pgp_named_secret(
    repo: Path, kube_api: KubeAPI, tmp_path: Path
) -> None:
    # sweep 22, FrederikS/homelab and ShadyF/k8s-homelab: the layers decrypt with sops-gpg,
    # which holds sops.asc. --apply adds the keys beside it; finish takes begin's old.agekey
    # (the retired key) and new.agekey out, and so does key export --apply --add once the
    # rotation is over (after a begin sent with it, old.agekey stayed for ever)
    armored = "-----BEGIN PGP PRIVATE KEY BLOCK-----\n(test)\n-----END PGP PRIVATE KEY BLOCK-----\n"
    for layer in ("infrastructure.yaml", "databases-kustomization.yaml", "apps-kustomization.yaml"):
        path = repo / "clusters" / "homelab" / layer
        path.write_text(path.read_text().replace("name: sops-age", "name: sops-gpg"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "demo decrypting with sops-gpg")
    kube_api.delete_secret("flux-system", "sops-gpg")
    kube_api.put_secret("flux-system", "sops-gpg", {"sops.asc": armored})

    def entries() -> dict[str, str]:
        data = kube_api.get_secret_data("flux-system", "sops-gpg")
        assert data is not None and data["sops.asc"] == armored
        return {k: parse_identities(v, k).publics[0] for k, v in data.items() if k != "sops.asc"}

    new_file = tmp_path / "new.agekey"
    args = ("key", "rotate", "--begin", "--apply", "-o", str(new_file), "--commit")
    begun = run(kube_api, repo, *args, expect=0, key_file=DEMO_KEY)
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert "updated secret flux-system/sops-gpg" in begun.stdout, begun.stdout
    assert entries() == {"old.agekey": DEMO_PUBLIC, "new.agekey": new}
    # while the rotation is under way, export --add of one key takes none of them out (the
    # review: --cluster-key OLD --apply --add dropped new.agekey in the middle of the overlap)
    export_old = ("key", "export", "--name", "sops-gpg", "--apply", "--add", "--cluster-key")
    run(kube_api, repo, *export_old, DEMO_PUBLIC, expect=0, key_file=DEMO_KEY)
    assert entries() == {"old.agekey": DEMO_PUBLIC, "new.agekey": new, "age.agekey": DEMO_PUBLIC}
    kube_api.put_secret(
        "flux-system",
        "sops-gpg",
        {
            "sops.asc": armored,
            "old.agekey": DEMO_KEY.read_text(),
            "new.agekey": new_file.read_text(),
        },
    )
    both = tmp_path / "both.agekey"
    both.write_text(DEMO_KEY.read_text() + new_file.read_text(), encoding="utf-8")
    args = ("key", "rotate", "--finish", "--apply", "--skip-cluster-check", "--commit")
    skip = ("--skip-cluster-check",)
    finished = run(kube_api, repo, *args, expect=0, key_file=both, warnings=skip)
    assert "but not new.agekey and old.agekey" in finished.stdout, finished.stdout
    assert entries() == {"age.agekey": new}
    # the route the steps print without --apply: key export --apply --add, after the finish
    overlap = {"old.agekey": DEMO_KEY.read_text(), "new.agekey": new_file.read_text()}
    kube_api.put_secret("flux-system", "sops-gpg", {"sops.asc": armored, **overlap})
    export = ("key", "export", "--name", "sops-gpg", "--apply", "--add")
    sent = run(kube_api, repo, *export, expect=0, key_file=new_file)
    assert "but not new.agekey and old.agekey" in sent.stdout, sent.stdout
    assert entries() == {"age.agekey": new}


def test_a_key_never_replaces_the_git_credentials_in_the_secret_the_layers_decrypt_with(
    repo: Path, kube_api: KubeAPI, tmp_path: Path
) -> None:
    # sweep 93, shangkuei/fluxcd: its layers decrypt with `flux-system`, the Secret the
    # GitRepository reads its deploy key from; init's step said `key export --apply` (which
    # replaces the Secret whole: Flux could no longer fetch), and key rotate --apply replaced it
    for layer in ("infrastructure.yaml", "databases-kustomization.yaml", "apps-kustomization.yaml"):
        path = repo / "clusters" / "homelab" / layer
        path.write_text(path.read_text().replace("name: sops-age", "name: flux-system"))
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "demo decrypting with the Git credentials' Secret")
    deploy = {"identity": "(test deploy key)\n", "known_hosts": "github.com ssh-ed25519 AAAA\n"}
    kube_api.delete_secret("flux-system", "flux-system")
    kube_api.put_secret("flux-system", "flux-system", deploy)

    def entries() -> dict[str, str]:
        data = kube_api.get_secret_data("flux-system", "flux-system")
        assert data is not None
        assert {k: data[k] for k in deploy} == deploy  # the credentials stay, always
        return {k: parse_identities(v, k).publics[0] for k, v in data.items() if k not in deploy}

    export = ("key", "export", "--name", "flux-system", "--apply")
    refused = run(kube_api, repo, *export, expect=2, key_file=DEMO_KEY)
    assert (
        "flux-system/flux-system holds the credentials GitRepository flux-system reads: --apply "
        "alone would replace the Secret" in refused.stderr
    ), refused.stderr
    assert "--apply --add" in refused.stderr
    assert entries() == {}
    run(kube_api, repo, *export, "--add", expect=0, key_file=DEMO_KEY)
    assert entries() == {"age.agekey": DEMO_PUBLIC}

    new_file = tmp_path / "new.agekey"
    args = ("key", "rotate", "--begin", "--apply", "-o", str(new_file), "--commit")
    begun = run(kube_api, repo, *args, expect=0, key_file=DEMO_KEY)
    new = parse_identities(new_file.read_text(), "new").publics[0]
    assert "updated secret flux-system/flux-system" in begun.stdout, begun.stdout
    assert entries() == {"age.agekey": DEMO_PUBLIC, "old.agekey": DEMO_PUBLIC, "new.agekey": new}
    both = tmp_path / "both.agekey"
    both.write_text(DEMO_KEY.read_text() + new_file.read_text(), encoding="utf-8")
    args = ("key", "rotate", "--finish", "--apply", "--skip-cluster-check", "--commit")
    skip = ("--skip-cluster-check",)
    run(kube_api, repo, *args, expect=0, key_file=both, warnings=skip)
    assert entries() == {"age.agekey": new}
