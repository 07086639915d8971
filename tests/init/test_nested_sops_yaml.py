"""``init`` where a `.sops.yaml` in a folder below the root governs the layers' files (sweep 22,
tinoha/homelab and red-lichtie/homelab-cluster: ``kubernetes/.sops.yaml`` and no root one).

A file follows the nearest `.sops.yaml` in its folder or above: init never writes root rules
for files a nested one governs, and the encrypt step it prints works as printed."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from secretsmgr.repo.sopsconfig import load_sops_config, match_rule
from secretsmgr.sops import FileFormat, load
from tests.audit.helpers import enc
from tests.cli import runner
from tests.conftest import GIT_ENV, run_sops
from tests.init.helpers import (
    SECRET,
    bootstrap,
    commit,
    configmap,
    kustomization,
    layer,
    write,
)

CLUSTER = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
PRIVATE = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def run(repo: Path, capsys: pytest.CaptureFixture[str], *args: str) -> runner.Result:
    return runner.run(["--repo", str(repo), *args], capsys, secrets=[PRIVATE])


def steps(out: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in out.splitlines() if re.match(r"  \d+\. ", line)]


def nested_repo(root: Path, rule: str, secret: str, flux: str = "kubernetes/clusters") -> Path:
    """Cluster ``prod`` bootstrapped in ``flux``, a layer over ``kubernetes/apps`` applying
    the SOPS file ``secret`` (below it), and ``kubernetes/.sops.yaml`` with one ``rule``."""
    bootstrap(root, "prod", under=flux)
    layer(root, "prod", "apps", "kubernetes/apps", under=flux)
    kustomization(root, "kubernetes/apps", "podinfo.yaml", secret)
    configmap(root, "kubernetes/apps/podinfo.yaml", "podinfo")
    write(root, f"kubernetes/apps/{secret}", enc(SECRET.format(name="db", value="v4l"), (CLUSTER,)))
    write(
        root,
        "kubernetes/.sops.yaml",
        f"creation_rules:\n  - path_regex: {rule}\n"
        f"    encrypted_regex: '^(data|stringData)$'\n    age: {CLUSTER}\n",
    )
    return commit(root)


def encrypt_new(repo: Path, capsys: pytest.CaptureFixture[str], path: str) -> tuple[str, ...]:
    """Write a plaintext Secret at ``path`` and encrypt it in place: its age recipients."""
    write(repo, path, SECRET.format(name="new", value="n3w-Value-1"))
    code, _, err = run(repo, capsys, "encrypt", "-i", str(repo / path))
    assert (code, err) == (0, ""), err
    return load((repo / path).read_text(), FileFormat.YAML).metadata.age_recipients


def rules_of(repo: Path, capsys: pytest.CaptureFixture[str]) -> set[str]:
    code, out, _ = run(repo, capsys, "audit", "--format", "json")
    assert code in (0, 1)
    return {f["rule"] for f in json.loads(out)["findings"]}


def test_a_nested_sops_yaml_governing_every_layer_is_kept_and_no_root_one_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 22, tinoha/homelab: kubernetes/.sops.yaml (".*/secrets/.*.ya?ml$") governs every
    # file the layers apply; init created a root .sops.yaml of rules for folders below
    # kubernetes/, which nothing reads there, and its step's encrypt was refused
    repo = nested_repo(tmp_path / "repo", ".*/secrets/.*.ya?ml$", "secrets/db.yaml")
    nested = (repo / "kubernetes/.sops.yaml").read_text()
    code, out, err = run(repo, capsys, "init", "--cluster-key", CLUSTER)
    assert (code, err) == (0, ""), err
    assert not (repo / ".sops.yaml").exists(), out
    assert (repo / "kubernetes/.sops.yaml").read_text() == nested
    assert re.search(r"kept +kubernetes/\.sops\.yaml", out), out
    assert re.search(r"not written +\.sops\.yaml", out), out
    # no step to encrypt PATH/secret.enc.yaml in a layer's folder, which no rule matches
    assert not any("PATH/" in s for s in steps(out)), out
    (step,) = [s for s in steps(out) if "secretsmgr encrypt -i" in s]
    assert "kubernetes/.sops.yaml" in step, step
    match = re.search(r"secretsmgr encrypt -i (\S+)", step)
    assert match is not None
    # the path the step names is one the kept rule takes, and encrypts to the cluster key
    assert encrypt_new(repo, capsys, match.group(1)) == (CLUSTER,)
    assert "SM011" not in rules_of(repo, capsys)

    # --force never rewrites the nested file (its rules may serve files init does not know:
    # the review), and still writes no root
    before = (repo / "kubernetes/.sops.yaml").read_bytes()
    commit(repo, "a new secret")
    code, out, err = run(repo, capsys, "init", "--cluster-key", CLUSTER, "--force")
    assert (code, err) == (0, ""), err
    assert not (repo / ".sops.yaml").exists(), out
    assert (repo / "kubernetes/.sops.yaml").read_bytes() == before
    assert re.search(r"kept +kubernetes/\.sops\.yaml +exists; .*init never rewrites it", out), out
    # the real sops, run from that file's folder, reads the same rule secretsmgr does
    write(repo, "kubernetes/apps/x/secrets/other.yaml", SECRET.format(name="o", value="0ther-V4l"))
    done = run_sops(["encrypt", "-i", "apps/x/secrets/other.yaml"], cwd=repo / "kubernetes")
    assert done.returncode == 0, done.stderr
    metadata = load((repo / "kubernetes/apps/x/secrets/other.yaml").read_text(), FileFormat.YAML)
    assert CLUSTER in metadata.metadata.age_recipients


def test_a_root_sops_yaml_covers_only_the_folders_no_nested_one_governs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the cluster's own folder at the root, its apps below kubernetes/.sops.yaml: the root
    # file init writes is for clusters/ alone
    repo = nested_repo(tmp_path / "repo", r"\.enc\.yaml$", "db.enc.yaml", flux="clusters")
    code, out, err = run(repo, capsys, "init", "--cluster-key", CLUSTER)
    assert (code, err) == (0, ""), err
    (row,) = [line for line in out.splitlines() if re.match(r"  create +\.sops\.yaml ", line)]
    assert "clusters/" in row and "kubernetes" not in row, row
    root = load_sops_config(repo / ".sops.yaml")
    assert match_rule(root, repo / "clusters/prod/new.enc.yaml") is not None
    assert match_rule(root, repo / "kubernetes/apps/new.enc.yaml") is None
    assert re.search(r"kept +kubernetes/\.sops\.yaml", out), out
    assert "secretsmgr encrypt -i PATH/secret.enc.yaml" in out, out
    assert not any("no creation rule" in s for s in steps(out)), out
    for path in ("clusters/prod/new.enc.yaml", "kubernetes/apps/new.enc.yaml"):
        assert encrypt_new(repo, capsys, path) == (CLUSTER,)


def test_a_kept_nested_sops_yaml_for_the_names_its_files_have_is_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 95 (Vylkatis/home-ops, *.secret.yaml): a new secret named as the SOPS files there
    # are matches the repository's own rule; no rule to add, and the step's encrypt works
    repo = nested_repo(tmp_path / "repo", r".*\.prod\.ya?ml$", "db.prod.yaml")
    code, out, err = run(repo, capsys, "init", "--cluster-key", CLUSTER)
    assert (code, err) == (0, ""), err
    (step,) = [s for s in steps(out) if "secretsmgr encrypt -i" in s]
    assert "secretsmgr encrypt -i PATH/app.prod.yaml" in step and "path_regex" not in step, step
    assert encrypt_new(repo, capsys, "kubernetes/apps/app.prod.yaml") == (CLUSTER,)


def test_a_kept_nested_sops_yaml_matching_no_new_secret_gets_a_rule_to_add(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 22, red-lichtie/homelab-cluster: kubernetes/.sops.yaml matches its one file
    # only; the step names the rule to add there, and after it the step's encrypt works (a
    # rule for *.prod.yaml, the name its files have, is followed: sweep 95, below)
    repo = nested_repo(tmp_path / "repo", r".*/db\.prod\.ya?ml$", "db.prod.yaml")
    code, out, err = run(repo, capsys, "init", "--cluster-key", CLUSTER)
    assert (code, err) == (0, ""), err
    assert not (repo / ".sops.yaml").exists(), out
    (step,) = [s for s in steps(out) if "secretsmgr encrypt -i" in s]
    found = re.search(r"path_regex: '([^']+)' with age: (\S+) .*secretsmgr encrypt -i (\S+)$", step)
    assert found is not None, step
    regex, keys, path = found.groups()
    assert keys == CLUSTER
    with (repo / "kubernetes/.sops.yaml").open("a", encoding="utf-8") as config:
        config.write(f"  - path_regex: '{regex}'\n    age: {keys}\n")
    assert encrypt_new(repo, capsys, path) == (CLUSTER,)
